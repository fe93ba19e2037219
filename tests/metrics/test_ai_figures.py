"""The `ai` object of `GET /api/teams/<slug>/metrics/`: AI-assisted pull
requests beside the others, every figure computed by hand from a January
built through the one entry (pull requests, reviews and commits as GitHub
sends them); and the self-reported figures only past the merge question's
privacy threshold."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from apps.metrics.models import Deployment, MergeQuestion, PRReview, PullRequest, TeamMember
from apps.metrics.services.merge_questions import merge_question_answer, merge_question_ask
from apps.teams.models import Membership, Team
from github_app.commits import commits_payload
from github_app.webhook_payloads import pull_request_payload, review_payload
from tests.metrics.events import apply_events, metrics_event
from tests.metrics.figures_fixture import at, pull_request
from tests.payloads.graphql import commit_node

pytestmark = pytest.mark.django_db

URL = "/api/teams/acme/metrics/?from=2025-01-01&to=2025-01-31"
ALICE = {"author_id": 11, "author_login": "alice"}
BOB = {"author_id": 12, "author_login": "bob"}
CAROL = {"author_id": 13, "author_login": "carol"}
COPILOT = {"author_id": 198982749, "author_login": "Copilot", "author_type": "Bot"}
DEPENDABOT = {"author_id": 49699333, "author_login": "dependabot[bot]", "author_type": "Bot"}


class January:
    def __init__(self, team, repository):
        self.team, self.repository = team, repository
        self.events: list[Any] = []

    def merged(self, number: int, opened: str, merged: str, *, lines=(1, 1), **fields: Any):
        payload = pull_request_payload(
            "closed",
            pr_id=5000 + number,
            number=number,
            state="closed",
            merged=True,
            created_at=opened,
            merged_at=merged,
            closed_at=merged,
            additions=lines[0],
            deletions=lines[1],
            **fields,
        )
        self._add("pull_request", payload)

    def review(self, number: int, at: str, who: tuple[int, str], *, kind: str = "User") -> None:
        payload = review_payload(
            review_id=90_000 + len(self.events),
            pr_id=5000 + number,
            number=number,
            submitted_at=at,
            reviewer_id=who[0],
            reviewer_login=who[1],
            reviewer_type=kind,
            created_at="2025-01-01T00:00:00Z",
        )
        self._add("pull_request_review", payload)

    def commits(self, number: int, *messages: str) -> None:
        nodes = [commit_node(f"{number:02d}{n:038x}", message=m) for n, m in enumerate(messages)]
        payload = commits_payload(
            pull_request_id=5000 + number,
            number=number,
            nodes=nodes,
            repository={"id": self.repository.github_id, "full_name": self.repository.full_name},
        )
        self._add("pull_request_commits", payload)

    def _add(self, name: str, payload: dict[str, Any]) -> None:
        self.events.append(
            metrics_event(name, team=self.team, repository=self.repository, payload=payload)
        )

    def apply(self) -> None:
        apply_events(self.events)


@pytest.fixture
def january(team, repository):
    j = January(team, repository)
    # Assisted: 1 by a label (10 h; first review 2 h), 2 opened by Copilot's
    # agent (24 h; its AI review is no first review: bob's, 4 h), 3 by a
    # commit co-authored by Claude (4 h; no review).
    j.merged(
        1,
        "2025-01-06T10:00:00Z",
        "2025-01-06T20:00:00Z",
        lines=(100, 20),
        labels=["ai-assisted"],
        **ALICE,
    )
    j.review(1, "2025-01-06T12:00:00Z", (12, "bob"))
    j.merged(2, "2025-01-07T10:00:00Z", "2025-01-08T10:00:00Z", lines=(30, 10), **COPILOT)
    j.review(
        2, "2025-01-07T11:00:00Z", (175728472, "copilot-pull-request-reviewer[bot]"), kind="Bot"
    )
    j.review(2, "2025-01-07T14:00:00Z", (12, "bob"))
    j.merged(3, "2025-01-09T10:00:00Z", "2025-01-09T14:00:00Z", lines=(200, 0), **ALICE)
    j.commits(3, "Start", "Finish\n\nCo-authored-by: Claude <noreply@anthropic.com>")
    # Other: 4 (24 h; review 6 h), reverted by 7 (2 h); 5 a hotfix (8 h; review
    # 1 h); 8 co-authored by a person whose name starts like an AI's (3 h).
    j.merged(4, "2025-01-10T10:00:00Z", "2025-01-11T10:00:00Z", lines=(10, 5), **BOB)
    j.review(4, "2025-01-10T16:00:00Z", (13, "carol"))
    j.merged(
        5, "2025-01-12T10:00:00Z", "2025-01-12T18:00:00Z", lines=(1, 1), labels=["hotfix"], **CAROL
    )
    j.review(5, "2025-01-12T11:00:00Z", (12, "bob"))
    j.merged(
        7,
        "2025-01-13T10:00:00Z",
        "2025-01-13T12:00:00Z",
        lines=(5, 10),
        title='Revert "Change 4"',
        body="Reverts acme/api#4",
        **BOB,
    )
    j.merged(8, "2025-01-14T10:00:00Z", "2025-01-14T13:00:00Z", lines=(50, 50), **CAROL)
    j.commits(8, "Pair\n\nCo-authored-by: Claudette Smith <claudette@example.com>")
    # Left out: dependabot's (a bot, no AI), and one merged in February.
    j.merged(6, "2025-01-15T10:00:00Z", "2025-01-15T11:00:00Z", **DEPENDABOT)
    j.merged(9, "2025-01-30T10:00:00Z", "2025-02-02T11:00:00Z", labels=["ai-assisted"], **ALICE)
    j.apply()
    return j


def ai(client) -> dict[str, Any]:
    response = client.get(URL)
    assert response.status_code == 200
    return response.json()["ai"]


def test_the_ai_figures_equal_the_hand_computed_ones(client, owner, january):
    client.force_login(owner)

    figures = ai(client)

    figures.pop("survey")
    assert figures == {
        "merged": 7,
        "assisted": 3,
        "share": 0.4286,  # 3 of 7
        # Assisted 4, 10, 24 h: median 10, p90 at 1.8 of 2: 10 + 0.8 * 14.
        # Other 2, 3, 8, 24 h: median 5.5, p90 at 2.7 of 3: 8 + 0.7 * 16.
        "cycle_time_hours": {
            "assisted": {"median": 10.0, "p90": 21.2},
            "other": {"median": 5.5, "p90": 19.2},
        },
        # Assisted 2, 4 h (the AI review at 1 h is none); other 1, 6 h.
        "first_review_hours": {
            "assisted": {"median": 3.0, "p90": 3.8},
            "other": {"median": 3.5, "p90": 5.5},
        },
        # Lines: assisted 40, 120, 200; other 2, 15, 15, 100.
        "size_lines_median": {"assisted": 120.0, "other": 15.0},
        # Counted reviews: assisted 1, 1, 0; other 1, 1, 0, 0.
        "review_rounds_mean": {"assisted": 0.67, "other": 0.5},
        "revert_rate": {"assisted": 0.0, "other": 0.25},  # 4 was reverted by 7
        "hotfix_rate": {"assisted": 0.0, "other": 0.25},  # 5
        # Each merge deploys itself (the repository has no other source):
        # 4's deployment failed (reverted by 7); 1 of the other 4.
        "change_failure_rate": {"assisted": 0.0, "other": 0.25},
        "self_reported": {
            "shown": False,
            "answered": None,
            "share": None,
            "either_share": None,
            "agreement": None,
        },
        "ai_reviews": 1,
    }
    assert PullRequest.objects.get(number=2).first_review_at == at("2025-01-07T14:00:00")
    # Never review load either: only people's reviews are there.
    reviewers = client.get(URL).json()["reviewers"]
    assert {r["login"] for r in reviewers} == {"bob", "carol"}


def test_it_counts_ai_reviews_by_login_in_any_case_and_never_another_teams(
    client, owner, team, repository, january
):
    # One more on this team's pull request, by an AI reviewer whose login
    # GitHub spells in capitals.
    extra = January(team, repository)
    extra.review(1, "2025-01-06T13:00:00Z", (136622811, "CodeRabbitAI[bot]"), kind="Bot")
    extra.apply()
    # Another team's AI review of its own pull request, in the same days.
    other = Team.objects.create(name="Other", slug="other")
    reviewer = TeamMember.objects.create(
        team=other, github_id=175728472, login="copilot-pull-request-reviewer[bot]", is_bot=True
    )
    theirs = pull_request(other, None, pr_created_at=at("2025-01-08T10:00:00"))
    PRReview.objects.create(
        team=other,
        pull_request=theirs,
        github_id=1,
        reviewer=reviewer,
        state=PRReview.State.COMMENTED,
        submitted_at=at("2025-01-08T11:00:00"),
    )
    client.force_login(owner)

    assert ai(client)["ai_reviews"] == 2


def test_a_repository_filter_and_an_empty_period_give_nulls_not_errors(client, owner, january):
    client.force_login(owner)

    response = client.get("/api/teams/acme/metrics/?from=2024-01-01&to=2024-01-31")

    figures = response.json()["ai"]
    assert (figures["merged"], figures["assisted"], figures["share"]) == (0, 0, None)
    assert figures["cycle_time_hours"]["assisted"] == {"median": None, "p90": None}
    assert figures["revert_rate"] == {"assisted": None, "other": None}
    assert figures["ai_reviews"] == 0


@pytest.fixture
def people(team):
    users = []
    for n, name in enumerate(["dana", "eli", "farah"], start=1):
        user = get_user_model().objects.create_user(name, password=f"pw-{name}")
        Membership.objects.create(user=user, team=team)
        TeamMember.objects.create(team=team, github_id=9000 + n, login=f"{name}-gh", user=user)
        users.append(user)
    return users


def asked_and_answered(team, repository, number: int, user, reply: str, **fields: Any) -> None:
    member = TeamMember.objects.get(team=team, user=user)
    j = January(team, repository)
    merged = f"2025-01-{number + 5:02d}T18:00:00Z"
    j.merged(
        number,
        f"2025-01-{number + 5:02d}T10:00:00Z",
        merged,
        author_id=member.github_id,
        author_login=member.login,
        **fields,
    )
    j.apply()
    question = merge_question_ask(
        pull_request=PullRequest.objects.get(number=number), now=at(merged[:-1])
    )
    assert question.status == MergeQuestion.Status.ASKED
    if reply:
        merge_question_answer(
            question_id=question.pk,
            user_id=user.pk,
            answer=reply,
            channel="app",
            now=question.asked_at + timedelta(hours=1),
        )


def test_detection_and_answers_side_by_side_once_three_people_answered(
    client, owner, team, repository, people
):
    dana, eli, farah = people
    # Dana: detected and said most (agree); Eli: nothing, said none (agree);
    # Farah: not detected, said half (disagree).
    asked_and_answered(team, repository, 1, dana, "most", labels=["ai-assisted"])
    asked_and_answered(team, repository, 2, eli, "none")
    asked_and_answered(team, repository, 3, farah, "half")
    client.force_login(owner)

    figures = ai(client)

    assert figures["survey"]["answers"] is not None
    assert figures["self_reported"] == {
        "shown": True,
        "answered": 3,
        "share": 0.6667,  # Dana and Farah said some AI
        "either_share": 0.6667,  # detected (Dana) or said (Dana, Farah)
        "agreement": 0.6667,  # Dana and Eli
    }


def test_with_two_people_answering_no_self_reported_figure_shows(
    client, owner, team, repository, people
):
    dana, eli, farah = people
    asked_and_answered(team, repository, 1, dana, "most", labels=["ai-assisted"])
    asked_and_answered(team, repository, 2, eli, "none")
    asked_and_answered(team, repository, 3, farah, "")  # asked, not answered
    client.force_login(owner)

    figures = ai(client)

    assert figures["survey"]["answers"] is None
    assert figures["self_reported"] == {
        "shown": False,
        "answered": None,
        "share": None,
        "either_share": None,
        "agreement": None,
    }
    assert (figures["merged"], figures["assisted"]) == (3, 1)


def test_the_drill_down_lists_the_assisted_pull_requests_with_their_signals(
    client, member, january
):
    client.force_login(member)

    page = client.get(
        "/teams/acme/pull-requests/?from=2025-01-01&to=2025-01-31&figure=ai_assisted"
    ).content.decode()

    assert re.findall(r'<tr data-number="(\d+)"', page) == ["3", "2", "1"]
    cells = re.findall(r'<td data-role="ai-assisted">(.*?)</td>', page)
    assert 'data-signals="co_author" title="co_author: Co-authored-by: Claude ' in cells[0]
    assert "&lt;noreply@anthropic.com&gt; @0300000" in cells[0]
    assert 'data-signals="agent_author" title="agent_author: Copilot"' in cells[1]
    assert 'data-signals="label" title="label: ai-assisted"' in cells[2]


def test_every_list_and_the_csv_have_the_ai_assisted_column(client, member, january):
    client.force_login(member)

    page = client.get("/teams/acme/pull-requests/?from=2025-01-01&to=2025-01-31&figure=merged")
    csv_text = b"".join(
        client.get(
            "/teams/acme/pull-requests.csv?from=2025-01-01&to=2025-01-31&figure=merged"
        ).streaming_content
    ).decode()

    cells = re.findall(r'<td data-role="ai-assisted">(.*?)</td>', page.content.decode())
    assert len(cells) == 6 and cells.count("—") == 4  # Copilot's is a bot's: not listed
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    by_number = {row["number"]: row["ai_assisted"] for row in rows}
    assert by_number == {
        "8": "",
        "7": "",
        "5": "",
        "4": "",
        "3": "co_author: Co-authored-by: Claude <noreply@anthropic.com> @0300000",
        "1": "label: ai-assisted",
    }


def test_the_dashboard_shows_the_ai_section(client, member, january):
    client.force_login(member)

    page = client.get("/teams/acme/?from=2025-01-01&to=2025-01-31").content.decode()

    section = page[page.index('data-role="ai"') :]
    assert 'data-figure="ai_share">43%<' in section
    assert 'data-figure="ai_assisted">3<' in section
    assert 'data-figure="ai_reviews">1<' in section
    assert 'data-figure="ai_cycle_median">10.0 h<' in section
    assert 'data-figure="ai_revert_rate">0%<' in section
    assert "figure=ai_assisted" in section
    # A member does not get the admins' rules page link.
    assert "/ai-rules/" not in section


def test_the_change_failure_rate_of_each_group_counts_its_deployed_pull_requests(
    client, owner, team, january
):
    # The month's merges deployed themselves (the repository has no other
    # source): this test's deployments replace them.
    PullRequest.objects.update(deployment=None, deployed_at=None)
    Deployment.objects.all().delete()
    good = Deployment.objects.create(team=team, key="api:1", source="api", status="success")
    bad = Deployment.objects.create(
        team=team, key="api:2", source="api", status="success", failed=True
    )
    # Assisted: 1 and 2 shipped, 2 in the failed one (1 of 2); 3 not deployed.
    # Other: 4, 5, 7 shipped, none failed; 8 not deployed.
    PullRequest.objects.filter(number__in=[1, 4, 5, 7]).update(deployment=good)
    PullRequest.objects.filter(number=2).update(deployment=bad)
    client.force_login(owner)

    figures = ai(client)

    assert figures["change_failure_rate"] == {"assisted": 0.5, "other": 0.0}
    page = client.get("/teams/acme/?from=2025-01-01&to=2025-01-31").content.decode()
    assert 'data-figure="ai_change_failure_rate">50%<' in page


def test_a_persons_filter_narrows_the_ai_figures_to_their_pull_requests(client, owner, january):
    client.force_login(owner)

    response = client.get(URL + "&person=alice")

    figures = response.json()["ai"]
    # Alice's 1 (a label, 10 h) and 3 (Claude, 4 h); both assisted.
    assert (figures["merged"], figures["assisted"], figures["share"]) == (2, 2, 1.0)
    assert figures["cycle_time_hours"]["assisted"]["median"] == 7.0
    assert figures["cycle_time_hours"]["other"] == {"median": None, "p90": None}
