"""The weekly digest: at the team's weekday and time in its time zone, once, to
its channel, with the JSON API's own figures for the week and the week before,
and the pull requests waiting longest."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from apps.notifications import tasks
from apps.notifications.models import NotificationSettings, SlackConnection, SlackMessage
from github_app.webhook_payloads import pull_request_payload
from tests.integrations.conftest import deliver, installation_for, repository_for  # noqa: F401
from tests.payloads.merges import merge_event

pytestmark = pytest.mark.django_db

CHANNEL = "C0DIGEST"
# Monday 13 January 2025, 09:00 in Berlin (08:00 UTC).
DUE = datetime(2025, 1, 13, 8, 0, tzinfo=UTC)


@pytest.fixture
def digesting(team, connected, clock):
    team.time_zone = "Europe/Berlin"
    team.save()
    installation = installation_for(team=team, installation_id=42, login="acme")
    repository = repository_for(
        installation=installation, github_id=186853002, full_name="acme/api"
    )
    repository.tracked_at = datetime(2024, 12, 1, tzinfo=UTC)
    repository.save(update_fields=["tracked_at"])
    return NotificationSettings.objects.create(
        team=team, digest_on=True, digest_channel=CHANNEL, digest_weekday=0, digest_time=time(9)
    )


def merged(number: int, *, at: str, hours: float) -> dict[str, Any]:
    return merge_event(number, at=at, open_hours=hours)


@pytest.fixture
def week(digesting, deliver):  # noqa: F811
    # This week (6 to 12 January): three merges; the week before: one.
    deliver("pull_request", merged(1, at="2025-01-06T10:00:00Z", hours=10))
    deliver("pull_request", merged(2, at="2025-01-08T10:00:00Z", hours=20))
    deliver("pull_request", merged(3, at="2025-01-10T10:00:00Z", hours=30))
    deliver("pull_request", merged(4, at="2025-01-02T10:00:00Z", hours=50))
    deliver(
        "pull_request",
        pull_request_payload(
            "opened",
            pr_id=799,
            number=99,
            title="A change waiting",
            state="open",
            created_at="2025-01-09T10:00:00Z",
            updated_at="2025-01-09T10:00:00Z",
        ),
    )


def digests(slack) -> list[str]:
    return [
        c.params["text"] for c in slack.to("chat.postMessage") if c.params["channel"] == CHANNEL
    ]


def test_it_posts_the_digest_once_at_the_teams_time(week, slack, clock):
    clock.now = DUE - timedelta(minutes=1)
    tasks.notifications_tick()
    assert not digests(slack)
    clock.now = DUE
    tasks.notifications_tick()
    clock.advance(hours=3)
    tasks.notifications_tick()
    (text,) = digests(slack)
    assert "Weekly digest · Acme" in text and "2025-01-06 to 2025-01-12" in text
    assert SlackMessage.objects.get(kind="digest").key == "digest:2025-01-13"


def test_its_figures_are_the_json_apis(week, slack, clock, client, owner):
    clock.now = DUE
    tasks.notifications_tick()
    (text,) = digests(slack)
    client.force_login(owner)
    api = client.get("/api/teams/acme/metrics/", {"from": "2025-01-06", "to": "2025-01-12"}).json()

    merged_now, merged_before = (
        api["pull_requests"]["merged"],
        api["previous"]["pull_requests"]["merged"],
    )
    assert (merged_now, merged_before) == (3, 1)
    assert f"Merged: {merged_now} (week before: {merged_before})" in text
    cycle = api["cycle_time_hours"]["median"]
    before = api["previous"]["cycle_time_hours"]["median"]
    assert f"Cycle time, median: {cycle:.1f} h (week before: {before:.1f} h)" in text
    assert "acme/api#99" in text and "A change waiting" in text


@pytest.mark.parametrize(
    "change",
    [{"digest_weekday": 1}, {"digest_on": False}, {"digest_time": time(10)}],
)
def test_not_on_another_day_time_or_when_off(week, slack, clock, digesting, change):
    NotificationSettings.objects.filter(pk=digesting.pk).update(**change)
    clock.now = DUE
    tasks.notifications_tick()
    assert not digests(slack)


def test_not_while_slack_is_broken(week, slack, clock, connected):
    SlackConnection.objects.filter(pk=connected.pk).update(status="broken")
    clock.now = DUE
    tasks.notifications_tick()
    assert not SlackMessage.objects.filter(kind="digest").exists()


def test_it_says_whether_the_teams_targets_were_met_as_the_api_does(
    week, slack, clock, client, owner, team
):
    team.targets = {"cycle_time": {"within": 1, "unit": "days", "percentile": 50}}
    team.save()
    clock.now = DUE
    tasks.notifications_tick()
    (text,) = digests(slack)
    client.force_login(owner)
    api = client.get("/api/teams/acme/metrics/", {"from": "2025-01-06", "to": "2025-01-12"}).json()
    target = api["targets"]["cycle_time"]
    verdict = "met" if target["met"] else "missed"
    counted = f"({target['count_within']} of {target['count']} within)"
    assert f"Target {target['label']}: {verdict} {counted}" in text
