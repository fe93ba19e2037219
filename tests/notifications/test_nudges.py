"""Nudges to the team's Slack channel, each sent once and never for history:
merged without review (on the live `merged` event), a large pull request (on
the live `opened` event), and a pull request waiting for its first review past
the team's target in working hours (the beat tick). GitHub's deliveries go
through the real endpoint, signed; Slack is the fake on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from apps.notifications import tasks
from apps.notifications.models import NotificationSettings, SlackConnection, SlackMessage
from github_app.webhook_payloads import pull_request_payload, review_payload
from tests.integrations.conftest import deliver, installation_for, repository_for  # noqa: F401
from tests.payloads.merges import merge_event as merged

pytestmark = pytest.mark.django_db

CHANNEL = "C0NUDGE"


@pytest.fixture
def repository(team):
    installation = installation_for(team=team, installation_id=42, login="acme")
    repository = repository_for(
        installation=installation, github_id=186853002, full_name="acme/api"
    )
    repository.tracked_at = datetime(2024, 12, 1, tzinfo=UTC)
    repository.save(update_fields=["tracked_at"])
    return repository


@pytest.fixture
def nudging(team, connected, repository, clock) -> NotificationSettings:
    """Slack connected, nudges to #C0NUDGE, the defaults otherwise."""
    return NotificationSettings.objects.create(team=team, nudge_channel=CHANNEL)


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def opened(number: int = 7, *, at: str, **fields: Any) -> dict[str, Any]:
    return pull_request_payload(
        "opened",
        pr_id=700 + number,
        number=number,
        state="open",
        created_at=at,
        updated_at=at,
        **fields,
    )


def posted(slack) -> list[str]:
    return [
        c.params["text"] for c in slack.to("chat.postMessage") if c.params["channel"] == CHANNEL
    ]


# --- merged without review -----------------------------------------------------------


def test_a_merge_without_review_is_posted_once(nudging, deliver, slack):  # noqa: F811
    deliver("pull_request", merged(), delivery_id="merge-1")
    deliver("pull_request", merged(), delivery_id="merge-1")
    deliver("pull_request", merged(), delivery_id="merge-2")

    (text,) = posted(slack)
    assert "acme/api#7" in text and "merged without any review" in text and "Codertocat" in text
    message = SlackMessage.objects.get(kind="merged_unreviewed")
    assert message.status == "sent" and message.channel == CHANNEL


def test_a_reviewed_merge_is_not_nudged(nudging, deliver, slack):  # noqa: F811
    deliver("pull_request", opened(at="2025-01-07T10:00:00Z"))
    deliver(
        "pull_request_review",
        review_payload(
            submitted_at="2025-01-07T11:00:00Z",
            pr_id=707,
            number=7,
            state="open",
            created_at="2025-01-07T10:00:00Z",
            updated_at="2025-01-07T11:00:00Z",
        ),
    )
    deliver("pull_request", merged())
    assert not SlackMessage.objects.filter(kind="merged_unreviewed").exists()


def test_history_is_never_nudged(nudging, deliver, slack):  # noqa: F811
    deliver("pull_request", merged(at="2024-11-20T10:00:00Z"))  # before it was tracked
    assert not SlackMessage.objects.exists() and not slack.calls


def test_nothing_when_the_kind_is_off_no_channel_is_set_or_slack_is_broken(
    nudging,
    deliver,  # noqa: F811
    slack,
    connected,
):
    NotificationSettings.objects.filter(pk=nudging.pk).update(nudge_merged_unreviewed_on=False)
    deliver("pull_request", merged(7))
    NotificationSettings.objects.filter(pk=nudging.pk).update(
        nudge_merged_unreviewed_on=True, nudge_channel=""
    )
    deliver("pull_request", merged(8))
    NotificationSettings.objects.filter(pk=nudging.pk).update(nudge_channel=CHANNEL)
    SlackConnection.objects.filter(pk=connected.pk).update(status="broken")
    deliver("pull_request", merged(9))
    assert not SlackMessage.objects.exists()


# --- large pull requests -------------------------------------------------------------


def test_a_large_pull_request_is_posted_when_opened(nudging, deliver, slack):  # noqa: F811
    deliver("pull_request", opened(at="2025-01-08T11:00:00Z", additions=400, deletions=200))
    deliver("pull_request", opened(at="2025-01-08T11:00:00Z", additions=400, deletions=200))
    (text,) = posted(slack)
    assert "600 changed lines" in text and "threshold is 500" in text


@pytest.mark.parametrize(
    "fields", [{"additions": 400, "deletions": 100}, {"additions": 900, "draft": True}]
)
def test_a_small_or_draft_pull_request_is_not(nudging, deliver, slack, fields):  # noqa: F811
    deliver("pull_request", opened(at="2025-01-08T11:00:00Z", **fields))
    assert not SlackMessage.objects.filter(kind="large").exists()


def test_the_threshold_is_the_teams(nudging, deliver, slack):  # noqa: F811
    NotificationSettings.objects.filter(pk=nudging.pk).update(large_pr_lines=50)
    deliver("pull_request", opened(at="2025-01-08T11:00:00Z", additions=40, deletions=20))
    assert "60 changed lines" in posted(slack)[0]


# --- waiting for a first review ------------------------------------------------------


def test_a_pull_request_waiting_past_the_target_is_posted_once(
    nudging,
    deliver,  # noqa: F811
    slack,
    clock,
):
    # Opened Wednesday 09:00 UTC; the target is 4 working hours.
    deliver("pull_request", opened(at="2025-01-08T09:00:00Z"))
    clock.now = datetime(2025, 1, 8, 12, 59, tzinfo=UTC)
    tasks.notifications_tick()
    assert not SlackMessage.objects.filter(kind="waiting").exists()

    clock.now = datetime(2025, 1, 8, 13, 0, tzinfo=UTC)
    tasks.notifications_tick()
    clock.advance(hours=1)
    tasks.notifications_tick()

    (text,) = [t for t in posted(slack) if "first review" in t]
    assert "acme/api#7" in text and "target (4 working hours)" in text


def test_the_wait_counts_working_hours_only(nudging, deliver, slack, clock):  # noqa: F811
    # Opened Friday 15:00: 2 hours on Friday, the weekend does not count.
    deliver("pull_request", opened(at="2025-01-10T15:00:00Z"))
    clock.now = datetime(2025, 1, 13, 10, 59, tzinfo=UTC)  # Monday: 3 h 59 min
    tasks.notifications_tick()
    assert not SlackMessage.objects.filter(kind="waiting").exists()
    clock.now = datetime(2025, 1, 13, 11, 0, tzinfo=UTC)
    tasks.notifications_tick()
    assert SlackMessage.objects.filter(kind="waiting", status="sent").count() == 1


def test_the_wait_is_counted_in_the_teams_time_zone(
    nudging,
    deliver,  # noqa: F811
    slack,
    clock,
    team,
):
    team.time_zone = "America/New_York"
    team.save()
    # 14:00 UTC is 09:00 in New York; 4 working hours later is 18:00 UTC.
    deliver("pull_request", opened(at="2025-01-08T14:00:00Z"))
    clock.now = datetime(2025, 1, 8, 17, 59, tzinfo=UTC)
    tasks.notifications_tick()
    assert not SlackMessage.objects.filter(kind="waiting").exists()
    clock.now = datetime(2025, 1, 8, 18, 0, tzinfo=UTC)
    tasks.notifications_tick()
    assert SlackMessage.objects.filter(kind="waiting").count() == 1


def test_a_wait_is_posted_only_in_the_teams_working_hours(
    nudging,
    deliver,  # noqa: F811
    slack,
    clock,
):
    deliver("pull_request", opened(at="2025-01-08T09:00:00Z"))
    clock.now = datetime(2025, 1, 8, 20, 0, tzinfo=UTC)  # after 17:00
    tasks.notifications_tick()
    assert not SlackMessage.objects.filter(kind="waiting").exists()
    clock.now = datetime(2025, 1, 9, 9, 0, tzinfo=UTC)
    tasks.notifications_tick()
    assert SlackMessage.objects.filter(kind="waiting").count() == 1


def test_reviewed_draft_history_or_off_pull_requests_are_not_nudged(
    nudging,
    deliver,  # noqa: F811
    slack,
    clock,
):
    deliver("pull_request", opened(7, at="2025-01-08T09:00:00Z", draft=True))
    deliver("pull_request", opened(8, at="2024-11-20T09:00:00Z"))  # opened before tracking
    deliver("pull_request", opened(9, at="2025-01-08T09:00:00Z"))
    deliver(
        "pull_request_review",
        review_payload(
            submitted_at="2025-01-08T10:00:00Z",
            pr_id=709,
            number=9,
            state="open",
            created_at="2025-01-08T09:00:00Z",
            updated_at="2025-01-08T10:00:00Z",
        ),
    )
    clock.now = datetime(2025, 1, 9, 16, 0, tzinfo=UTC)
    tasks.notifications_tick()
    assert not SlackMessage.objects.filter(kind="waiting").exists()

    deliver("pull_request", opened(10, at="2025-01-08T09:00:00Z"))
    NotificationSettings.objects.filter(pk=nudging.pk).update(nudge_waiting_on=False)
    tasks.notifications_tick()
    assert not SlackMessage.objects.filter(kind="waiting").exists()


def test_the_target_is_the_teams(nudging, deliver, slack, clock):  # noqa: F811
    NotificationSettings.objects.filter(pk=nudging.pk).update(first_review_target_hours=1)
    deliver("pull_request", opened(at="2025-01-08T11:00:00Z"))
    tasks.notifications_tick()  # noon: one working hour
    assert SlackMessage.objects.filter(kind="waiting").count() == 1


# --- the settings --------------------------------------------------------------------

GOOD = {
    "nudge_channel": "C0NUDGE",
    "nudge_waiting_on": "on",
    "nudge_large_on": "on",
    "large_pr_lines": "800",
    "first_review_target_hours": "6",
    "digest_on": "on",
    "digest_channel": "C0DIGEST",
    "digest_weekday": "4",
    "digest_time": "16:30",
}


def test_an_admin_saves_the_teams_settings(client, owner, team):
    client.force_login(owner)
    response = client.post("/teams/acme/slack/settings/", GOOD)
    assert response.status_code == 302
    saved = NotificationSettings.objects.get(team=team)
    assert (saved.nudge_channel, saved.large_pr_lines, saved.first_review_target_hours) == (
        "C0NUDGE",
        800,
        6,
    )
    assert not saved.nudge_merged_unreviewed_on and saved.nudge_large_on
    assert (saved.digest_weekday, saved.digest_time.isoformat()) == (4, "16:30:00")
    page = client.get("/teams/acme/slack/").content.decode()
    assert 'value="C0NUDGE"' in page


def test_members_read_the_settings_but_cannot_change_them(client, member, team):
    NotificationSettings.objects.create(team=team, nudge_channel="C0NUDGE")
    client.force_login(member)
    assert "C0NUDGE" in client.get("/teams/acme/slack/").content.decode()
    assert client.post("/teams/acme/slack/settings/", GOOD).status_code == 403


@pytest.mark.parametrize(
    "change",
    [
        {"first_review_target_hours": "\u0661\u0662"},
        {"first_review_target_hours": "0"},
        {"first_review_target_hours": "1_000"},
        {"large_pr_lines": "-5"},
        {"large_pr_lines": "9" * 30},
        {"nudge_channel": "#general"},
        {"nudge_channel": "C0\x00"},
        {"digest_channel": ""},
        {"digest_weekday": "7"},
        {"digest_time": "25:00"},
    ],
)
def test_it_refuses_settings_it_cannot_use(client, owner, team, change):
    client.force_login(owner)
    response = client.post("/teams/acme/slack/settings/", {**GOOD, **change})
    assert response.status_code == 400
    assert not NotificationSettings.objects.exists()


def test_a_title_cannot_mention_everyone_or_make_a_link(nudging, deliver, slack):  # noqa: F811
    deliver(
        "pull_request",
        opened(
            at="2025-01-08T11:00:00Z",
            additions=900,
            title="<!channel> look & <https://evil.example|click>",
        ),
    )
    (text,) = posted(slack)
    assert "&lt;!channel&gt; look &amp; &lt;https://evil.example¦click&gt;" in text
    assert "<!channel>" not in text and "<https://evil" not in text


def test_the_teams_own_first_review_target_wins(nudging, deliver, slack, clock, team):  # noqa: F811
    # Settings say 4 working hours; the team's target (its Settings page) says 2.
    team.targets = {"first_review": {"within": 2, "unit": "working_hours", "percentile": 50}}
    team.save()
    deliver("pull_request", opened(at="2025-01-08T10:00:00Z"))
    tasks.notifications_tick()  # noon: two working hours
    (text,) = [t for t in posted(slack) if "first review" in t]
    assert "target (2 working hours)" in text


def test_a_target_in_plain_hours_counts_the_night_too(
    nudging,
    deliver,  # noqa: F811
    slack,
    clock,
    team,
):
    team.targets = {"first_review": {"within": 12, "unit": "hours", "percentile": 50}}
    team.save()
    deliver("pull_request", opened(at="2025-01-08T16:00:00Z"))  # one working hour that day
    clock.now = datetime(2025, 1, 9, 9, 0, tzinfo=UTC)  # 17 hours, 1 working hour
    tasks.notifications_tick()
    (text,) = [t for t in posted(slack) if "first review" in t]
    assert "target (12 hours)" in text


def test_the_teams_holidays_and_working_days_count(nudging, deliver, slack, clock, team):  # noqa: F811
    # Thursday is a holiday: from Wednesday 15:00, 4 working hours end Friday 11:00.
    team.holidays = ["2025-01-09"]
    team.save()
    deliver("pull_request", opened(at="2025-01-08T15:00:00Z"))
    clock.now = datetime(2025, 1, 9, 12, 0, tzinfo=UTC)
    tasks.notifications_tick()
    clock.now = datetime(2025, 1, 10, 10, 59, tzinfo=UTC)
    tasks.notifications_tick()
    assert not SlackMessage.objects.filter(kind="waiting").exists()
    clock.now = datetime(2025, 1, 10, 11, 0, tzinfo=UTC)
    tasks.notifications_tick()
    assert SlackMessage.objects.filter(kind="waiting").count() == 1
