"""GitHub's documented example payloads (tests/payloads/github/, one file per
event and action), each sent through the real endpoint, signed, and drained:
what became of the delivery and of the rows. One test per payload; the routing
table and the files are checked against each other."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from apps.integrations.models import Installation, Repository, WebhookDelivery
from apps.integrations.pipeline.routing import ANY_ACTION, IGNORED_EVENTS, ROUTES
from apps.metrics.models import Deployment, PRReview, PullRequest, TeamMember
from tests.integrations.conftest import installation_for, repository_for

pytestmark = pytest.mark.django_db

RECORDED = Path(__file__).parents[1] / "payloads" / "github"
# The installation octokit's examples name (and the one GitHub adds where they have none).
INSTALLATION_ID = 1
HELLO_WORLD = (186853002, "Codertocat/Hello-World")
OCTOCODERS = (186853261, "Octocoders/Hello-World")
PULL_REQUEST_ID = 279147437


def recorded(name: str) -> dict[str, Any]:
    return json.loads((RECORDED / f"{name}.json").read_text())


def _event_and_action(name: str) -> tuple[str, str | None]:
    event, _, action = name.partition(".")
    return event, action or None


def as_delivered_to_the_app(payload: dict[str, Any]) -> dict[str, Any]:
    """GitHub adds an installation block to every delivery made to a GitHub App;
    the examples taken from repository webhooks lack it."""
    payload.setdefault(
        "installation", {"id": INSTALLATION_ID, "node_id": "MDIzOkluc3RhbGxhdGlvbjE="}
    )
    return payload


@pytest.fixture
def send(deliver):
    """Send a recorded payload as its event; the delivery as the drain left it."""

    def post(name: str, **changes: Any) -> WebhookDelivery:
        event, _ = _event_and_action(name)
        payload = (
            as_delivered_to_the_app(recorded(name)) if event != "installation" else recorded(name)
        )
        payload.update(changes)
        delivery_id = f"recorded-{name}-{len(changes)}"
        response = deliver(event, payload, delivery_id=delivery_id)
        assert response.status_code == 202, response.content
        return WebhookDelivery.objects.get(delivery_id=delivery_id)

    return post


@pytest.fixture
def hello_world(team):
    """The examples' installation, claimed by the team, with Hello-World tracked."""
    installation = installation_for(team=team, installation_id=INSTALLATION_ID, login="Codertocat")
    return repository_for(
        installation=installation, github_id=HELLO_WORLD[0], full_name=HELLO_WORLD[1]
    )


def _pull_request() -> PullRequest:
    return PullRequest.objects.get(github_id=PULL_REQUEST_ID)


def _processed(delivery: WebhookDelivery) -> None:
    assert (delivery.status, delivery.last_error) == ("processed", ""), delivery.status_reason


# --- the table and the files ------------------------------------------------------


def test_every_routed_event_and_action_has_a_recorded_payload_and_every_payload_is_routed():
    names = {path.stem for path in RECORDED.glob("*.json")}
    recorded_pairs = {_event_and_action(name) for name in names}
    recorded_events = {event for event, _ in recorded_pairs}
    for event, action in ROUTES:
        if action is ANY_ACTION:
            assert event in recorded_events, f"no recorded {event} payload"
        else:
            assert (event, action) in recorded_pairs, f"no recorded {event}.{action} payload"
    for event in IGNORED_EVENTS:
        assert event in recorded_events, f"no recorded {event} payload"
    for event, action in recorded_pairs:
        routed = (event, action) in ROUTES or (event, ANY_ACTION) in ROUTES
        assert routed or event in IGNORED_EVENTS, f"{event}.{action} is neither routed nor ignored"


def test_every_recorded_payload_has_its_test():
    module = sys.modules[__name__]
    for path in RECORDED.glob("*.json"):
        name = "test_" + path.stem.replace(".", "_")
        assert callable(getattr(module, name, None)), f"{path.name} has no test {name}"


# --- installation ------------------------------------------------------------------


def test_installation_created(send):
    _processed(send("installation.created"))
    installation = Installation.objects.get(installation_id=957387)
    assert (installation.account_login, installation.account_type) == ("Codertocat", "User")
    assert installation.team is None  # a team claims it from its settings page
    assert list(installation.repositories.values_list("github_id", "full_name")) == [
        (186853002, "Codertocat/Hello-World")
    ]


def test_installation_deleted(send):
    _processed(send("installation.deleted"))
    installation = Installation.objects.get(installation_id=2)
    assert installation.deleted_at is not None


def test_installation_new_permissions_accepted(send):
    _processed(send("installation.new_permissions_accepted"))
    installation = Installation.objects.get(installation_id=957387)
    assert (
        installation.permissions
        == recorded("installation.new_permissions_accepted")["installation"]["permissions"]
    )


def test_installation_suspend(send):
    _processed(send("installation.suspend"))
    installation = Installation.objects.get(installation_id=16598467)
    assert installation.suspended_at == datetime(2021, 4, 29, 2, 32, 50, tzinfo=UTC)


def test_installation_unsuspend(send):
    send("installation.suspend")
    _processed(send("installation.unsuspend"))
    assert Installation.objects.get(installation_id=16598467).suspended_at is None


def test_installation_repositories_added(send):
    send("installation.created")
    _processed(send("installation_repositories.added"))
    names = Installation.objects.get(installation_id=957387).repositories.values_list(
        "full_name", flat=True
    )
    assert set(names) == {"Codertocat/Hello-World", "Codertocat/Space"}


def test_installation_repositories_removed(send, team):
    installation = installation_for(team=team, installation_id=2, login="octocat")
    repository_for(installation=installation, github_id=1296269, full_name="octocat/Hello-World")
    _processed(send("installation_repositories.removed"))
    repository = Repository.objects.get(installation__installation_id=2, github_id=1296269)
    assert repository.accessible is False


def test_installation_target_renamed(send):
    send("installation.created")
    _processed(send("installation_target.renamed"))
    assert Installation.objects.get(installation_id=957387).account_login == "Codertocat-renamed"


# --- repository ----------------------------------------------------------------------


@pytest.fixture
def octocoders(team):
    installation = installation_for(team=team, installation_id=INSTALLATION_ID, login="Octocoders")
    return repository_for(
        installation=installation, github_id=OCTOCODERS[0], full_name="octocat/Hello-World"
    )


def test_repository_created(send, octocoders):
    # A repository not recorded yet changes nothing: installation events record them.
    _processed(send("repository.created"))
    assert Repository.objects.count() == 1


def test_repository_edited(send, octocoders):
    _processed(send("repository.edited"))
    octocoders.refresh_from_db()
    assert octocoders.full_name == "Octocoders/Hello-World"


def test_repository_renamed(send, octocoders):
    _processed(send("repository.renamed"))
    octocoders.refresh_from_db()
    assert octocoders.full_name == "Octocoders/Hello-World"


def test_repository_transferred(send, octocoders):
    _processed(send("repository.transferred"))
    octocoders.refresh_from_db()
    assert octocoders.full_name == "Octocoders/Hello-World"


def test_repository_privatized(send, hello_world):
    _processed(send("repository.privatized"))
    hello_world.refresh_from_db()
    assert hello_world.private is True


def test_repository_publicized(send, hello_world):
    send("repository.privatized")
    _processed(send("repository.publicized"))
    hello_world.refresh_from_db()
    assert hello_world.private is False


# --- pull_request ----------------------------------------------------------------------


def test_pull_request_opened(send, hello_world, team):
    _processed(send("pull_request.opened"))
    pull_request = _pull_request()
    assert (pull_request.team, pull_request.repository, pull_request.number) == (
        team,
        hello_world,
        2,
    )
    assert (pull_request.state, pull_request.title) == (
        "open",
        "Update the README with new information.",
    )
    assert pull_request.pr_created_at == datetime(2019, 5, 15, 15, 20, 33, tzinfo=UTC)
    assert pull_request.author == TeamMember.objects.get(team=team, github_id=21031067)
    assert (pull_request.additions, pull_request.deletions, pull_request.labels) == (1, 1, ["bug"])


def test_pull_request_ignored_while_its_repository_is_not_tracked(send, hello_world):
    Repository.objects.filter(pk=hello_world.pk).update(tracked=False)
    delivery = send("pull_request.opened")
    assert delivery.status == "ignored"
    assert delivery.status_reason == "Codertocat/Hello-World is not tracked by Acme."
    assert not PullRequest.objects.exists()


def test_pull_request_assigned(send, hello_world):
    _processed(send("pull_request.assigned"))
    assert _pull_request().state == "open"


def test_pull_request_closed(send, hello_world):
    send("pull_request.opened")
    _processed(send("pull_request.closed"))
    pull_request = _pull_request()
    assert (pull_request.state, pull_request.merged_at) == ("closed", None)
    assert pull_request.closed_at == datetime(2019, 5, 15, 15, 21, 18, tzinfo=UTC)
    assert pull_request.cycle_time_hours is None


def test_pull_request_converted_to_draft(send, hello_world):
    _processed(send("pull_request.converted_to_draft"))
    assert _pull_request().is_draft is True


def test_pull_request_ready_for_review(send, hello_world):
    _processed(send("pull_request.ready_for_review"))
    pull_request = _pull_request()
    assert pull_request.is_draft is False
    assert pull_request.ready_for_review_at == datetime(2019, 5, 15, 15, 21, 18, tzinfo=UTC)


def test_pull_request_labeled(send, hello_world):
    _processed(send("pull_request.labeled"))
    assert _pull_request().labels == ["bug"]


def test_pull_request_unlabeled(send, hello_world):
    _processed(send("pull_request.unlabeled"))
    assert _pull_request().labels == ["bug"]


def test_pull_request_locked(send, hello_world):
    _processed(send("pull_request.locked"))
    assert _pull_request().pr_updated_at == datetime(2019, 5, 15, 15, 20, 36, tzinfo=UTC)


def test_pull_request_unlocked(send, hello_world):
    _processed(send("pull_request.unlocked"))
    assert _pull_request().pr_updated_at == datetime(2019, 5, 15, 15, 20, 37, tzinfo=UTC)


def test_pull_request_reopened(send, hello_world):
    send("pull_request.closed")
    _processed(send("pull_request.reopened"))
    # The reopened example is older (updated 15:20:33) than the closed one
    # (15:21:18): it cannot undo the newer close.
    assert _pull_request().state == "closed"


def test_pull_request_review_requested(send, hello_world):
    _processed(send("pull_request.review_requested"))
    assert _pull_request().first_review_at is None
    # The pull request's whole list of requested reviewers (docs/slack.md).
    assert _pull_request().requested_reviewers == [{"github_id": 5346, "login": "octocat"}]


def test_pull_request_review_request_removed(send, hello_world):
    _processed(send("pull_request.review_request_removed"))
    assert _pull_request().first_review_at is None
    # The list as the example's snapshot has it (octokit's example still names octocat).
    assert _pull_request().requested_reviewers == [{"github_id": 5346, "login": "octocat"}]


def test_pull_request_synchronize(send, hello_world):
    _processed(send("pull_request.synchronize"))
    assert _pull_request().head_branch == "changes"


def test_pull_request_unassigned(send, hello_world):
    _processed(send("pull_request.unassigned"))
    assert _pull_request().pr_updated_at == datetime(2019, 5, 15, 15, 20, 35, tzinfo=UTC)


# --- pull_request_review -------------------------------------------------------------------


def test_pull_request_review_submitted(send, hello_world):
    _processed(send("pull_request_review.submitted"))
    review = PRReview.objects.get(github_id=237895671)
    assert (review.state, review.pull_request) == ("commented", _pull_request())
    assert review.reviewer.login == "Codertocat"
    # The author's own comment is no first review.
    assert _pull_request().first_review_at is None


def test_pull_request_review_dismissed(send, hello_world):
    _processed(send("pull_request_review.dismissed"))
    review = PRReview.objects.get(github_id=237895671)
    assert review.state == "dismissed"
    assert review.pull_request.github_id == 370123640


# --- recorded, deliberately not processed ----------------------------------------------


def test_ping(send):
    delivery = send("ping")
    assert (delivery.status, delivery.status_reason) == ("ignored", IGNORED_EVENTS["ping"])


def test_github_app_authorization_revoked(send):
    delivery = send("github_app_authorization.revoked")
    assert delivery.status == "ignored"
    assert delivery.status_reason == IGNORED_EVENTS["github_app_authorization"]


def _ignored_review_activity(send, name: str, event: str) -> None:
    delivery = send(name)
    assert (delivery.status, delivery.status_reason) == ("ignored", IGNORED_EVENTS[event])
    assert not PullRequest.objects.exists()


def test_pull_request_review_comment_created(send, hello_world):
    _ignored_review_activity(
        send, "pull_request_review_comment.created", "pull_request_review_comment"
    )


def test_pull_request_review_comment_edited(send, hello_world):
    _ignored_review_activity(
        send, "pull_request_review_comment.edited", "pull_request_review_comment"
    )


def test_pull_request_review_comment_deleted(send, hello_world):
    _ignored_review_activity(
        send, "pull_request_review_comment.deleted", "pull_request_review_comment"
    )


def test_pull_request_review_thread_resolved(send, hello_world):
    _ignored_review_activity(
        send, "pull_request_review_thread.resolved", "pull_request_review_thread"
    )


def test_pull_request_review_thread_unresolved(send, hello_world):
    _ignored_review_activity(
        send, "pull_request_review_thread.unresolved", "pull_request_review_thread"
    )


# --- deployments ----------------------------------------------------------------------

DEPLOYMENT_ID = 145988746


def test_deployment_created(send, hello_world):
    _processed(send("deployment.created"))
    deployment = Deployment.objects.get(key=f"github:{DEPLOYMENT_ID}")
    assert (deployment.sha, deployment.environment, deployment.status) == (
        "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
        "production",
        "pending",
    )
    assert (deployment.is_production, deployment.repository) == (True, hello_world)
    assert deployment.started_at == datetime(2019, 5, 15, 15, 20, 53, tzinfo=UTC)
    assert deployment.finished_at is None


def test_deployment_status_created(send, hello_world):
    _processed(send("deployment_status.created"))
    deployment = Deployment.objects.get(key=f"github:{DEPLOYMENT_ID}")
    assert (deployment.status, deployment.is_production) == ("success", True)
    assert deployment.finished_at == datetime(2019, 5, 15, 15, 20, 55, tzinfo=UTC)
    assert deployment.status_github_id == 209916254


# The example run's repository and workflow (Codertocat/Hello-World, another id).
WORKFLOW_REPOSITORY = 283462325
WORKFLOW_SHA = "5779607b49aab1200488439f02372c57b4f75444"


@pytest.fixture
def workflow_repository(team):
    from apps.metrics.models import RepositoryDeploymentSource

    installation = installation_for(team=team, installation_id=INSTALLATION_ID, login="Codertocat")
    repository = repository_for(
        installation=installation, github_id=WORKFLOW_REPOSITORY, full_name=HELLO_WORLD[1]
    )
    RepositoryDeploymentSource.objects.create(
        team=team,
        repository_github_id=WORKFLOW_REPOSITORY,
        choice="workflow",
        workflow_path=".github/workflows/syntax.yml",
    )
    return repository


def _run(**changes: Any) -> dict[str, Any]:
    run = recorded("workflow_run.completed")["workflow_run"]
    run.update(changes)
    return run


def test_workflow_run_completed(send, workflow_repository):
    # GitHub's example is of a run still queued: it deployed nothing (yet).
    _processed(send("workflow_run.completed"))
    assert not Deployment.objects.exists()
    # The same run, finished: a production deployment of its head commit.
    finished = _run(status="completed", conclusion="success", updated_at="2021-12-16T19:40:00Z")
    _processed(send("workflow_run.completed", workflow_run=finished))
    deployment = Deployment.objects.get()
    assert (deployment.key, deployment.source, deployment.sha, deployment.status) == (
        "workflow_run:1589141559",
        "workflow",
        WORKFLOW_SHA,
        "success",
    )
    assert deployment.is_production and deployment.repository == workflow_repository
    assert deployment.finished_at == datetime(2021, 12, 16, 19, 40, tzinfo=UTC)


def test_workflow_run_of_another_workflow_or_branch_is_no_deployment(deliver, workflow_repository):
    def send_run(name: str, run: dict[str, Any]) -> None:
        payload = as_delivered_to_the_app(recorded("workflow_run.completed"))
        payload["workflow_run"] = run
        assert deliver("workflow_run", payload, delivery_id=name).status_code == 202
        _processed(WebhookDelivery.objects.get(delivery_id=name))

    send_run("branch", _run(status="completed", conclusion="success", head_branch="feature"))
    send_run(
        "workflow",
        _run(status="completed", conclusion="success", path=".github/workflows/ci.yml"),
    )
    send_run("cancelled", _run(status="completed", conclusion="cancelled"))
    assert not Deployment.objects.exists()
    send_run("failed", _run(status="completed", conclusion="failure"))
    assert (Deployment.objects.get().status, Deployment.objects.get().failed) == ("failure", True)


def test_workflow_run_requested(send, team):
    from apps.metrics.models import RepositoryDeploymentSource

    installation = installation_for(team=team, installation_id=INSTALLATION_ID, login="octo-org")
    repository_for(installation=installation, github_id=300029405, full_name="octo-org/octo-repo")
    RepositoryDeploymentSource.objects.create(
        team=team,
        repository_github_id=300029405,
        choice="workflow",
        workflow_path=".github/workflows/test.yml",
    )
    # The deployment workflow's run, requested: nothing deployed yet.
    _processed(send("workflow_run.requested"))
    assert not Deployment.objects.exists()


def test_release_published(send, hello_world):
    _processed(send("release.published"))
    deployment = Deployment.objects.get()
    assert (deployment.key, deployment.source, deployment.ref, deployment.status) == (
        "release:17372790",
        "release",
        "0.0.1",
        "success",
    )
    # Its target is a branch name: the tag's commit is read from GitHub later.
    assert deployment.sha == ""
    assert deployment.finished_at == datetime(2019, 5, 15, 15, 20, 53, tzinfo=UTC)


def test_release_prereleased(send, hello_world):
    _processed(send("release.prereleased"))
    assert not Deployment.objects.exists()
