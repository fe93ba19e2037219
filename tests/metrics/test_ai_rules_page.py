"""The AI rules page (`/teams/<slug>/ai-rules/`): admins add to the default
rules, a change reclassifies the team's old pull requests (a recompute run),
and values that cannot be rules are refused with the reason."""

from __future__ import annotations

import pytest
from django.db import transaction

from apps.metrics.models import PullRequest, RecomputeRun, TeamAIRules
from github_app.commits import commits_payload
from github_app.webhook_payloads import pull_request_payload
from tests.metrics.events import apply_events, metrics_event
from tests.payloads.graphql import commit_node

pytestmark = pytest.mark.django_db

URL = "/teams/acme/ai-rules/"
EMPTY = {
    "agent_logins": "",
    "reviewer_logins": "",
    "co_author_names": "",
    "markers": "",
    "labels": "",
}


def tabnine_pull_request(team, repository):
    payload = commits_payload(
        pull_request_id=77,
        number=7,
        nodes=[commit_node("a" * 40, message="Fix\n\nCo-authored-by: Tabnine <ai@tabnine.com>")],
        repository={"id": repository.github_id, "full_name": repository.full_name},
    )
    apply_events(
        [
            metrics_event(
                "pull_request",
                team=team,
                repository=repository,
                payload=pull_request_payload("opened", pr_id=77, number=7, labels=["robot"]),
            ),
            metrics_event(
                "pull_request_commits", team=team, repository=repository, payload=payload
            ),
        ]
    )


def test_an_admin_sees_the_defaults_and_members_and_outsiders_do_not(
    client, owner, member, outsider
):
    client.force_login(owner)
    page = client.get(URL)
    assert page.status_code == 200
    text = page.content.decode()
    for default in ("copilot-swe-agent[bot]", "coderabbitai[bot]", "Cursor Agent", "ai-assisted"):
        assert default in text

    client.force_login(member)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {**EMPTY, "labels": "x"}).status_code == 403
    client.force_login(outsider)
    assert client.get(URL).status_code == 404
    assert not TeamAIRules.objects.exists()


def test_a_rule_added_reclassifies_the_teams_old_pull_requests(
    client, owner, team, repository, django_capture_on_commit_callbacks
):
    tabnine_pull_request(team, repository)
    assert PullRequest.objects.get().ai_signals == []
    client.force_login(owner)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            URL, {**EMPTY, "co_author_names": "Tabnine\n\n tabnine \n", "labels": "robot"}
        )

    assert response.status_code == 302
    rules = TeamAIRules.objects.get(team=team)
    assert (rules.co_author_names, rules.labels) == (["Tabnine", "tabnine"], ["robot"])
    run = RecomputeRun.objects.get()
    assert (run.team, run.status) == (team, RecomputeRun.Status.DONE)
    assert [s["signal"] for s in PullRequest.objects.get().ai_signals] == ["co_author", "label"]
    page = client.get(URL).content.decode()
    assert "being classified again" in page and "Tabnine\ntabnine</textarea>" in page


def test_saving_the_same_rules_starts_no_run(client, owner, team):
    TeamAIRules.objects.create(team=team, labels=["robot"])
    client.force_login(owner)

    client.post(URL, {**EMPTY, "labels": "robot"})

    assert not RecomputeRun.objects.exists()
    assert "Nothing changed." in client.get(URL).content.decode()


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("agent_logins", "not a login!", "is no GitHub login"),
        ("reviewer_logins", "bot[bot][bot]", "is no GitHub login"),
        ("reviewer_logins", "octocat", "an AI reviewer is a GitHub App"),
        ("agent_logins", "\uff41\uff42\uff43", "is no GitHub login"),  # full-width abc
        ("markers", "Generated\x00 with", "no control characters"),
        ("labels", "x" * 101, "at most 100 characters"),
        ("co_author_names", "\n".join(f"AI {n}" for n in range(51)), "at most 50 values"),
    ],
)
def test_values_that_cannot_be_rules_are_refused_and_nothing_is_saved(
    client, owner, field, value, reason
):
    client.force_login(owner)

    response = client.post(URL, {**EMPTY, "labels": "robot", field: value})

    assert response.status_code == 200
    assert reason in response.content.decode().replace("&#x27;", "'")
    assert not TeamAIRules.objects.exists() and not RecomputeRun.objects.exists()


def test_the_subnav_links_the_page_for_admins_only(client, owner, member):
    client.force_login(owner)
    assert URL in client.get("/teams/acme/").content.decode()
    client.force_login(member)
    assert URL not in client.get("/teams/acme/").content.decode()


def test_a_run_is_queued_once_the_rules_commit(team, django_capture_on_commit_callbacks):
    from apps.metrics.services.ai_rules_update import team_ai_rules_update

    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        _rules, run = team_ai_rules_update(team=team, rules={"labels": ["robot"]})

    assert run is not None and run.status == RecomputeRun.Status.QUEUED
    assert len(callbacks) == 1
