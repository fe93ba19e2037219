"""History: a tracked repository's past pull requests and reviews from GitHub's
GraphQL API (faked at its real path), through the metrics' one entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from django.core.management import CommandError, call_command
from django.db.models import F
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apps.integrations import scheduling, tasks
from apps.integrations.models import HistoryRun
from apps.integrations.services import history
from apps.integrations.services.repository_access import repository_set_tracked
from apps.metrics.models import PRReview, PullRequest, TeamMember
from apps.metrics.services.processors import MetricsEvent, Source, events_apply
from apps.teams.models import Team
from github_app.history import graphql_endpoint, pull_request_events
from github_app.webhook_payloads import pull_request_payload, review_payload
from tests.integrations.conftest import github_app_settings, installation_for, iso, repository_for
from tests.payloads.graphql import (
    FakeGraphQL,
    actor,
    enterprise_actor,
    partial_answer,
    pr_node,
    rate_limited_answer,
    review_node,
    secondary_limit_answer,
)

pytestmark = pytest.mark.django_db

API = "https://api.github.com"
INSTALLATION_ID = 42
REPOSITORY_ID = 100


@pytest.fixture(autouse=True)
def github_app_env(settings):
    github_app_settings(settings, api=API)


@pytest.fixture
def repository(team):
    installation = installation_for(team=team, installation_id=INSTALLATION_ID, login="acme")
    return repository_for(installation=installation, github_id=REPOSITORY_ID, full_name="acme/api")


@pytest.fixture
def github():
    fake = FakeGraphQL(repository_id=REPOSITORY_ID, full_name="acme/api")
    with respx.mock(base_url=API, assert_all_called=False) as mock:
        expires = iso(datetime.now(UTC) + timedelta(hours=1))
        mock.post(f"/app/installations/{INSTALLATION_ID}/access_tokens").respond(
            201, json={"token": "ghs_history", "expires_at": expires}
        )
        fake.route = mock.post("/graphql").mock(side_effect=fake.respond)
        yield fake


def run_history(repository, **start: Any) -> HistoryRun:
    run = history.history_run_start(repository=repository, **start)
    tasks.continue_history_run(run.pk)
    run.refresh_from_db()
    return run


def resume_now(run: HistoryRun) -> None:
    """The waiting run's time come: the resumer continues it (as beat would)."""
    HistoryRun.objects.filter(pk=run.pk).update(resume_at=timezone.now() - timedelta(seconds=1))
    tasks.resume_history_runs()
    run.refresh_from_db()


def test_it_loads_several_pages_of_pull_requests(repository, github):
    github.add(
        *[
            pr_node(
                number=n, updated_at=iso(datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=n))
            )
            for n in range(1, 251)
        ]
    )

    run = run_history(repository)

    assert run.status == HistoryRun.Status.DONE
    assert (run.pages_done, run.pull_requests_stored) == (3, 250)
    assert PullRequest.objects.filter(repository=repository).count() == 250
    assert [r["first"] for r in github.requests] == [100, 100, 100]
    assert github.requests[0]["after"] is None
    assert run.started_at is not None and run.finished_at is not None


def test_it_pages_the_reviews_of_a_pull_request_with_250(repository, github):
    reviews = [
        review_node(5000 + i, state="COMMENTED", author=actor(f"r{i}", 900 + i)) for i in range(250)
    ]
    github.add(pr_node(number=1, reviews=reviews), pr_node(number=2))

    run = run_history(repository)

    assert run.reviews_stored == 250
    assert PRReview.objects.filter(pull_request__number=1).count() == 250
    # One page of pull requests, then the 150 reviews past the first 100 in two pages.
    assert len(github.requests) == 3
    assert {r.get("id") for r in github.requests[1:]} == {"PR_kwDO1000001"}


def test_it_loads_what_was_updated_in_the_window_whatever_its_creation(repository, github):
    now = timezone.now()
    github.add(
        pr_node(
            number=1,
            state="MERGED",
            created_at=iso(now - timedelta(days=200)),
            merged_at=iso(now - timedelta(days=10)),
            closed_at=iso(now - timedelta(days=10)),
            updated_at=iso(now - timedelta(days=10)),
        ),
        pr_node(
            number=2,
            created_at=iso(now - timedelta(days=95)),
            updated_at=iso(now - timedelta(days=91)),
        ),
        pr_node(
            number=3,
            created_at=iso(now - timedelta(days=120)),
            updated_at=iso(now - timedelta(days=100)),
        ),
    )

    run = history.history_run_start(repository=repository, days=90)
    HistoryRun.objects.filter(pk=run.pk).update(page_size=1)
    tasks.continue_history_run(run.pk)
    run.refresh_from_db()

    assert list(PullRequest.objects.values_list("number", "state")) == [(1, "merged")]
    assert run.status == HistoryRun.Status.DONE
    # It stopped at the first page older than the window: number 3 was never asked
    # for (the merged number 1's commits were, by its node id).
    assert [r.get("first", r.get("ids")) for r in github.requests] == [1, ["PR_kwDO1000001"], 2]


def test_it_resumes_from_the_stored_cursor_after_a_crash_between_pages(
    repository, github, monkeypatch
):
    github.add(
        *[
            pr_node(
                number=n, updated_at=iso(datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=n))
            )
            for n in range(1, 6)
        ]
    )
    run = history.history_run_start(repository=repository)
    HistoryRun.objects.filter(pk=run.pk).update(page_size=2)
    real_apply = history.events_apply
    pages = []

    def crash_on_the_second_page(*, events):
        pages.append(events)
        if len(pages) == 2:
            raise SystemExit("worker killed")
        return real_apply(events=events)

    monkeypatch.setattr(history, "events_apply", crash_on_the_second_page)
    with pytest.raises(SystemExit):
        tasks.continue_history_run(run.pk)
    run.refresh_from_db()
    assert (run.status, run.pages_done, PullRequest.objects.count()) == ("running", 1, 2)
    stored_cursor = run.cursor

    monkeypatch.setattr(history, "events_apply", real_apply)
    # The resumer finds the run its dead worker left, once it has not moved for a while.
    HistoryRun.objects.filter(pk=run.pk).update(
        updated_at=timezone.now() - history.STALE_AFTER - timedelta(seconds=1)
    )
    assert history.history_runs_due() == [run.pk]
    tasks.resume_history_runs()

    run.refresh_from_db()
    assert run.status == HistoryRun.Status.DONE
    assert PullRequest.objects.count() == 5
    assert run.pull_requests_stored == 5
    # It went on after the last page stored, not from the start.
    assert github.requests[2]["after"] == stored_cursor


def test_a_primary_limit_schedules_the_continuation_at_reset(repository, github, monkeypatch):
    github.add(
        *[
            pr_node(
                number=n, updated_at=iso(datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=n))
            )
            for n in range(1, 4)
        ]
    )
    github.remaining = 2  # the first page leaves one point: not enough for another
    queued = []
    monkeypatch.setattr(scheduling, "is_in_process", lambda: False)
    monkeypatch.setattr(
        tasks.continue_history_run,
        "apply_async",
        lambda args, eta=None, **_: queued.append((args, eta)),
    )
    run = history.history_run_start(repository=repository)
    HistoryRun.objects.filter(pk=run.pk).update(page_size=1)

    assert tasks.continue_history_run(run.pk) == "wait"

    run.refresh_from_db()
    assert run.status == HistoryRun.Status.WAITING
    assert run.resume_at == github.reset_at
    assert queued == [([run.pk], github.reset_at)]
    assert run.pages_done == 1


def test_a_spent_budget_answer_waits_for_its_reset_and_never_fails(repository, github):
    reset_at = timezone.now().replace(microsecond=0) + timedelta(minutes=20)
    github.add(pr_node(number=1))
    github.queue(rate_limited_answer(reset_at))

    run = run_history(repository)

    # In-process there is no eta: the run waits for the resumer, without spinning.
    assert (run.status, run.resume_at, run.error) == ("waiting_rate_limit", reset_at, "")
    assert len(github.requests) == 1
    resume_now(run)
    assert run.status == HistoryRun.Status.DONE
    assert PullRequest.objects.count() == 1


def test_a_secondary_limit_waits_at_least_a_minute_then_goes_on(repository, github):
    github.add(pr_node(number=1), pr_node(number=2, updated_at="2025-01-02T00:00:00Z"))
    github.queue(secondary_limit_answer(retry_after=30), secondary_limit_answer(retry_after=None))
    before = timezone.now()

    run = run_history(repository)

    assert run.status == HistoryRun.Status.WAITING
    assert run.resume_at >= before + timedelta(seconds=60)
    resume_now(run)
    # The second limit in a row waits longer.
    assert run.status == HistoryRun.Status.WAITING
    assert run.resume_at >= timezone.now() + timedelta(seconds=119)
    resume_now(run)
    assert run.status == HistoryRun.Status.DONE
    assert PullRequest.objects.count() == 2


def test_a_secondary_limit_answered_200_without_a_type_waits_too(repository, github):
    # GitHub: the secondary limit comes as "200 or 403", with a message and no
    # documented error type. Read as a refusal, it failed the run for good.
    github.add(pr_node(number=1))
    github.queue(
        httpx.Response(
            200,
            json={
                "errors": [
                    {
                        "message": "You have exceeded a secondary rate limit. Please wait a "
                        "few minutes before you try again."
                    }
                ]
            },
        )
    )
    before = timezone.now()

    run = run_history(repository)

    assert run.status == HistoryRun.Status.WAITING
    assert run.resume_at >= before + timedelta(seconds=60)
    resume_now(run)
    assert run.status == HistoryRun.Status.DONE


def _graphql_error(kind: str, path: list[str], message: str, data: dict) -> httpx.Response:
    return httpx.Response(
        200, json={"data": data, "errors": [{"type": kind, "path": path, "message": message}]}
    )


def test_a_repository_github_no_longer_shows_fails_the_run_at_once_saying_so(repository, github):
    github.add(pr_node(number=1))
    github.queue(
        _graphql_error(
            "NOT_FOUND",
            ["repository"],
            "Could not resolve to a Repository with the name 'acme/api'.",
            {"rateLimit": None, "repository": None},
        )
    )

    run = run_history(repository)

    assert run.status == HistoryRun.Status.FAILED
    assert "does not show acme/api" in run.error
    assert len(github.requests) == 1  # not asked again smaller


def test_a_field_the_installation_may_not_read_fails_the_run_at_once_with_githubs_words(
    repository, github
):
    github.add(pr_node(number=1))
    github.queue(
        _graphql_error(
            "FORBIDDEN",
            ["repository", "pullRequests", "nodes", 0, "mergeCommit"],
            "Resource not accessible by integration",
            {"rateLimit": None, "repository": {"pullRequests": {"nodes": [None]}}},
        )
    )

    run = run_history(repository)

    assert run.status == HistoryRun.Status.FAILED
    assert "Resource not accessible by integration" in run.error
    assert len(github.requests) == 1


def test_a_partial_answer_is_asked_again_smaller(repository, github):
    github.add(
        *[
            pr_node(
                number=n, updated_at=iso(datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=n))
            )
            for n in range(1, 4)
        ]
    )
    github.queue(partial_answer(), partial_answer())

    run = run_history(repository)

    assert [r["first"] for r in github.requests[:3]] == [100, 50, 25]
    assert run.status == HistoryRun.Status.DONE
    assert PullRequest.objects.count() == 3


def test_a_timeout_is_asked_again_smaller(repository, github):
    github.add(pr_node(number=1))
    github.queue(httpx.Response(502, json={"message": "Server Error"}))

    run = run_history(repository)

    assert [r["first"] for r in github.requests] == [100, 50]
    assert run.status == HistoryRun.Status.DONE


def test_it_maps_bots_mannequins_and_deleted_authors_as_webhooks_show_them(repository, github):
    github.add(
        pr_node(number=1, author=actor("dependabot", 49699333, kind="Bot")),
        pr_node(number=2, author=actor("old-svn-user", 8123, kind="Mannequin")),
        pr_node(number=3, author=None, reviews=[review_node(77, author=None)]),
    )

    run_history(repository)

    authors = {
        pr.number: (pr.author.github_id, pr.author.login, pr.author.is_bot)
        for pr in PullRequest.objects.select_related("author")
    }
    assert authors == {
        1: (49699333, "dependabot[bot]", True),
        2: (8123, "old-svn-user", False),
        3: (10137, "ghost", False),
    }
    assert PRReview.objects.get().reviewer.login == "ghost"


def test_it_maps_enterprise_accounts_to_their_user_and_organizations_as_themselves(
    team, repository, github
):
    # GitHub's Actor interface has two more kinds: an enterprise's account of a
    # person (its login may be an email; the person is its `user`) and an
    # organisation. Each is a real author, not GitHub's deleted account.
    github.add(
        pr_node(
            number=1,
            author=enterprise_actor("mona@acme.example", user_id=583231, user_login="mona"),
            reviews=[review_node(77, author=actor("acme-org", 38302899, kind="Organization"))],
        ),
        # An enterprise account GitHub shows no user for has no GitHub id to key
        # a member by: it stays the deleted-account placeholder.
        pr_node(number=2, author=enterprise_actor("gone@acme.example", user_id=None)),
    )

    run_history(repository)

    authors = {
        pr.number: (pr.author.github_id, pr.author.login, pr.author.is_bot)
        for pr in PullRequest.objects.select_related("author")
    }
    assert authors == {1: (583231, "mona", False), 2: (10137, "ghost", False)}
    reviewer = PRReview.objects.get().reviewer
    assert (reviewer.github_id, reviewer.login, reviewer.is_bot) == (38302899, "acme-org", False)
    # The same person's webhook (which carries the user's id) lands on the same member.
    payload = pull_request_payload(
        pr_id=555, number=3, author_id=583231, author_login="mona", repository_id=REPOSITORY_ID
    )
    events_apply(
        events=[
            MetricsEvent(
                team=team,
                repository=repository,
                name="pull_request",
                payload=payload,
                received_at=timezone.now(),
                source=Source.WEBHOOK,
            )
        ]
    )
    assert TeamMember.objects.filter(team=team, github_id=583231).count() == 1
    assert set(
        PullRequest.objects.filter(number__in=(1, 3)).values_list("author__github_id", flat=True)
    ) == {583231}


def test_the_adapter_shows_an_organization_author_as_webhooks_type_it():
    node = pr_node(number=1, author=actor("acme-org", 38302899, kind="Organization"))
    served = FakeGraphQL().served(node, 100, None)

    (_, payload), *_ = pull_request_events(
        served, reviews=[], repository={"id": REPOSITORY_ID, "full_name": "acme/api"}
    )

    assert payload["pull_request"]["user"] == {
        "id": 38302899,
        "login": "acme-org",
        "type": "Organization",
    }


def test_untracking_stops_the_run_with_the_reason(repository, github):
    github.add(pr_node(number=1))
    run = history.history_run_start(repository=repository)
    repository_set_tracked(repository=repository, tracked=False)

    tasks.continue_history_run(run.pk)

    run.refresh_from_db()
    assert (run.status, run.error) == ("stopped", "Tracking was stopped.")
    assert github.requests == []


def test_losing_access_stops_the_run_at_its_next_page(repository, github):
    github.add(pr_node(number=1))
    run = history.history_run_start(repository=repository)
    type(repository).objects.filter(pk=repository.pk).update(accessible=False)

    tasks.continue_history_run(run.pk)

    run.refresh_from_db()
    assert run.status == "stopped"
    assert "removed from the installation" in run.error


def test_one_run_at_a_time_per_repository(repository):
    first = history.history_run_start(repository=repository)
    assert history.history_run_start(repository=repository) == first
    HistoryRun.objects.filter(pk=first.pk).update(status=HistoryRun.Status.DONE)
    assert history.history_run_start(repository=repository) != first
    with pytest.raises(Exception, match=r"one_active_history_run_per_repository|UNIQUE"):
        HistoryRun.objects.create(repository=repository)


def test_tracking_on_the_settings_page_loads_the_history(
    client, owner, team, github, django_capture_on_commit_callbacks
):
    installation = installation_for(team=team, installation_id=INSTALLATION_ID, login="acme")
    repository = repository_for(
        installation=installation, github_id=REPOSITORY_ID, full_name="acme/api", tracked=False
    )
    github.add(pr_node(number=1), pr_node(number=2, updated_at="2025-01-03T00:00:00Z"))
    client.force_login(owner)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/teams/{team.slug}/github/repositories/{repository.pk}/track/", {"tracked": "1"}
        )

    assert PullRequest.objects.filter(repository=repository).count() == 2
    page = client.get(f"/teams/{team.slug}/github/").content.decode()
    assert "done: 2 pull requests (all history)" in page


def test_rerunning_gives_the_same_rows(repository, github):
    github.add(
        pr_node(number=1, reviews=[review_node(9)]),
        pr_node(number=2, updated_at="2025-01-02T00:00:00Z"),
    )
    run_history(repository)
    first = rows(repository.installation.team)
    HistoryRun.objects.update(status=HistoryRun.Status.DONE)

    run_history(repository)

    assert rows(repository.installation.team) == first
    assert HistoryRun.objects.count() == 2


def test_the_enterprise_server_graphql_endpoint():
    assert graphql_endpoint("https://api.github.com") == "https://api.github.com/graphql"
    assert (
        graphql_endpoint("https://ghe.example.com/api/v3") == "https://ghe.example.com/api/graphql"
    )
    assert graphql_endpoint("http://127.0.0.1:9000") == "http://127.0.0.1:9000/graphql"


def test_the_command_loads_a_repository_in_the_foreground(repository, github, capsys):
    github.add(pr_node(number=1), pr_node(number=2, updated_at="2025-01-03T00:00:00Z"))

    call_command("github_history", "acme/api", "--days", "0")

    assert "done: 2 pull requests and 0 reviews in 1 pages." in capsys.readouterr().out
    assert HistoryRun.objects.get().status == "done"


@pytest.mark.parametrize("arguments", [["acme/nope"], ["acme/api", "--days", "٩٠"], ["../x"]])
def test_the_command_refuses_what_it_cannot_load(repository, arguments):
    with pytest.raises((CommandError, SystemExit)):
        call_command("github_history", *arguments)
    assert not HistoryRun.objects.exists()


# --- progress on the settings page ------------------------------------------------


def _settings_page(client, team):
    return client.get(f"/teams/{team.slug}/github/").content.decode()


def test_it_shows_the_progress_of_each_tracked_repository(client, owner, team, repository):
    client.force_login(owner)
    run = HistoryRun.objects.create(
        repository=repository,
        status=HistoryRun.Status.RUNNING,
        pages_done=13,
        page_size=100,
        pull_requests_stored=1240,
        total_count=1540,
    )
    page = _settings_page(client, team)
    assert "1,240 pull requests loaded, about 3 pages left" in page
    assert 'http-equiv="refresh"' in page

    resume_at = datetime(2026, 1, 5, 14, 5, tzinfo=UTC)
    HistoryRun.objects.filter(pk=run.pk).update(status="waiting_rate_limit", resume_at=resume_at)
    assert "waiting for GitHub&#x27;s rate limit until 14:05" in _settings_page(client, team)

    HistoryRun.objects.filter(pk=run.pk).update(
        status="done", pull_requests_stored=2314, window_start=datetime(2026, 9, 1, tzinfo=UTC)
    )
    page = _settings_page(client, team)
    assert "done: 2,314 pull requests since 1 Sep" in page
    assert 'http-equiv="refresh"' not in page

    HistoryRun.objects.filter(pk=run.pk).update(
        status="failed", error="GitHub refused access (403)"
    )
    page = _settings_page(client, team)
    assert '<span class="badge bad" data-role="history-text">failed</span>' in page
    assert "GitHub refused access (403)" in page
    assert f"/github/history/{run.pk}/retry/" in page


def test_it_lets_an_admin_retry_a_failed_run(
    client, owner, team, repository, github, django_capture_on_commit_callbacks
):
    github.add(pr_node(number=1))
    failed = HistoryRun.objects.create(repository=repository, status="failed", error="boom")
    client.force_login(owner)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/teams/{team.slug}/github/history/{failed.pk}/retry/")

    assert response.status_code == 302
    assert HistoryRun.objects.exclude(pk=failed.pk).get().status == "done"


def test_it_does_not_let_a_member_or_an_outsider_retry(client, member, outsider, team, repository):
    failed = HistoryRun.objects.create(repository=repository, status="failed", error="boom")
    client.force_login(member)
    assert client.post(f"/teams/{team.slug}/github/history/{failed.pk}/retry/").status_code == 403
    client.force_login(outsider)
    assert client.post(f"/teams/{team.slug}/github/history/{failed.pk}/retry/").status_code == 404
    assert HistoryRun.objects.count() == 1


# --- the same rows as webhooks -----------------------------------------------------

CLOCKS = {
    "id",
    "pr_updated_at",
    "pr_received_at",
    "draft_snapshot_at",
    "draft_received_at",
    "size_snapshot_at",
    "size_received_at",
    "created_at",
    "updated_at",
}


def rows(team: Team) -> dict[str, Any]:
    pull_requests = [
        {k: v for k, v in row.items() if k not in CLOCKS}
        for row in PullRequest.objects.filter(team=team)
        .annotate(author_github_id=F("author__github_id"))
        .values()
        .order_by("github_id")
    ]
    for row in pull_requests:
        row.pop("author_id")
    reviews = list(
        PRReview.objects.filter(team=team)
        .order_by("github_id")
        .values_list(
            "github_id", "pull_request__github_id", "reviewer__github_id", "state", "submitted_at"
        )
    )
    members = list(
        TeamMember.objects.filter(team=team)
        .order_by("github_id")
        .values_list("github_id", "login", "is_bot")
    )
    return {"pull_requests": pull_requests, "reviews": reviews, "members": members}


T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
BODY = "This is a pretty simple change that we need to pull into main."


def _times(number: int) -> list[str]:
    return [iso(T0 + timedelta(hours=number * 10 + step)) for step in range(4)]


def webhook_events(number: int) -> list[tuple[str, dict[str, Any]]]:
    """A pull request's life as webhooks tell it: opened as a draft, made ready,
    approved, merged."""
    opened, ready, reviewed, merged = _times(number)
    common = {
        "pr_id": 7000 + number,
        "number": number,
        "repository_id": REPOSITORY_ID,
        "repository_full_name": "acme/api",
        "head_ref": "changes",
        "body": BODY,
        "created_at": opened,
    }
    return [
        ("pull_request", pull_request_payload("opened", draft=True, updated_at=opened, **common)),
        ("pull_request", pull_request_payload("ready_for_review", updated_at=ready, **common)),
        (
            "pull_request_review",
            review_payload(review_id=9000 + number, submitted_at=reviewed, **common),
        ),
        (
            "pull_request",
            pull_request_payload(
                "closed",
                state="closed",
                merged=True,
                merged_at=merged,
                closed_at=merged,
                updated_at=merged,
                **common,
            ),
        ),
    ]


def history_node(number: int, seen: int) -> dict[str, Any]:
    """The same pull request as GraphQL shows it after the first `seen` of those events."""
    opened, ready, reviewed, merged = _times(number)
    done = seen >= 4
    return pr_node(
        number=number,
        pr_id=7000 + number,
        title="Update the README with new information.",
        body=BODY,
        state="MERGED" if done else "OPEN",
        created_at=opened,
        updated_at=_times(number)[seen - 1],
        merged_at=merged if done else None,
        closed_at=merged if done else None,
        is_draft=seen < 2,
        additions=1,
        deletions=1,
        head="changes",
        ready_for_review_at=ready if seen >= 2 else None,
        reviews=[review_node(9000 + number, submitted_at=reviewed, author=actor("octocat", 5346))]
        if seen >= 3
        else [],
    )


def _history_events(team, repository, numbers_seen):
    events = []
    for number, seen in numbers_seen:
        node = history_node(number, seen)
        served = FakeGraphQL().served(node, 100, None)
        for name, payload in pull_request_events(
            served,
            reviews=served["reviews"]["nodes"],
            repository={"id": REPOSITORY_ID, "full_name": "acme/api"},
        ):
            events.append(
                MetricsEvent(
                    team=team,
                    repository=repository,
                    name=name,
                    payload=payload,
                    received_at=None,
                    source=Source.HISTORY,
                )
            )
    return events


def _apply_webhooks(team, repository, events, start):
    for offset, (name, payload) in enumerate(events):
        events_apply(
            events=[
                MetricsEvent(
                    team=team,
                    repository=repository,
                    name=name,
                    payload=payload,
                    received_at=start + timedelta(seconds=offset),
                    source=Source.WEBHOOK,
                )
            ]
        )


def test_history_alone_gives_the_rows_webhooks_give(team, repository):
    _apply_webhooks(team, repository, webhook_events(1), T0 + timedelta(days=30))
    by_webhooks = rows(team)
    PullRequest.objects.all().delete()
    TeamMember.objects.all().delete()

    events_apply(events=_history_events(team, repository, [(1, 4)]))

    assert rows(team) == by_webhooks
    pull_request = PullRequest.objects.get()
    assert pull_request.ready_for_review_at == datetime.fromisoformat(_times(1)[1])
    assert pull_request.first_review_at is not None and pull_request.cycle_time_hours == 3.0


@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seen=st.lists(st.integers(min_value=1, max_value=4), min_size=2, max_size=2),
    history_at=st.integers(min_value=0, max_value=8),
    twice=st.booleans(),
)
def test_webhooks_and_history_in_any_interleaving_give_the_rows_of_webhooks_alone(
    team, repository, seen, history_at, twice
):
    webhooks = [event for number in (1, 2) for event in webhook_events(number)]
    # GitHub sends each pull request's events in order; the two interleave.
    webhooks.sort(key=lambda event: event[1]["pull_request"]["updated_at"])
    received = T0 + timedelta(days=30)
    PullRequest.objects.all().delete()
    TeamMember.objects.all().delete()
    _apply_webhooks(team, repository, webhooks, received)
    alone = rows(team)
    PullRequest.objects.all().delete()
    TeamMember.objects.all().delete()

    # History read after the first `seen[i]` events of pull request i, applied at
    # any point among the webhooks (before, between, after), maybe twice.
    history_events = _history_events(team, repository, [(1, seen[0]), (2, seen[1])])
    _apply_webhooks(team, repository, webhooks[:history_at], received)
    events_apply(events=history_events)
    _apply_webhooks(
        team, repository, webhooks[history_at:], received + timedelta(seconds=history_at)
    )
    if twice:
        events_apply(events=history_events)

    assert rows(team) == alone


def test_a_claim_queues_history_for_the_repositories_the_team_tracks(
    repository, github, django_capture_on_commit_callbacks
):
    untracked = repository_for(
        installation=repository.installation, github_id=101, full_name="acme/web", tracked=False
    )
    github.add(pr_node(number=1))

    with django_capture_on_commit_callbacks(execute=True):
        runs = history.history_backfill_installation(installation=repository.installation)

    assert [run.repository for run in runs] == [repository]
    assert not HistoryRun.objects.filter(repository=untracked).exists()
    assert HistoryRun.objects.get().status == "done"
    assert PullRequest.objects.count() == 1


# --- retrying honestly, and what members see --------------------------------------


def _messages(response) -> list[tuple[str, str]]:
    return [(message.tags, str(message)) for message in response.context["messages"]]


def test_it_refuses_a_retry_that_could_only_fail_again(client, owner, team, repository, settings):
    settings.GITHUB_APP_ID = ""
    failed = HistoryRun.objects.create(
        repository=repository, status="failed", error="no GitHub App is configured"
    )
    client.force_login(owner)

    response = client.post(f"/teams/{team.slug}/github/history/{failed.pk}/retry/", follow=True)

    assert HistoryRun.objects.get() == failed
    (tags, text), *_ = _messages(response)
    assert tags == "error"
    assert "cannot be loaded: no GitHub App is configured" in text
    assert "/github/manifest/" in text


# Committed for real, as in production: with in-process tasks the run is over
# before the view answers.
@pytest.mark.django_db(transaction=True)
def test_it_says_a_retried_run_failed_again_in_red(client, owner, team, repository, github):
    github.route.side_effect = None
    github.route.return_value = httpx.Response(403, json={"message": "Resource not accessible"})
    failed = HistoryRun.objects.create(repository=repository, status="failed", error="boom")
    client.force_login(owner)

    response = client.post(f"/teams/{team.slug}/github/history/{failed.pk}/retry/", follow=True)

    again = HistoryRun.objects.exclude(pk=failed.pk).get()
    assert again.status == "failed"
    [(tags, text)] = _messages(response)
    assert tags == "error"
    assert text.startswith("History of acme/api: failed (")


# Committed for real, as in production: with in-process tasks the run is over
# before the view answers.
@pytest.mark.django_db(transaction=True)
def test_it_says_a_retried_run_loaded_in_green(client, owner, team, repository, github):
    github.add(pr_node(number=1))
    failed = HistoryRun.objects.create(repository=repository, status="failed", error="boom")
    client.force_login(owner)

    response = client.post(f"/teams/{team.slug}/github/history/{failed.pk}/retry/", follow=True)

    [(tags, text)] = _messages(response)
    assert tags == "success"
    assert text == "History of acme/api: done: 1 pull request (all history)."


NOT_CONFIGURED = (
    "no GitHub App is configured: create it from the manifest (/github/manifest/) "
    "or set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY"
)


def test_it_shows_members_why_a_run_failed_without_naming_settings(
    client, owner, member, team, repository
):
    HistoryRun.objects.create(repository=repository, status="failed", error=NOT_CONFIGURED)

    client.force_login(member)
    page = _settings_page(client, team)
    assert '<span class="badge bad" data-role="history-text">failed</span>' in page
    assert "A team admin sees why and can retry." in page
    assert "GITHUB_" not in page
    assert "/github/manifest/" not in page

    client.force_login(owner)
    page = _settings_page(client, team)
    assert "set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY" in page


def test_it_shows_members_a_failing_github_without_its_error(client, member, team, repository):
    HistoryRun.objects.create(
        repository=repository,
        status="waiting_rate_limit",
        failures=2,
        error="GitHub answered 502 (GITHUB_API_URL=https://ghe.example)",
        resume_at=timezone.now() + timedelta(minutes=1),
    )
    client.force_login(member)
    page = _settings_page(client, team)
    assert "GitHub is failing; trying again at" in page
    assert "GITHUB_API_URL" not in page
