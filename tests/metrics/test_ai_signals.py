"""AI signals per pull request, each with its evidence, derived through the one
entry from the pull request's author, labels and body and its commits' authors,
trailers and marker lines, under the team's rules (docs/ai.md); look-alikes
that must not count; a rule added later reaching old pull requests through
`metrics_recompute`."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from apps.metrics.models import PullRequest, TeamAIRules
from apps.metrics.services.ai_rules import ai_rules_build
from apps.metrics.services.ai_signals import co_author_is_ai, trailers_parse
from apps.teams.models import Team
from github_app.commits import commits_payload
from github_app.webhook_payloads import pull_request_payload
from tests.metrics.events import apply_events, metrics_event
from tests.payloads.graphql import commit_author, commit_node

pytestmark = pytest.mark.django_db

PR_ID = 1_000_007
SHA_A = "a" * 40
SHA_B = "b" * 40


def pull_request(team, repository, **fields: Any):
    payload = pull_request_payload("opened", pr_id=PR_ID, number=7, **fields)
    return metrics_event("pull_request", team=team, repository=repository, payload=payload)


def commits(team, repository, *nodes):
    payload = commits_payload(
        pull_request_id=PR_ID,
        number=7,
        nodes=list(nodes),
        repository={"id": repository.github_id, "full_name": repository.full_name},
    )
    return metrics_event("pull_request_commits", team=team, repository=repository, payload=payload)


def signals() -> list[dict[str, str]]:
    row = PullRequest.objects.get(github_id=PR_ID)
    assert row.is_ai_assisted == bool(row.ai_signals)
    return row.ai_signals


def test_a_pull_request_opened_by_an_ai_agent(team, repository):
    apply_events(
        [pull_request(team, repository, author_id=198982749, author_login="Copilot", **BOT)]
    )

    assert signals() == [{"signal": "agent_author", "evidence": "Copilot", "commit": ""}]


BOT = {"user": {"id": 198982749, "login": "Copilot", "type": "Bot"}}


@pytest.mark.parametrize(
    "login", ["dependabot[bot]", "renovate[bot]", "github-actions[bot]", "copilot-fan"]
)
def test_a_bot_or_a_person_that_is_no_ai_agent_is_no_signal(team, repository, login):
    user = {"id": 49699333, "login": login, "type": "Bot" if "[bot]" in login else "User"}
    apply_events([pull_request(team, repository, user=user)])

    assert signals() == []
    assert PullRequest.objects.get().author.is_bot == ("[bot]" in login)


def test_a_commit_by_an_agent_account(team, repository):
    agent = commit_author(
        "Copilot", "198982749+Copilot@users.noreply.github.com", 198175, "copilot-swe-agent[bot]"
    )
    apply_events(
        [
            pull_request(team, repository),
            commits(team, repository, commit_node(SHA_A), commit_node(SHA_B, author=agent)),
        ]
    )

    assert signals() == [
        {"signal": "agent_commit", "evidence": "copilot-swe-agent[bot]", "commit": SHA_B}
    ]


@pytest.mark.parametrize(
    "trailer",
    [
        "Co-Authored-By: Claude <noreply@anthropic.com>",
        "Co-authored-by: Claude Sonnet 4.5 <noreply@anthropic.com>",
        "co-authored-by: Cursor Agent <cursoragent@cursor.com>",
        "Co-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>",
        "Co-authored-by: aider (gpt-4o) <noreply@aider.chat>",
    ],
)
def test_a_co_author_trailer_naming_an_ai(team, repository, trailer):
    message = f"Add the thing\n\nMore words.\n\n{trailer}\nSigned-off-by: Bob <bob@example.com>"
    apply_events(
        [
            pull_request(team, repository),
            commits(team, repository, commit_node(SHA_A, message=message)),
        ]
    )

    assert signals() == [{"signal": "co_author", "evidence": trailer, "commit": SHA_A}]


@pytest.mark.parametrize(
    "message",
    [
        "Add the thing\n\nCo-authored-by: Claudette Smith <claudette@example.com>",
        "Add the thing\n\nCo-authored-by: Mona <mona@example.com>",
        # Not a trailer: in the subject, or in the body's first paragraph.
        "Co-authored-by: Claude <noreply@anthropic.com>",
        "Add it\n\nCo-authored-by: Claude <noreply@anthropic.com> was here, said Bob\n\nThanks",
        "Mention generated with care\n\nNothing else",
    ],
)
def test_look_alikes_in_commits_are_no_signal(team, repository, message):
    apply_events(
        [
            pull_request(team, repository),
            commits(team, repository, commit_node(SHA_A, message=message)),
        ]
    )

    assert signals() == []


def test_a_tools_marker_line_in_a_commit_and_in_the_body(team, repository):
    marker = "🤖 Generated with [Claude Code](https://claude.com/claude-code)"
    apply_events(
        [
            pull_request(team, repository, body=f"Summary\n\n{marker}\n"),
            commits(team, repository, commit_node(SHA_A, message=f"Fix\n\n{marker}")),
        ]
    )

    assert signals() == [
        {"signal": "commit_marker", "evidence": marker, "commit": SHA_A},
        {"signal": "body_marker", "evidence": marker, "commit": ""},
    ]


def test_the_label_and_its_removal(team, repository):
    apply_events(
        [pull_request(team, repository, labels=["AI-assisted"], updated_at="2025-01-01T10:00:00Z")]
    )
    assert signals() == [{"signal": "label", "evidence": "AI-assisted", "commit": ""}]

    apply_events([pull_request(team, repository, labels=[], updated_at="2025-01-01T11:00:00Z")])
    assert signals() == []


def test_a_rule_added_later_reclassifies_old_pull_requests_through_recompute(team, repository):
    apply_events(
        [
            pull_request(team, repository, labels=["llm"]),
            commits(
                team,
                repository,
                commit_node(SHA_A, message="Fix\n\nCo-authored-by: Tabnine <bot@tabnine.com>"),
            ),
        ]
    )
    assert signals() == []

    TeamAIRules.objects.create(team=team, co_author_names=["Tabnine"], labels=["llm"])
    call_command("metrics_recompute", team=team.slug)

    assert signals() == [
        {
            "signal": "co_author",
            "evidence": "Co-authored-by: Tabnine <bot@tabnine.com>",
            "commit": SHA_A,
        },
        {"signal": "label", "evidence": "llm", "commit": ""},
    ]


def test_another_teams_rules_are_not_this_teams(team, repository):
    other = Team.objects.create(name="Other", slug="other")
    TeamAIRules.objects.create(team=other, labels=["llm"])
    apply_events([pull_request(team, repository, labels=["llm"])])

    assert signals() == []


def test_trailers_are_the_key_value_lines_of_the_last_paragraph():
    assert trailers_parse("Subject\n\nBody: not a trailer\n\nA-b: c\nD: e f\nnot one") == [
        ["A-b", "c"],
        ["D", "e f"],
    ]
    assert trailers_parse("Subject only: no") == []
    rules = ai_rules_build()
    assert co_author_is_ai("GEMINI <x@y>", rules)
    assert not co_author_is_ai("Geminiano <x@y>", rules)
