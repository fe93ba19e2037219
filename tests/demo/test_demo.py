"""The demo: deliveries stored as the webhook stores them and drained, the same
rows on a second run, every case of the story present."""

from __future__ import annotations

import re
from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count

from apps.demo import story
from apps.demo.feed import DEMO_ADMIN_USERNAME, demo_run
from apps.integrations.models import HistoryRun, Installation, Repository, WebhookDelivery
from apps.metrics.models import (
    Deployment,
    MergeQuestion,
    PRReview,
    PullRequest,
    PullRequestEvent,
    TeamMember,
)

pytestmark = pytest.mark.django_db


def _rows() -> dict[str, object]:
    return {
        "pull_requests": sorted(
            PullRequest.objects.values_list(
                "github_id", "state", "merged_at", "first_review_at", "is_revert", "reverts_id"
            )
        ),
        "reviews": sorted(PRReview.objects.values_list("github_id", "state", "submitted_at")),
        "members": sorted(TeamMember.objects.values_list("github_id", "login", "is_bot")),
        "deliveries": sorted(WebhookDelivery.objects.values_list("delivery_id", "status")),
        "repositories": sorted(Repository.objects.values_list("github_id", "tracked")),
    }


def test_it_gives_the_same_rows_when_run_twice(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = demo_run()
    rows = _rows()
    with django_capture_on_commit_callbacks(execute=True):
        second = demo_run()

    assert _rows() == rows
    deliveries = story.demo_deliveries(anchor=story.demo_anchor())
    assert first.posted == len(deliveries) + 1
    assert first.accepted == len(deliveries)
    # The repeated delivery: its id was stored already.
    assert first.repeats == 1
    assert second.accepted == 0
    assert second.repeats == second.posted
    assert WebhookDelivery.objects.count() == len(deliveries)
    assert (
        not PullRequest.objects.values("team", "github_id").annotate(n=Count("pk")).filter(n__gt=1)
    )
    assert Installation.objects.get().team == first.team == second.team


def test_it_processes_or_ignores_every_delivery_with_a_reason(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        demo_run()

    statuses = Counter(WebhookDelivery.objects.values_list("status", flat=True))
    assert set(statuses) == {"processed", "ignored"}, statuses
    assert not WebhookDelivery.objects.filter(status="ignored", status_reason="").exists()
    reasons = set(
        WebhookDelivery.objects.filter(status="ignored").values_list("status_reason", flat=True)
    )
    assert reasons == {
        "A ping only checks that the webhook is reachable.",
        "tformance-demo/sandbox is not tracked by Demo team.",
    }
    assert 300 <= statuses["processed"] <= 600


def test_its_deliveries_and_lifecycle_events_carry_the_demo_as_their_source(
    django_capture_on_commit_callbacks, announced
):
    with django_capture_on_commit_callbacks(execute=True):
        demo_run()

    assert set(WebhookDelivery.objects.values_list("source", flat=True)) == {"demo"}
    assert set(PullRequestEvent.objects.values_list("source", flat=True)) == {"demo"}
    assert (
        PullRequestEvent.objects.filter(kind="merged").count()
        == PullRequest.objects.filter(state="merged").count()
    )
    # The story happened before its repositories were tracked: nothing is news.
    assert not PullRequestEvent.objects.filter(live=True).exists()
    assert announced == []


def test_it_includes_every_case_of_the_story(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = demo_run()
    pulls = PullRequest.objects.filter(team=result.team)

    tracked = Repository.objects.filter(tracked=True).values_list("full_name", flat=True)
    assert sorted(tracked) == ["tformance-demo/api", "tformance-demo/mobile", "tformance-demo/web"]
    oldest = pulls.order_by("pr_created_at").first().pr_created_at
    newest = pulls.order_by("-pr_created_at").first().pr_created_at
    assert (newest - oldest).days >= 80
    humans = TeamMember.objects.filter(team=result.team, is_bot=False)
    assert humans.filter(authored_pull_requests__isnull=False).distinct().count() >= 5
    assert humans.filter(reviews__isnull=False).distinct().count() >= 5
    # Drafts made ready, and drafts still open.
    assert pulls.filter(ready_for_review_at__isnull=False, state="merged").exists()
    assert pulls.filter(is_draft=True, state="open").exists()
    assert pulls.filter(state="merged").count() >= 50
    assert pulls.filter(state="closed").exists()
    assert pulls.filter(state="open").exists()
    # Reverts linked to the pull requests they revert.
    reverts = pulls.filter(is_revert=True)
    assert reverts.count() == 2
    for revert in reverts:
        assert revert.reverts is not None
        assert revert.title == f'Revert "{revert.reverts.title}"'
    assert pulls.filter(is_hotfix=True, state="merged").count() >= 2
    bot = TeamMember.objects.get(team=result.team, login="dependabot[bot]")
    assert bot.is_bot
    assert pulls.filter(author=bot, state="merged").count() >= 5
    assert PRReview.objects.filter(team=result.team, state="dismissed").exists()
    assert PRReview.objects.filter(team=result.team, state="changes_requested").exists()
    # The metrics were derived: cycle times and first reviews.
    merged = pulls.filter(state="merged", author__is_bot=False)
    assert not merged.filter(cycle_time_hours__isnull=True).exists()
    assert not merged.filter(first_review_at__isnull=True).exists()
    # The api deploys: one deployment fails, one is rolled back, a hotfix ships,
    # and what each shipped gives its pull requests their lead time.
    deployments = Deployment.objects.filter(team=result.team, source="github")
    assert deployments.filter(status="success").count() >= 30
    assert deployments.filter(failure_reason="status").count() == 1
    assert deployments.filter(failure_reason="rolled_back").count() == 1
    assert deployments.filter(is_rework=True).count() >= 2  # the rollback, a hotfix
    hotfix = pulls.filter(is_hotfix=True, repository__full_name="tformance-demo/api").first()
    assert hotfix is not None and hotfix.deployment.source == "github"
    api = merged.filter(repository__full_name="tformance-demo/api", deployment__source="github")
    assert api.count() >= 20
    assert not api.filter(lead_time_hours__isnull=True).exists()


def test_it_waits_for_workers_when_tasks_are_queued(
    django_capture_on_commit_callbacks, monkeypatch
):
    """With REDIS_URL set the webhook only queues a wake-up: the deliveries wait
    in "received" until a worker drains them, and then all go through."""
    from celery import current_app

    from apps.integrations import scheduling
    from apps.integrations.scheduling.wake import DrainWaker
    from apps.integrations.tasks import drain_deliveries

    queued: list[dict[str, object]] = []

    def send(woken_for: float | None, countdown: float | None) -> None:
        queued.append({"woken_for": woken_for, "countdown": countdown})

    monkeypatch.setattr(scheduling, "_waker", DrainWaker(send=send, interval=0.1))

    eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = False
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = demo_run()
    finally:
        current_app.conf.task_always_eager = eager

    assert queued
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"received"}
    assert not PullRequest.objects.exists()

    # What a worker runs for the last wake-up queued.
    drain_deliveries.apply(kwargs={"woken_for": queued[-1]["woken_for"]})

    statuses = Counter(WebhookDelivery.objects.values_list("status", flat=True))
    assert set(statuses) == {"processed", "ignored"}
    assert PullRequest.objects.filter(team=result.team, state="merged").count() >= 50


def test_it_prints_a_login_that_works(client, django_capture_on_commit_callbacks):
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("demo", "--base-url", "http://127.0.0.1:8000", stdout=out)
    text = out.getvalue()
    match = re.search(rf"as\s+{DEMO_ADMIN_USERNAME}\s+with password\s+(\S+)", text)
    assert match, text
    assert "http://127.0.0.1:8000/teams/demo-team/" in text
    response = client.post("/login/", {"username": DEMO_ADMIN_USERNAME, "password": match[1]})
    assert response.status_code == 302
    page = client.get("/teams/demo-team/")
    assert page.status_code == 200
    assert b'data-role="figures"' in page.content, page.content.decode()[-3000:]
    assert b'data-role="next-step"' not in page.content


def test_it_opens_on_the_demos_own_history_not_a_failed_run(
    client, django_capture_on_commit_callbacks, settings
):
    settings.GITHUB_APP_ID = ""
    with django_capture_on_commit_callbacks(execute=True):
        result = demo_run()

    assert Installation.objects.get().demo
    assert not HistoryRun.objects.exists()
    client.force_login(result.team.memberships.get(user__username=DEMO_ADMIN_USERNAME).user)
    page = client.get("/teams/demo-team/github/").content.decode()
    assert page.count("the demo&#x27;s story: 90 days sent as webhook deliveries") == 3
    assert "failed" not in page
    assert "Re-sync from GitHub" not in page
    assert 'data-role="demo-note"' in page
    # Not "signed": the demo stores its deliveries, it does not post them (docs/demo.md).
    assert "signed webhook" not in page

    # Tracking a demo repository again starts no run either.
    sandbox = Repository.objects.get(full_name="tformance-demo/sandbox")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/teams/demo-team/github/repositories/{sandbox.pk}/track/", {"tracked": "1"})
    assert Repository.objects.get(pk=sandbox.pk).tracked
    assert not HistoryRun.objects.exists()


def test_it_clears_the_failed_runs_an_older_demo_left():
    """Migration 0011 on a database where the demo ran before the flag existed."""
    from importlib import import_module

    from django.apps import apps

    older = Installation.objects.create(
        installation_id=story.INSTALLATION_ID, account_login=story.ORGANIZATION["login"]
    )
    real = Installation.objects.create(installation_id=story.INSTALLATION_ID + 1)
    for installation in (older, real):
        repository = Repository.objects.create(
            installation=installation, github_id=installation.pk, full_name="x/api", tracked=True
        )
        HistoryRun.objects.create(repository=repository, status="failed", error="no GitHub App")

    migration = import_module("apps.integrations.migrations.0011_installation_demo")
    migration.mark_the_demo(apps, None)

    assert Installation.objects.get(pk=older.pk).demo
    assert not Installation.objects.get(pk=real.pk).demo
    assert list(HistoryRun.objects.values_list("repository__installation", flat=True)) == [real.pk]


def test_it_keeps_the_password_and_sessions_unless_asked(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = demo_run()
    assert first.password
    assert client.login(username=DEMO_ADMIN_USERNAME, password=first.password)

    with django_capture_on_commit_callbacks(execute=True):
        again = demo_run()
    assert again.password is None
    assert client.get("/teams/demo-team/").status_code == 200  # still logged in

    with django_capture_on_commit_callbacks(execute=True):
        reset = demo_run(reset_password=True)
    assert reset.password and reset.password != first.password
    # The new password ends the old sessions (Django's session hash).
    assert client.get("/teams/demo-team/").status_code == 302
    assert client.login(username=DEMO_ADMIN_USERNAME, password=reset.password)
    assert not client.login(username=DEMO_ADMIN_USERNAME, password=first.password)


def test_its_people_have_answered_the_merge_question(client, django_capture_on_commit_callbacks):
    """Once its deliveries are processed, the demo links its six people to
    accounts and asks and answers their merges: the dashboard shows the answers
    (more than 3 people), and demo-admin has open and answered questions."""
    with django_capture_on_commit_callbacks(execute=True):
        waiting = demo_run()
    # Here the drain ran after demo_run's commits: the answers came with a second run.
    assert waiting.questions_asked is None
    first = demo_run()
    answers = dict(
        MergeQuestion.objects.values_list("pull_request__github_id", "answer").order_by()
    )
    second = demo_run()

    assert first.questions_asked == second.questions_asked >= 30
    assert first.questions_answered == second.questions_answered >= 20
    assert (
        dict(MergeQuestion.objects.values_list("pull_request__github_id", "answer").order_by())
        == answers
    )
    assert not MergeQuestion.objects.filter(member__is_bot=True).exists()
    admin = first.team.memberships.get(user__username=DEMO_ADMIN_USERNAME).user
    mine = MergeQuestion.objects.filter(user=admin, status="asked")
    assert mine.filter(answer="").exists() and mine.exclude(answer="").exists()

    client.force_login(admin)
    survey = client.get("/api/teams/demo-team/metrics/?days=90").json()["ai"]["survey"]
    assert survey["people_answered"] >= 3
    assert sum(survey["answers"].values()) == survey["answered"]
    page = client.get("/teams/demo-team/your-pull-requests/").content.decode()
    assert 'data-role="open-questions"' in page and 'data-role="answered"' in page
