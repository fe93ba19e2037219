"""Squads told on their own, and requested reviewers told directly.

- A pull request's squads (those whose figures count it: its author a member,
  on the squad's repositories when it names any) take its nudges in their own
  channels when they have one and the kind is on for them; otherwise the team's
  channel does. One message per cause and channel.
- A pull request waiting past the target is also sent, as a direct message, to
  each requested reviewer with a Slack user, only within their working hours.
- Each squad's weekly digest comes at its own time in its own time zone, with
  the JSON API's ``squad=`` figures.

GitHub's deliveries go through the real endpoint, signed; Slack is the fake on
127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from apps.metrics.models import PullRequest, Squad, TeamMember
from apps.notifications import tasks
from apps.notifications.models import (
    NotificationSettings,
    SlackMessage,
    SquadNotificationSettings,
)
from github_app.webhook_payloads import pull_request_payload, review_payload, user
from tests.integrations.conftest import deliver, installation_for, repository_for  # noqa: F401
from tests.notifications.conftest import slack_person
from tests.payloads.merges import merge_event

pytestmark = pytest.mark.django_db

TEAM_CHANNEL, PAYMENTS, WEB = "C0TEAM", "C0PAY", "C0WEB"
API, SITE = (186853002, "acme/api"), (186853003, "acme/web")
ANN, BEN, CAT = (1001, "ann"), (1002, "ben"), (1003, "cat")
# Reviewers: Rita (Slack in New York), Raj (Slack in London), Rob (no Slack user).
RITA, RAJ, ROB = (2001, "rita"), (2002, "raj"), (2003, "rob")


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def repositories(team):
    installation = installation_for(team=team, installation_id=42, login="acme")
    found = {}
    for github_id, full_name in (API, SITE):
        repository = repository_for(
            installation=installation, github_id=github_id, full_name=full_name
        )
        repository.tracked_at = datetime(2024, 12, 1, tzinfo=UTC)
        repository.save(update_fields=["tracked_at"])
        found[full_name] = repository
    return found


@pytest.fixture
def squads(team, connected, repositories, clock):
    """Payments: Ann and Ben, every repository, its own channel. Web: Ben, on
    acme/web only, its own channel. Cat is in no squad. The team's channel
    takes the rest."""
    people = {
        login: TeamMember.objects.create(team=team, github_id=github_id, login=login)
        for github_id, login in (ANN, BEN, CAT)
    }
    payments = Squad.objects.create(team=team, name="Payments")
    payments.members.set([people["ann"], people["ben"]])
    web = Squad.objects.create(team=team, name="Web")
    web.members.set([people["ben"]])
    web.repositories.set([repositories["acme/web"]])
    NotificationSettings.objects.create(team=team, nudge_channel=TEAM_CHANNEL)
    SquadNotificationSettings.objects.create(squad=payments, nudge_channel=PAYMENTS)
    SquadNotificationSettings.objects.create(squad=web, nudge_channel=WEB)
    return {"Payments": payments, "Web": web}


def opened(
    number: int,
    author: tuple[int, str],
    *,
    at: str = "2025-01-08T11:00:00Z",
    repository: tuple[int, str] = API,
    action: str = "opened",
    reviewers: tuple[tuple[int, str], ...] = (),
    updated: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    payload = pull_request_payload(
        action,
        pr_id=900 + number,
        number=number,
        state="open",
        created_at=at,
        updated_at=updated or at,
        author_id=author[0],
        author_login=author[1],
        repository_id=repository[0],
        repository_full_name=repository[1],
        requested_reviewers=[user(login, github_id) for github_id, login in reviewers],
        **fields,
    )
    if action in ("review_requested", "review_request_removed") and reviewers:
        # As GitHub sends it: the person asked (or no longer asked) beside the
        # pull request's full list.
        payload["requested_reviewer"] = user(reviewers[-1][1], reviewers[-1][0])
    return payload


def large(number: int, author: tuple[int, str], **fields: Any) -> dict[str, Any]:
    return opened(number, author, additions=900, deletions=0, **fields)


def channels_told(slack, kind_text: str) -> list[str]:
    return sorted(
        c.params["channel"]
        for c in slack.to("chat.postMessage")
        if kind_text in c.params["text"] and c.params["channel"].startswith("C")
    )


# --- where channel nudges go -----------------------------------------------------------


def test_it_posts_a_squads_pull_request_in_the_squads_channel_and_others_in_the_teams(
    squads,
    deliver,  # noqa: F811
    slack,
):
    deliver("pull_request", large(1, ANN))  # Payments
    deliver("pull_request", large(2, CAT))  # no squad
    deliver("pull_request", large(3, BEN, repository=SITE))  # Payments and Web
    deliver("pull_request", large(4, BEN))  # Payments: acme/api is not one of Web's

    told = {
        number: sorted(m.channel for m in SlackMessage.objects.filter(pull_request__number=number))
        for number in (1, 2, 3, 4)
    }
    assert told == {1: [PAYMENTS], 2: [TEAM_CHANNEL], 3: [PAYMENTS, WEB], 4: [PAYMENTS]}
    assert channels_told(slack, "changed lines") == [
        PAYMENTS,
        PAYMENTS,
        PAYMENTS,
        TEAM_CHANNEL,
        WEB,
    ]


def test_it_posts_each_nudge_once_per_channel_whatever_is_redelivered(
    squads,
    deliver,  # noqa: F811
    slack,
):
    payload = large(3, BEN, repository=SITE)
    deliver("pull_request", payload, delivery_id="open-3")
    deliver("pull_request", payload, delivery_id="open-3")
    deliver("pull_request", payload, delivery_id="open-3-again")
    merged = pull_request_payload(
        "closed",
        pr_id=903,
        number=3,
        state="closed",
        merged=True,
        created_at="2025-01-08T11:00:00Z",
        merged_at="2025-01-08T11:30:00Z",
        closed_at="2025-01-08T11:30:00Z",
        author_id=BEN[0],
        author_login=BEN[1],
        repository_id=SITE[0],
        repository_full_name=SITE[1],
        additions=900,
    )
    deliver("pull_request", merged, delivery_id="merge-3")
    deliver("pull_request", merged, delivery_id="merge-3-again")
    tasks.notifications_tick()

    assert channels_told(slack, "changed lines") == [PAYMENTS, WEB]
    assert channels_told(slack, "merged without any review") == [PAYMENTS, WEB]
    keys = sorted(SlackMessage.objects.values_list("key", flat=True))
    assert len(keys) == len(set(keys)) == 4


def test_two_squads_sharing_a_channel_get_one_message(squads, deliver, slack):  # noqa: F811
    SquadNotificationSettings.objects.filter(squad=squads["Web"]).update(nudge_channel=PAYMENTS)
    deliver("pull_request", large(3, BEN, repository=SITE))
    assert channels_told(slack, "changed lines") == [PAYMENTS]


def test_a_kind_a_squad_turned_off_goes_to_the_teams_channel(squads, deliver, slack):  # noqa: F811
    SquadNotificationSettings.objects.filter(squad=squads["Payments"]).update(nudge_large_on=False)
    deliver("pull_request", large(1, ANN))
    deliver("pull_request", large(3, BEN, repository=SITE))
    NotificationSettings.objects.update(nudge_large_on=False)
    deliver("pull_request", large(5, ANN))

    assert sorted(SlackMessage.objects.values_list("pull_request__number", "channel")) == [
        (1, TEAM_CHANNEL),
        (3, WEB),
    ]


def test_it_counts_the_squads_pull_requests_as_the_figures_squad_filter_does(
    squads,
    deliver,  # noqa: F811
    slack,
    client,
    owner,
):
    """The one rule: the pull requests nudged in a squad's channel are those
    the JSON API's ``squad=`` counts."""
    deliver("pull_request", large(1, ANN))
    deliver("pull_request", large(2, CAT))
    deliver("pull_request", large(3, BEN, repository=SITE))
    deliver("pull_request", large(4, BEN))
    client.force_login(owner)
    for name, channel in (("Payments", PAYMENTS), ("Web", WEB)):
        api = client.get(
            "/api/teams/acme/metrics/", {"from": "2025-01-08", "to": "2025-01-08", "squad": name}
        ).json()
        nudged = SlackMessage.objects.filter(channel=channel).count()
        assert api["pull_requests"]["opened"] == nudged


# --- a wait, in the squad's channel and to the requested reviewers --------------------


def test_a_wait_is_posted_in_the_squads_channel_in_the_squads_working_hours(
    squads,
    deliver,  # noqa: F811
    slack,
    clock,
):
    SquadNotificationSettings.objects.filter(squad=squads["Payments"]).update(
        time_zone="America/New_York"
    )
    # Opened Wednesday 09:00 UTC: 4 working hours of the team (UTC) at 13:00 UTC,
    # 08:00 in New York, where the squad's working day starts at 14:00 UTC.
    deliver("pull_request", opened(1, ANN, at="2025-01-08T09:00:00Z"))
    deliver("pull_request", opened(2, CAT, at="2025-01-08T09:00:00Z"))
    clock.now = datetime(2025, 1, 8, 13, 0, tzinfo=UTC)
    tasks.notifications_tick()
    assert channels_told(slack, "first review") == [TEAM_CHANNEL]
    clock.now = datetime(2025, 1, 8, 14, 0, tzinfo=UTC)
    tasks.notifications_tick()
    clock.advance(hours=1)
    tasks.notifications_tick()
    assert channels_told(slack, "first review") == [PAYMENTS, TEAM_CHANNEL]


@pytest.fixture
def reviewers(team, squads):
    """Rita (Slack in New York) and Raj (Slack in London) have accounts linked
    to their GitHub persons and Slack users; Rob has neither."""
    accounts = get_user_model().objects
    for (github_id, login), slack_id, tz in (
        (RITA, "U0RITA", "America/New_York"),
        (RAJ, "U0RAJ", "Europe/London"),
    ):
        account = accounts.create_user(login, password=f"password-{login}")
        TeamMember.objects.create(team=team, github_id=github_id, login=login, user=account)
        slack_person(team=team, user=account, slack_user_id=slack_id, tz=tz)


def direct(slack) -> list[tuple[str, str]]:
    """(Slack user, text) of each direct message posted."""
    opened_for = {c.params["users"] for c in slack.to("conversations.open")}
    return sorted(
        ("U" + c.params["channel"][1:], c.params["text"])
        for c in slack.to("chat.postMessage")
        if c.params["channel"].startswith("D") and "U" + c.params["channel"][1:] in opened_for
    )


def test_the_requested_reviewers_are_told_directly_in_their_own_working_hours_once(
    reviewers,
    deliver,  # noqa: F811
    slack,
    clock,
):
    deliver("pull_request", opened(1, CAT, at="2025-01-08T09:00:00Z"))
    requested = opened(
        1,
        CAT,
        at="2025-01-08T09:00:00Z",
        updated="2025-01-08T09:05:00Z",
        action="review_requested",
        reviewers=(RITA, RAJ, ROB),
    )
    deliver("pull_request", requested, delivery_id="asked")
    deliver("pull_request", requested, delivery_id="asked")  # redelivered

    # 13:00 UTC: the target is reached; Raj's London day is on, Rita's New York
    # day (08:00) is not: she is not told at night, nor sent it later when stale.
    clock.now = datetime(2025, 1, 8, 13, 0, tzinfo=UTC)
    tasks.notifications_tick()
    assert [who for who, _ in direct(slack)] == ["U0RAJ"]
    assert not SlackMessage.objects.filter(channel="U0RITA").exists()

    clock.now = datetime(2025, 1, 8, 14, 0, tzinfo=UTC)  # 09:00 in New York
    tasks.notifications_tick()
    clock.advance(hours=1)
    tasks.notifications_tick()
    deliver("pull_request", requested, delivery_id="asked-again")
    tasks.notifications_tick()

    told = direct(slack)
    assert [who for who, _ in told] == ["U0RAJ", "U0RITA"]
    assert all("acme/api#1" in text and "asked to review" in text for _, text in told)
    assert SlackMessage.objects.filter(is_direct=True, status="sent").count() == 2
    assert channels_told(slack, "first review") == [TEAM_CHANNEL]


def test_a_reviewer_no_longer_requested_or_a_review_given_tells_no_one(
    reviewers,
    deliver,  # noqa: F811
    slack,
    clock,
):
    asked = opened(
        1,
        CAT,
        at="2025-01-08T09:00:00Z",
        updated="2025-01-08T09:05:00Z",
        action="review_requested",
        reviewers=(RAJ,),
    )
    deliver("pull_request", asked)
    removed = opened(
        1,
        CAT,
        at="2025-01-08T09:00:00Z",
        updated="2025-01-08T09:10:00Z",
        action="review_request_removed",
    )
    removed["requested_reviewer"] = user(RAJ[1], RAJ[0])
    deliver("pull_request", removed)
    # A late redelivery of the older request changes nothing: the newest snapshot wins.
    deliver("pull_request", asked, delivery_id="late")
    assert PullRequest.objects.get(number=1).requested_reviewers == []

    deliver("pull_request", opened(2, CAT, at="2025-01-08T09:00:00Z", reviewers=(RAJ,)))
    deliver(
        "pull_request_review",
        review_payload(
            submitted_at="2025-01-08T10:00:00Z",
            pr_id=902,
            number=2,
            state="open",
            created_at="2025-01-08T09:00:00Z",
            updated_at="2025-01-08T10:00:00Z",
            reviewer_id=RAJ[0],
            reviewer_login=RAJ[1],
            author_id=CAT[0],
            author_login=CAT[1],
        ),
    )
    _tick_past_the_target(clock)
    assert direct(slack) == []


def test_no_direct_message_when_the_team_turned_it_off(reviewers, deliver, slack, clock):  # noqa: F811
    NotificationSettings.objects.update(nudge_waiting_direct_on=False)
    deliver("pull_request", opened(1, CAT, at="2025-01-08T09:00:00Z", reviewers=(RAJ,)))
    _tick_past_the_target(clock)
    assert direct(slack) == [] and channels_told(slack, "first review") == [TEAM_CHANNEL]


def _tick_past_the_target(clock) -> None:
    """The scheduler's tick once the pull requests opened at 09:00 have waited
    past the team's target."""
    clock.now = datetime(2025, 1, 8, 15, 0, tzinfo=UTC)
    tasks.notifications_tick()


def _squad_says(squad, *, direct: bool | None) -> None:
    """The squad's own say on telling requested reviewers directly."""
    SquadNotificationSettings.objects.filter(squad=squad).update(nudge_waiting_direct=direct)


def _waiting_for_raj(deliver, number: int, author, *, repository=API) -> None:  # noqa: F811
    deliver(
        "pull_request",
        opened(number, author, at="2025-01-08T09:00:00Z", reviewers=(RAJ,), repository=repository),
    )


def test_a_squad_that_says_no_keeps_its_reviewers_from_being_told_directly(
    reviewers,
    deliver,  # noqa: F811
    squads,
    slack,
    clock,
):
    _squad_says(squads["Payments"], direct=False)
    _waiting_for_raj(deliver, 1, ANN)  # Payments'
    _waiting_for_raj(deliver, 2, CAT)  # no squad's: the team's switch, on
    _tick_past_the_target(clock)

    told = direct(slack)
    assert len(told) == 1 and "acme/api#2" in told[0][1]
    # The channel nudges are as they were.
    assert channels_told(slack, "first review") == [PAYMENTS, TEAM_CHANNEL]


def test_a_squad_that_says_yes_tells_its_reviewers_when_the_team_does_not(
    reviewers,
    deliver,  # noqa: F811
    squads,
    slack,
    clock,
):
    NotificationSettings.objects.update(nudge_waiting_direct_on=False)
    # Web has no channel of its own now, only its say on direct messages.
    SquadNotificationSettings.objects.filter(squad=squads["Web"]).update(
        nudge_channel="", nudge_waiting_direct=True
    )
    _waiting_for_raj(deliver, 1, BEN, repository=SITE)  # Web's and Payments'
    _waiting_for_raj(deliver, 2, BEN)  # Payments' only: no say, the team's off
    _waiting_for_raj(deliver, 3, CAT)  # no squad's
    _tick_past_the_target(clock)

    told = direct(slack)
    assert len(told) == 1 and "acme/web#1" in told[0][1]
    # A squad without a channel takes no channel nudge.
    assert not SlackMessage.objects.filter(channel="").exists()
    assert channels_told(slack, "first review") == [PAYMENTS, PAYMENTS, TEAM_CHANNEL]


def test_of_two_squads_that_disagree_the_one_that_says_yes_tells_the_reviewers(
    reviewers,
    deliver,  # noqa: F811
    squads,
    slack,
    clock,
):
    _squad_says(squads["Payments"], direct=False)
    _squad_says(squads["Web"], direct=True)
    _waiting_for_raj(deliver, 1, BEN, repository=SITE)  # both squads'
    _waiting_for_raj(deliver, 2, BEN)  # Payments' only
    _tick_past_the_target(clock)

    told = direct(slack)
    assert len(told) == 1 and "acme/web#1" in told[0][1]


# --- each squad's digest ----------------------------------------------------------------

# Monday 13 January 2025, 09:00 in Tokyo (00:00 UTC) and in New York (14:00 UTC).
TOKYO_NINE = datetime(2025, 1, 13, 0, 0, tzinfo=UTC)
NEW_YORK_NINE = datetime(2025, 1, 13, 14, 0, tzinfo=UTC)


def merged(number: int, author: tuple[int, str], *, at: str, hours: float, repository=API):
    return merge_event(
        number,
        at=at,
        open_hours=hours,
        pr_id=900 + number,
        author_id=author[0],
        author_login=author[1],
        repository_id=repository[0],
        repository_full_name=repository[1],
    )


@pytest.fixture
def digests(squads, deliver):  # noqa: F811
    """Payments' digest in Tokyo, Web's in New York, both Mondays at 09:00; a
    week of merges by both squads and by no squad."""
    common = {"digest_on": True, "digest_weekday": 0, "digest_time": time(9)}
    SquadNotificationSettings.objects.filter(squad=squads["Payments"]).update(
        digest_channel="C0PAYDIGEST", time_zone="Asia/Tokyo", **common
    )
    SquadNotificationSettings.objects.filter(squad=squads["Web"]).update(
        digest_channel="C0WEBDIGEST", time_zone="America/New_York", **common
    )
    deliver("pull_request", merged(1, ANN, at="2025-01-06T10:00:00Z", hours=10))
    deliver("pull_request", merged(2, BEN, at="2025-01-08T10:00:00Z", hours=20, repository=SITE))
    deliver("pull_request", merged(3, BEN, at="2025-01-09T10:00:00Z", hours=40))
    deliver("pull_request", merged(4, CAT, at="2025-01-10T10:00:00Z", hours=5))
    deliver("pull_request", merged(5, ANN, at="2025-01-02T10:00:00Z", hours=50))
    deliver("pull_request", merged(6, BEN, at="2025-01-03T10:00:00Z", hours=7, repository=SITE))


def digests_in(slack, channel: str) -> list[str]:
    return [
        c.params["text"] for c in slack.to("chat.postMessage") if c.params["channel"] == channel
    ]


def test_two_squads_in_two_time_zones_each_get_their_digest_at_their_own_nine(
    digests, slack, clock
):
    clock.now = TOKYO_NINE - timedelta(minutes=1)
    tasks.notifications_tick()
    assert not digests_in(slack, "C0PAYDIGEST")
    clock.now = TOKYO_NINE
    tasks.notifications_tick()
    assert len(digests_in(slack, "C0PAYDIGEST")) == 1 and not digests_in(slack, "C0WEBDIGEST")

    clock.now = NEW_YORK_NINE - timedelta(minutes=1)
    tasks.notifications_tick()
    assert not digests_in(slack, "C0WEBDIGEST")
    clock.now = NEW_YORK_NINE
    tasks.notifications_tick()
    clock.advance(hours=5)
    tasks.notifications_tick()

    (payments,) = digests_in(slack, "C0PAYDIGEST")
    (web,) = digests_in(slack, "C0WEBDIGEST")
    assert "Weekly digest · Acme · Payments" in payments and "2025-01-06 to 2025-01-12" in payments
    assert "Weekly digest · Acme · Web" in web
    assert sorted(SlackMessage.objects.filter(kind="digest").values_list("key", flat=True)) == [
        f"digest:squad:{squads.pk}:2025-01-13" for squads in Squad.objects.order_by("pk")
    ]


def test_each_squads_digest_has_the_json_apis_figures_of_the_squad(
    digests, slack, clock, client, owner
):
    clock.now = NEW_YORK_NINE
    tasks.notifications_tick()
    client.force_login(owner)
    for name, channel, merged_now, merged_before in (
        ("Payments", "C0PAYDIGEST", 3, 2),
        ("Web", "C0WEBDIGEST", 1, 1),
    ):
        (text,) = digests_in(slack, channel)
        api = client.get(
            "/api/teams/acme/metrics/",
            {"from": "2025-01-06", "to": "2025-01-12", "squad": name},
        ).json()
        now, before = api["pull_requests"]["merged"], api["previous"]["pull_requests"]["merged"]
        assert (now, before) == (merged_now, merged_before)
        assert f"Merged: {now} (week before: {before})" in text
        cycle = api["cycle_time_hours"]["median"]
        previous = api["previous"]["cycle_time_hours"]["median"]
        assert f"Cycle time, median: {cycle:.1f} h (week before: {previous:.1f} h)" in text


# --- the settings, on the Slack page ---------------------------------------------------

SQUAD_GOOD = {
    "nudge_channel": "C0PAYNEW",
    "nudge_waiting_on": "on",
    "digest_on": "on",
    "digest_channel": "C0PAYDIGEST",
    "digest_weekday": "2",
    "digest_time": "08:30",
    "time_zone": "Asia/Tokyo",
}


def test_it_lets_an_admin_set_a_squads_notifications_on_the_slack_page(client, owner, team, squads):
    payments = squads["Payments"]
    client.force_login(owner)
    response = client.post(f"/teams/acme/slack/squads/{payments.pk}/", SQUAD_GOOD)
    assert response.status_code == 302 and response["Location"].endswith(f"#squad-{payments.pk}")
    saved = SquadNotificationSettings.objects.get(squad=payments)
    assert (saved.nudge_channel, saved.time_zone, saved.digest_weekday) == (
        "C0PAYNEW",
        "Asia/Tokyo",
        2,
    )
    assert saved.nudge_waiting_on and not saved.nudge_large_on and saved.digest_on
    assert saved.nudge_waiting_direct is None  # as the team's: nothing chosen
    page = client.get("/teams/acme/slack/").content.decode()
    assert 'value="C0PAYNEW"' in page and 'value="Asia/Tokyo"' in page


@pytest.mark.parametrize(("sent", "stored"), [("false", False), ("true", True), ("", None)])
def test_it_lets_an_admin_choose_whether_a_squads_reviewers_are_told_directly(
    client, owner, team, squads, sent, stored
):
    payments = squads["Payments"]
    client.force_login(owner)
    response = client.post(
        f"/teams/acme/slack/squads/{payments.pk}/", {**SQUAD_GOOD, "nudge_waiting_direct": sent}
    )
    assert response.status_code == 302
    assert SquadNotificationSettings.objects.get(squad=payments).nudge_waiting_direct is stored
    page = client.get("/teams/acme/slack/").content.decode()
    assert f'<option value="{sent}" selected>' in page


def test_it_lets_members_read_a_squads_notifications_but_not_change_them(
    client, member, team, squads
):
    client.force_login(member)
    page = client.get("/teams/acme/slack/").content.decode()
    assert "<code>C0PAY</code>" in page and "Web" in page
    response = client.post(f"/teams/acme/slack/squads/{squads['Payments'].pk}/", SQUAD_GOOD)
    assert response.status_code == 403
    assert SquadNotificationSettings.objects.get(squad=squads["Payments"]).nudge_channel == PAYMENTS


def test_it_refuses_another_teams_squad(client, outsider, owner, team, squads):
    client.force_login(outsider)
    assert (
        client.post(f"/teams/other/slack/squads/{squads['Payments'].pk}/", SQUAD_GOOD).status_code
        == 404
    )


@pytest.mark.parametrize(
    "change",
    [
        {"time_zone": "Mars/Olympus"},
        {"time_zone": "Europe/Berlin\x00"},
        {"nudge_channel": "#payments"},
        {"digest_channel": ""},
        {"digest_weekday": "9"},
        {"digest_time": "9am"},
        {"nudge_waiting_direct": "maybe"},
    ],
)
def test_it_refuses_squad_settings_it_cannot_use(client, owner, team, squads, change):
    client.force_login(owner)
    response = client.post(
        f"/teams/acme/slack/squads/{squads['Payments'].pk}/", {**SQUAD_GOOD, **change}
    )
    assert response.status_code == 400
    assert SquadNotificationSettings.objects.get(squad=squads["Payments"]).nudge_channel == PAYMENTS
