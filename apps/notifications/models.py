"""Telling people: a team's Slack connection, its people's Slack users, what it
wants to be told (nudges, the digest), every Slack message kept until it is sent,
and outbound webhooks with their delivery log (docs/slack.md)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models

from apps.metrics.models import MergeQuestion, PullRequest, PullRequestEvent, Squad


class SlackConnection(models.Model):
    """A team's Slack workspace, connected by "Add to Slack" (OAuth v2). The bot
    token is stored encrypted; a token Slack revoked leaves the connection
    broken, with Slack's reason, until an admin connects again. A scope the
    token lacks breaks nothing: it is kept (``missing_scope``) for the Slack
    page until a new install grants it."""

    class Status(models.TextChoices):
        CONNECTED = "connected", "Connected"
        BROKEN = "broken", "Broken"

    team = models.OneToOneField(
        "teams.Team", on_delete=models.CASCADE, related_name="slack_connection"
    )
    slack_team_id = models.CharField(max_length=32)
    slack_team_name = models.CharField(max_length=200, blank=True)
    bot_user_id = models.CharField(max_length=32, blank=True)
    bot_token_encrypted = models.TextField()
    scopes = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CONNECTED)
    broken_reason = models.CharField(max_length=200, blank=True)
    broken_at = models.DateTimeField(null=True, blank=True)
    # The scope Slack last said a call needed and the token lacks (its
    # missing_scope answer's ``needed``), and when; empty once granted.
    missing_scope = models.CharField(max_length=100, blank=True)
    missing_scope_at = models.DateTimeField(null=True, blank=True)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    connected_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.team} → Slack {self.slack_team_name or self.slack_team_id}"

    @property
    def is_connected(self) -> bool:
        return self.status == self.Status.CONNECTED


class SlackPerson(models.Model):
    """A team member's Slack user: matched by their account's email
    (users.lookupByEmail) or linked by hand by an admin."""

    class Matched(models.TextChoices):
        EMAIL = "email", "By email"
        HAND = "hand", "By hand"

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="slack_people")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="slack_people"
    )
    slack_user_id = models.CharField(max_length=32)
    # Slack's own time zone of the person (users.* "tz"), for their working hours.
    time_zone = models.CharField(max_length=64, blank=True)
    matched_by = models.CharField(max_length=10, choices=Matched.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="one_slack_user_per_person"),
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.slack_user_id}"


WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


class NotificationSettings(models.Model):
    """What a team is told, where and when. Working hours and the first-review
    target live here until the team calendar of "Working hours, targets and
    squads" takes them over (apps/notifications/services/calendar.py)."""

    team = models.OneToOneField(
        "teams.Team", on_delete=models.CASCADE, related_name="notification_settings"
    )
    # Slack channel id (C…) nudges are posted to; empty: no channel nudges.
    nudge_channel = models.CharField(max_length=32, blank=True)
    nudge_waiting_on = models.BooleanField(default=True)
    nudge_merged_unreviewed_on = models.BooleanField(default=True)
    nudge_large_on = models.BooleanField(default=True)
    # A pull request waiting past the target is also told, in a direct message
    # in their working hours, to each requested reviewer with a Slack user.
    nudge_waiting_direct_on = models.BooleanField(default=True)
    # A pull request of more changed lines (additions + deletions) is large.
    large_pr_lines = models.PositiveIntegerField(default=500)
    # Working hours a ready pull request may wait for its first review.
    first_review_target_hours = models.PositiveSmallIntegerField(default=4)
    digest_on = models.BooleanField(default=False)
    digest_channel = models.CharField(max_length=32, blank=True)
    # Monday is 0, as Python's weekday().
    digest_weekday = models.PositiveSmallIntegerField(default=0, choices=WEEKDAYS)
    digest_time = models.TimeField(default=dt.time(9, 0))

    def __str__(self) -> str:
        return f"notification settings of {self.team}"


class SquadNotificationSettings(models.Model):
    """What a squad is told, where and when: its own nudge channel and kinds,
    whether its requested reviewers are told directly, its own weekly digest at
    its own time in its own time zone (the team's when blank). A squad's pull
    requests are those the figures' ``squad=`` counts
    (`apps.metrics.scope.SquadRule`); the size threshold and the first-review
    target stay the team's."""

    squad = models.OneToOneField(
        Squad, on_delete=models.CASCADE, related_name="notification_settings"
    )
    # Empty: the squad's nudges go to the team's channel (docs/slack.md).
    nudge_channel = models.CharField(max_length=32, blank=True)
    nudge_waiting_on = models.BooleanField(default=True)
    nudge_merged_unreviewed_on = models.BooleanField(default=True)
    nudge_large_on = models.BooleanField(default=True)
    # Whether the requested reviewers of the squad's pull requests waiting past
    # the target are told directly; None: as the team's switch says.
    nudge_waiting_direct = models.BooleanField(null=True, blank=True, default=None)
    digest_on = models.BooleanField(default=False)
    digest_channel = models.CharField(max_length=32, blank=True)
    digest_weekday = models.PositiveSmallIntegerField(default=0, choices=WEEKDAYS)
    digest_time = models.TimeField(default=dt.time(9, 0))
    # An IANA time zone name; blank: the team's.
    time_zone = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"notification settings of squad {self.squad}"


class SlackMessage(models.Model):
    """One message to Slack, kept from the moment its cause is known until it is
    sent: unique by its key (the kind and what caused it), so a redelivered
    event, a recovered delivery or a second worker never sends it twice. Held
    until ``not_before`` (quiet hours, a rate limit); one that failed keeps the
    reason and is retried."""

    class Kind(models.TextChoices):
        MERGE_QUESTION = "merge_question", "Merge question"
        WAITING = "waiting", "Waiting for a first review"
        MERGED_UNREVIEWED = "merged_unreviewed", "Merged without review"
        LARGE = "large", "Large pull request"
        DIGEST = "digest", "Weekly digest"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="slack_messages")
    key = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # A channel id (C…), or a Slack user id (U…) for a direct message.
    channel = models.CharField(max_length=32)
    is_direct = models.BooleanField(default=False)
    text = models.TextField()
    blocks = models.JSONField(default=list, blank=True)
    pull_request = models.ForeignKey(
        PullRequest, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    question = models.ForeignKey(
        MergeQuestion, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    not_before = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    # When a worker took it to send (status "sending"): one that stays so much
    # longer than a send can take was left by a worker that died mid-send.
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    # Where Slack put it (a DM's channel id) and its timestamp id, to update it.
    slack_channel = models.CharField(max_length=32, blank=True)
    slack_ts = models.CharField(max_length=32, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["team", "key"], name="one_slack_message_per_cause"),
        ]
        indexes = [models.Index(fields=["status", "not_before"], name="slack_message_due")]

    def __str__(self) -> str:
        return self.key


class WebhookEndpoint(models.Model):
    """A URL a team's other tool listens at, and the lifecycle kinds it takes.
    Each delivery is signed (Standard Webhooks) with the endpoint's secret."""

    team = models.ForeignKey(
        "teams.Team", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=500)
    kinds = models.JSONField(default=list)
    # "whsec_" + base64 of 32 random bytes, encrypted at rest.
    secret_encrypted = models.TextField()
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.url


class OutboundDelivery(models.Model):
    """One lifecycle event POSTed to one endpoint: unique per (endpoint, event),
    so a redelivered event or a second worker never sends it twice. The body
    is kept, so a retry or a redelivery sends the same bytes under the same id."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(
        PullRequestEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The Standard Webhooks message id ("msg_…"), the same on every attempt.
    message_id = models.CharField(max_length=64, unique=True)
    event_type = models.CharField(max_length=40)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event"], name="one_outbound_delivery_per_event"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} → {self.endpoint}"
