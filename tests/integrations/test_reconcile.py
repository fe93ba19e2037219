"""Reconcile: the events GitHub failed to deliver are fetched from the app's
delivery log (faked at GitHub's real paths) and go through the pipeline once."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
from django.core.management import CommandError, call_command

from apps.integrations.models import ReconcileRun, ReconcileState, WebhookDelivery
from apps.integrations.services.reconcile import (
    ReconcileBusy,
    SinceInvalid,
    deliveries_reconcile,
    since_parse,
)
from apps.metrics.models import PullRequest
from apps.metrics.services.processors import Source
from github_app.webhook_payloads import pull_request_payload
from tests.integrations.conftest import installation_for, repository_for
from tests.integrations.github_apps import stored_app
from tests.payloads.hook_deliveries import FakeDeliveryLog, LogEntry, rate_limited, spammed
from tests.payloads.installations import ping_event

pytestmark = pytest.mark.django_db

GITHUB_API = "https://api.github.com"
GHES_API = "https://ghe.example.com/api/v3"


@pytest.fixture(autouse=True)
def _app(settings, db):
    settings.GITHUB_API_URL = GITHUB_API
    settings.GITHUB_APP_ID = ""
    settings.TFORMANCE_RECONCILE_MAX_PAGES = 10
    settings.TFORMANCE_RECONCILE_FIRST_HOURS = 72
    stored_app()


@pytest.fixture
def github():
    with respx.mock(assert_all_called=False) as router:
        yield FakeDeliveryLog(router, GITHUB_API)


@pytest.fixture
def tracked(team):
    installation = installation_for(team=team, installation_id=42, login="acme")
    return repository_for(installation=installation, github_id=186853002, full_name="acme/api")


def _pr_entry(delivery_id: int, *, pr_id: int, guid: str | None = None, **attempt) -> LogEntry:
    """A pull_request.opened event's attempt; ``attempt``: delivered_at, redelivery."""
    return LogEntry(
        id=delivery_id,
        guid=guid or str(uuid.uuid4()),
        event="pull_request",
        payload=pull_request_payload(pr_id=pr_id, number=pr_id),
        **attempt,
    )


def _minutes_ago(minutes: int) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


def _reconcile(django_capture_on_commit_callbacks, **options):
    with django_capture_on_commit_callbacks(execute=True):
        return deliveries_reconcile(trigger=ReconcileRun.Trigger.COMMAND, **options)


def test_it_fetches_and_stores_exactly_the_missing_events_once(
    github, tracked, deliver, django_capture_on_commit_callbacks
):
    arrived, lost_a, lost_b = (_pr_entry(i, pr_id=i) for i in (101, 102, 103))
    github.add(arrived, lost_a, lost_b)
    deliver("pull_request", arrived.payload, delivery_id=arrived.guid)

    result = _reconcile(django_capture_on_commit_callbacks)

    assert sorted(github.fetched) == [102, 103]
    recovered = WebhookDelivery.objects.filter(source=WebhookDelivery.Source.RECOVERY)
    assert sorted(recovered.values_list("delivery_id", flat=True)) == sorted(
        [lost_a.guid, lost_b.guid]
    )
    assert set(recovered.values_list("status", flat=True)) == {"processed"}
    assert WebhookDelivery.objects.get(delivery_id=arrived.guid).source == "webhook"
    assert sorted(PullRequest.objects.values_list("github_id", flat=True)) == [101, 102, 103]
    assert (result.pages, result.deliveries_seen, result.missing, result.recovered) == (1, 3, 2, 2)
    assert result.failed == 0 and result.caught_up and not result.error

    # The next run finds nothing new: nothing fetched, nothing stored twice
    # (it reads the entries near the mark again: see MARK_MARGIN).
    again = _reconcile(django_capture_on_commit_callbacks)
    assert sorted(github.fetched) == [102, 103]
    assert WebhookDelivery.objects.count() == 3
    assert (again.missing, again.recovered) == (0, 0)


def test_it_stores_gitHubs_copy_with_its_headers_and_the_payload_as_json(
    github, tracked, django_capture_on_commit_callbacks
):
    entry = _pr_entry(7, pr_id=7)
    github.add(entry)

    _reconcile(django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get(delivery_id=entry.guid)
    assert (delivery.event, delivery.action, delivery.hook_id) == ("pull_request", "opened", 424242)
    assert (delivery.installation_id, delivery.repository_full_name) == (42, "acme/api")
    assert json.loads(delivery.payload) == entry.payload


def test_it_hands_recovered_events_to_the_metrics_as_recovered(
    github, tracked, django_capture_on_commit_callbacks, monkeypatch
):
    from apps.integrations.pipeline import drain

    sources = []
    real = drain.events_apply

    def spy(*, events):
        sources.extend(event.source for event in events)
        return real(events=events)

    monkeypatch.setattr(drain, "events_apply", spy)
    github.add(_pr_entry(7, pr_id=7))

    _reconcile(django_capture_on_commit_callbacks)

    assert sources == [Source.RECOVERY]


def test_it_takes_redeliveries_of_one_event_as_one(
    github, tracked, django_capture_on_commit_callbacks
):
    guid = str(uuid.uuid4())
    github.add(
        _pr_entry(10, pr_id=5, guid=guid),
        _pr_entry(11, pr_id=5, guid=guid, redelivery=True),
        _pr_entry(12, pr_id=5, guid=guid, redelivery=True),
    )

    result = _reconcile(django_capture_on_commit_callbacks)

    assert github.fetched == [12]  # the latest attempt, once
    assert WebhookDelivery.objects.get().delivery_id == guid
    assert (result.deliveries_seen, result.missing, result.recovered) == (3, 1, 1)


def test_it_takes_an_event_redelivered_across_pages_once(
    github, tracked, django_capture_on_commit_callbacks
):
    github.page_size = 1
    guid = str(uuid.uuid4())
    github.add(_pr_entry(10, pr_id=5, guid=guid), _pr_entry(20, pr_id=5, guid=guid))

    result = _reconcile(django_capture_on_commit_callbacks)

    assert github.fetched == [20]
    assert (result.pages, result.missing, result.recovered) == (2, 1, 1)


def test_it_follows_the_cursor_page_by_page(github, tracked, django_capture_on_commit_callbacks):
    github.page_size = 2
    github.add(*(_pr_entry(i, pr_id=i) for i in range(1, 6)))

    result = _reconcile(django_capture_on_commit_callbacks)

    assert github.cursors == [None, "v1_4", "v1_2"]
    assert all(call.request.url.params["per_page"] == "100" for call in github.list_route.calls)
    assert sorted(github.fetched) == [1, 2, 3, 4, 5]
    assert (result.pages, result.recovered, result.caught_up) == (3, 5, True)


def test_the_high_water_mark_stops_the_next_run_at_what_it_reconciled(
    github, tracked, django_capture_on_commit_callbacks
):
    github.page_size = 2
    github.add(*(_pr_entry(i, pr_id=i, delivered_at=_minutes_ago(60 - 5 * i)) for i in range(1, 6)))
    _reconcile(django_capture_on_commit_callbacks)
    assert ReconcileState.objects.get().high_water_id == 5
    github.cursors.clear()
    github.add(_pr_entry(6, pr_id=6))

    result = _reconcile(django_capture_on_commit_callbacks)

    # Page one holds 6 and 5 (the mark, read again within MARK_MARGIN); page
    # two starts with 4, older than that: no third page.
    assert github.cursors == [None, "v1_5"]
    assert github.fetched[-1] == 6 and github.fetched.count(6) == 1
    assert (result.pages, result.deliveries_seen, result.recovered) == (2, 2, 1)
    assert ReconcileState.objects.get().high_water_id == 6


def test_entries_listed_just_below_the_mark_are_checked_again(
    github, tracked, django_capture_on_commit_callbacks
):
    # A delivery GitHub lists only once its attempt ended (a 10-second timeout)
    # can appear below an entry listed before it.
    now = datetime.now(UTC)
    github.add(_pr_entry(5, pr_id=5, delivered_at=now))
    _reconcile(django_capture_on_commit_callbacks)
    late = _pr_entry(4, pr_id=4, delivered_at=now - timedelta(seconds=10))
    old = _pr_entry(3, pr_id=3, delivered_at=now - timedelta(minutes=5))
    github.add(late, old)

    result = _reconcile(django_capture_on_commit_callbacks)

    assert sorted(github.fetched) == [4, 5]
    assert (result.deliveries_seen, result.missing, result.recovered) == (2, 1, 1)


def test_a_walk_longer_than_a_run_goes_on_in_the_next_run(
    github, tracked, settings, django_capture_on_commit_callbacks
):
    settings.TFORMANCE_RECONCILE_MAX_PAGES = 1
    github.page_size = 2
    github.add(*(_pr_entry(i, pr_id=i, delivered_at=_minutes_ago(60 - 5 * i)) for i in range(1, 6)))

    first = _reconcile(django_capture_on_commit_callbacks)
    assert (first.recovered, first.caught_up, first.error) == (2, False, "")
    github.add(_pr_entry(9, pr_id=9))  # arrives meanwhile, above the walk
    second = _reconcile(django_capture_on_commit_callbacks)
    third = _reconcile(django_capture_on_commit_callbacks)

    assert github.cursors[:3] == [None, "v1_4", "v1_2"]
    assert (second.recovered, third.recovered, third.caught_up) == (2, 1, True)
    # The finished walk's newest delivery is the mark; the fourth run takes 9.
    assert ReconcileState.objects.get().high_water_id == 5
    # Pages of 2: the fourth run reads past the mark's page (MARK_MARGIN).
    settings.TFORMANCE_RECONCILE_MAX_PAGES = 2
    fourth = _reconcile(django_capture_on_commit_callbacks)
    assert fourth.recovered == 1
    assert sorted(github.fetched) == [1, 2, 3, 4, 5, 9]
    assert ReconcileState.objects.get().high_water_id == 9


def test_the_first_run_looks_back_three_days(github, tracked, django_capture_on_commit_callbacks):
    now = datetime.now(UTC)
    github.add(
        _pr_entry(1, pr_id=1, delivered_at=now - timedelta(hours=80)),
        _pr_entry(2, pr_id=2, delivered_at=now - timedelta(hours=70)),
    )

    result = _reconcile(django_capture_on_commit_callbacks)

    assert github.fetched == [2]
    assert (result.deliveries_seen, result.caught_up) == (1, True)


def test_since_reads_back_that_far_whatever_the_mark(
    github, tracked, django_capture_on_commit_callbacks
):
    now = datetime.now(UTC)
    github.add(
        _pr_entry(1, pr_id=1, delivered_at=now - timedelta(hours=30)),
        _pr_entry(2, pr_id=2, delivered_at=now - timedelta(hours=2)),
    )
    ReconcileState.objects.create(pk=1, high_water_id=2, high_water_at=now)

    with django_capture_on_commit_callbacks(execute=True):
        call_command("github_reconcile", "--since", "24h")

    assert github.fetched == [2]
    run = ReconcileRun.objects.get()
    assert run.since is not None and run.recovered == 1
    assert ReconcileState.objects.get().high_water_id == 2


@pytest.mark.parametrize(
    "text", ["24", "0h", "-3d", "1.5h", "8d", "\u0663d", "24 h x", "h", "1s", "10000000m", "3d\x00"]
)
def test_it_refuses_a_since_that_is_not_a_bounded_duration(text):
    with pytest.raises(SinceInvalid):
        since_parse(text)
    with pytest.raises(CommandError, match="--since"):
        call_command("github_reconcile", "--since", text)


def test_it_reads_since_in_minutes_hours_and_days():
    assert since_parse("30m") == timedelta(minutes=30)
    assert since_parse("24h") == timedelta(hours=24)
    assert since_parse("7d") == timedelta(days=7)


def test_a_recovered_event_is_routed_like_a_webhook(
    github, team, django_capture_on_commit_callbacks
):
    installation_for(team=None, installation_id=42, login="acme")
    entry = _pr_entry(3, pr_id=3)
    github.add(entry)

    _reconcile(django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get(delivery_id=entry.guid)
    assert delivery.status == "ignored"
    assert delivery.status_reason == "Installation 42 is not claimed by a team yet."
    assert not PullRequest.objects.exists()


def test_a_rate_limit_ends_the_run_with_its_counts_and_the_next_run_goes_on(
    github, tracked, django_capture_on_commit_callbacks
):
    github.page_size = 2
    github.add(*(_pr_entry(i, pr_id=i) for i in range(1, 6)))
    github.fetch_answers[2] = rate_limited()

    first = _reconcile(django_capture_on_commit_callbacks)

    assert "rate limit" in first.error and first.retry_at is not None
    assert (first.pages, first.missing, first.recovered, first.caught_up) == (2, 4, 3, False)
    run = ReconcileRun.objects.get()
    assert (run.pages, run.recovered, run.error) == (2, 3, first.error)
    assert run.finished_at is not None
    state = ReconcileState.objects.get()
    assert state.running_since is None and state.walk_cursor == "v1_4"

    del github.fetch_answers[2]
    second = _reconcile(django_capture_on_commit_callbacks)
    assert (second.recovered, second.caught_up) == (2, True)
    assert WebhookDelivery.objects.count() == 5


def test_gitHubs_422_ends_the_run_cleanly_and_the_next_starts_from_the_newest_page(
    github, tracked, django_capture_on_commit_callbacks
):
    github.page_size = 2
    github.add(*(_pr_entry(i, pr_id=i) for i in range(1, 6)))
    # Page one is answered; GitHub refuses the second ("spammed").
    real_list = github._list

    def refuse_second(request):
        if request.url.params.get("cursor"):
            github.cursors.append(request.url.params.get("cursor"))
            return spammed()
        return real_list(request)

    github.list_route.side_effect = refuse_second

    result = _reconcile(django_capture_on_commit_callbacks)

    assert "GitHub refused the request (422: Validation Failed)" in result.error
    assert (result.pages, result.recovered, result.caught_up) == (1, 2, False)
    assert ReconcileState.objects.get().walk_cursor == ""
    github.list_route.side_effect = real_list
    again = _reconcile(django_capture_on_commit_callbacks)
    assert (again.recovered, again.caught_up) == (3, True)
    assert sorted(github.fetched) == [1, 2, 3, 4, 5]


def test_the_command_prints_the_counts_and_fails_when_github_ended_the_run(github, capsys):
    github.list_answers = [rate_limited()]

    with pytest.raises(CommandError, match="ended early: GitHub's rate limit"):
        call_command("github_reconcile")

    assert "0 pages, 0 deliveries seen, 0 missing, 0 recovered, 0 failed" in capsys.readouterr().out


def test_a_dry_run_stores_nothing_and_records_nothing(github, tracked, capsys):
    entry = _pr_entry(8, pr_id=8)
    github.add(entry)

    call_command("github_reconcile", "--dry-run")

    out = capsys.readouterr().out
    assert f"missing: {entry.guid} pull_request.opened" in out
    assert "dry run: 1 pages, 1 deliveries seen, 1 missing, 0 recovered" in out
    assert github.fetched == []
    assert not WebhookDelivery.objects.exists()
    assert not ReconcileRun.objects.exists() and not ReconcileState.objects.exists()


def test_entries_and_copies_not_of_gitHubs_shape_are_counted_and_skipped(
    github, tracked, django_capture_on_commit_callbacks
):
    good, broken = _pr_entry(1, pr_id=1), _pr_entry(2, pr_id=2)
    github.add(good, broken)
    github.fetch_answers[2] = httpx.Response(200, json={"id": 2, "request": {"payload": []}})
    odd_items = [
        {"id": "3", "guid": "x", "delivered_at": "2026-01-01T00:00:00Z", "event": "ping"},
        {"id": 4, "guid": None, "delivered_at": "2026-01-01T00:00:00Z", "event": "ping"},
        {"id": 5, "guid": "y", "delivered_at": "yesterday", "event": "ping"},
        {"id": True, "guid": "z", "delivered_at": "2026-01-01T00:00:00Z", "event": "ping"},
        "not an object",
    ]
    github.list_answers = [
        httpx.Response(200, json=[good.item(), broken.item(), *odd_items]),
    ]

    result = _reconcile(django_capture_on_commit_callbacks)

    assert (result.deliveries_seen, result.missing, result.recovered, result.failed) == (2, 2, 1, 6)
    assert list(WebhookDelivery.objects.values_list("delivery_id", flat=True)) == [good.guid]
    assert result.caught_up and not result.error


def test_a_delivery_gone_from_the_log_since_it_was_listed_is_counted(
    github, tracked, django_capture_on_commit_callbacks
):
    github.add(_pr_entry(1, pr_id=1), _pr_entry(2, pr_id=2))
    github.fetch_answers[1] = httpx.Response(404, json={"message": "Not Found"})

    result = _reconcile(django_capture_on_commit_callbacks)

    assert (result.recovered, result.failed, result.caught_up) == (1, 1, True)


def test_it_works_against_github_enterprise_server(
    settings, tracked, django_capture_on_commit_callbacks
):
    settings.GITHUB_API_URL = GHES_API
    with respx.mock(assert_all_called=False) as router:
        log = FakeDeliveryLog(router, GHES_API, page_size=1)
        log.add(_pr_entry(1, pr_id=1), _pr_entry(2, pr_id=2))

        result = _reconcile(django_capture_on_commit_callbacks)

    assert sorted(log.fetched) == [1, 2]
    assert log.cursors == [None, "v1_2"]
    assert result.recovered == 2
    bearer = log.list_route.calls.last.request.headers["Authorization"]
    assert bearer.startswith("Bearer ")  # the app's JWT


def test_only_one_reconcile_runs_at_a_time(github, django_capture_on_commit_callbacks):
    ReconcileState.objects.create(pk=1, running_since=datetime.now(UTC) - timedelta(minutes=1))

    with pytest.raises(ReconcileBusy):
        _reconcile(django_capture_on_commit_callbacks)
    with pytest.raises(CommandError, match="another reconcile has been running"):
        call_command("github_reconcile")
    assert github.cursors == []


def test_a_lock_left_by_a_run_that_died_lapses(github, django_capture_on_commit_callbacks):
    ReconcileState.objects.create(pk=1, running_since=datetime.now(UTC) - timedelta(hours=1))
    github.add(LogEntry(id=1, guid="ping-guid", event="ping", payload=ping_event()))

    result = _reconcile(django_capture_on_commit_callbacks)

    assert result.recovered == 1
    assert ReconcileState.objects.get().running_since is None


def test_without_a_configured_app_the_run_ends_with_the_reason(
    github, settings, django_capture_on_commit_callbacks
):
    from apps.integrations.models import GitHubApp

    GitHubApp.objects.all().delete()
    from apps.integrations.services.app_config import forget_stored_app

    forget_stored_app()

    result = _reconcile(django_capture_on_commit_callbacks)

    assert "GitHub App" in result.error
    assert ReconcileRun.objects.get().error == result.error
    assert ReconcileState.objects.get().running_since is None


def test_the_scheduled_task_runs_a_reconcile_every_five_minutes_by_default(
    github, tracked, settings, django_capture_on_commit_callbacks
):
    from apps.integrations.tasks import reconcile_deliveries

    assert settings.CELERY_BEAT_SCHEDULE["reconcile-deliveries"] == {
        "task": "apps.integrations.tasks.reconcile_deliveries",
        "schedule": 300.0,
    }
    github.add(_pr_entry(1, pr_id=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert reconcile_deliveries.apply().get() == 1
    assert ReconcileRun.objects.get().trigger == "schedule"


@pytest.mark.django_db(transaction=True)
def test_github_poll_runs_one_bounded_round_and_prints_what_it_pulls_in(github, tracked, capsys):
    # Committed as it goes, as outside a test: each delivery is drained (in
    # this process) before its line is printed.
    entry = _pr_entry(1, pr_id=1)
    github.add(entry)

    call_command("github_poll", "--interval", "5", "--rounds", "1")

    out = capsys.readouterr().out
    at = f"{entry.delivered_at:%Y-%m-%d %H:%M:%S}"
    assert (
        f"pulled in {entry.guid} pull_request.opened (GitHub's attempt at {at}: "
        "Invalid HTTP Response: 503): processed"
    ) in out
    assert "1 pages, 1 deliveries seen, 1 missing, 1 recovered, 0 failed" in out
    assert ReconcileRun.objects.get().trigger == "poll"


@pytest.mark.parametrize(
    "options",
    [["--interval", "0"], ["--interval", "x"], ["--rounds", "-1"], ["--interval", "\u0665"]],
)
def test_github_poll_refuses_bad_numbers(options):
    with pytest.raises(CommandError):
        call_command("github_poll", *options)


def test_staff_see_the_last_runs_counts_on_the_delivery_log(client, github, tracked):
    from django.contrib.auth import get_user_model

    github.add(_pr_entry(1, pr_id=1))
    deliveries_reconcile(trigger=ReconcileRun.Trigger.COMMAND)
    run = ReconcileRun.objects.get()
    client.force_login(get_user_model().objects.create_user("sam", password="pw", is_staff=True))

    page = client.get("/github/deliveries/").content.decode()

    assert "Recovery from GitHub's delivery log" in page
    assert f"Last run: {run.started_at:%Y-%m-%d %H:%M:%S} UTC (command)" in page
    assert "caught up" in page
    assert "Recovered from GitHub&#x27;s delivery log" in page  # the delivery's source


def test_team_admins_do_not_see_the_reconcile_runs(client, owner, github, tracked):
    deliveries_reconcile(trigger=ReconcileRun.Trigger.COMMAND)
    client.force_login(owner)

    page = client.get("/teams/acme/github/deliveries/").content.decode()

    assert "Recovery from GitHub" not in page
