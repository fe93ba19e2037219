"""A small team history whose every figure is computed by hand in
tests/metrics/test_figures.py (January 2025, UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from apps.integrations.models import Installation, Repository
from apps.metrics.models import PRReview, PullRequest, TeamMember
from apps.metrics.services.durations import durations_store, team_calendars
from apps.metrics.services.recompute import pull_requests_recompute
from apps.teams.models import Team


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


_next_id = [1000]


def pull_request(team: Team, repository: Repository | None, **fields: Any) -> PullRequest:
    """A pull request row as the write path stores it: its durations computed
    by the engine from the times given."""
    _next_id[0] += 1
    fields.setdefault("number", _next_id[0])
    fields.setdefault("title", f"Change {fields['number']}")
    fields.setdefault("html_url", f"https://github.com/acme/api/pull/{fields['number']}")
    if fields.get("merged_at"):
        fields.setdefault("state", PullRequest.State.MERGED)
        fields.setdefault("closed_at", fields["merged_at"])
    row = PullRequest(team=team, repository=repository, github_id=_next_id[0], **fields)
    durations_store(row, calendars=team_calendars(team))
    row.save()
    return row


def review(pr: PullRequest, reviewer: TeamMember, state: str, submitted: str) -> PRReview:
    """A review, and its pull request's first review, first approval and
    durations derived again from all of its reviews (as the write path does)."""
    _next_id[0] += 1
    row = PRReview.objects.create(
        team=pr.team,
        pull_request=pr,
        github_id=_next_id[0],
        reviewer=reviewer,
        state=state,
        submitted_at=at(submitted),
    )
    pull_requests_recompute([PullRequest.objects.select_related("team").get(pk=pr.pk)])
    pr.refresh_from_db()
    return row


def january_history(team: Team, *, repository_name: str = "acme/api") -> dict[str, Any]:
    installation = Installation.objects.create(
        installation_id=_next_id[0] + 50_000, team=team, account_login=team.slug
    )
    repository = Repository.objects.create(
        installation=installation,
        github_id=_next_id[0] + 60_000,
        full_name=repository_name,
        tracked=True,
    )
    other = Repository.objects.create(
        installation=installation,
        github_id=_next_id[0] + 70_000,
        full_name="acme/web",
        tracked=True,
    )

    def member(login: str, github_id: int, is_bot: bool = False) -> TeamMember:
        return TeamMember.objects.create(team=team, github_id=github_id, login=login, is_bot=is_bot)

    alice, bob, carol = member("alice", 1), member("bob", 2), member("carol", 3)
    bot = member("dependabot[bot]", 4, is_bot=True)

    # 1: never a draft; reviewed 2 h in, approved 22 h later, merged 4 h after: 28 h.
    pr1 = pull_request(
        team,
        repository,
        author=alice,
        pr_created_at=at("2025-01-02T10:00"),
        first_review_at=at("2025-01-02T12:00"),
        merged_at=at("2025-01-03T14:00"),
        additions=10,
        deletions=5,
    )
    review(pr1, carol, "commented", "2025-01-02T12:00")
    review(pr1, carol, "approved", "2025-01-03T10:00")
    # 2: a draft for 6 h, reviewed 18 h after, never approved, merged 2 h after: 26 h.
    pr2 = pull_request(
        team,
        repository,
        author=alice,
        pr_created_at=at("2025-01-05T09:00"),
        ready_for_review_at=at("2025-01-05T15:00"),
        first_review_at=at("2025-01-06T09:00"),
        merged_at=at("2025-01-06T11:00"),
        additions=100,
        deletions=50,
        is_hotfix=True,
        title="Hotfix: login",
    )
    review(pr2, carol, "changes_requested", "2025-01-06T09:00")
    # 3: no review at all, merged 6 h after opening; a revert, size unknown.
    pull_request(
        team,
        repository,
        author=bob,
        pr_created_at=at("2025-01-10T00:00"),
        merged_at=at("2025-01-10T06:00"),
        is_revert=True,
        title='Revert "Change"',
    )
    # 4: open, ready, never reviewed: waiting since 2025-01-20 08:00.
    waiting = pull_request(
        team, repository, author=bob, pr_created_at=at("2025-01-20T08:00"), title="Waiting"
    )
    # 5: closed without merging.
    pull_request(
        team,
        repository,
        author=alice,
        pr_created_at=at("2025-01-12T08:00"),
        state=PullRequest.State.CLOSED,
        closed_at=at("2025-01-14T08:00"),
    )
    # 6: a bot's, merged: counted apart; carol's approval of it is no person's figure.
    pr6 = pull_request(
        team,
        repository,
        author=bot,
        pr_created_at=at("2025-01-14T08:00"),
        first_review_at=at("2025-01-14T09:00"),
        merged_at=at("2025-01-15T08:00"),
    )
    review(pr6, carol, "approved", "2025-01-14T09:00")
    # 7: merged in December: the previous period's (48 h).
    pull_request(
        team,
        repository,
        author=alice,
        pr_created_at=at("2024-12-20T10:00"),
        merged_at=at("2024-12-22T10:00"),
    )
    # 8: bob's, in another repository; his own comment is no review; alice approves
    # 1 h in (review phase 0), merged 23 h later: 24 h.
    pr8 = pull_request(
        team,
        other,
        author=bob,
        pr_created_at=at("2025-01-25T10:00"),
        first_review_at=at("2025-01-25T11:00"),
        merged_at=at("2025-01-26T10:00"),
        additions=300,
        deletions=300,
    )
    review(pr8, bob, "commented", "2025-01-25T10:30")
    review(pr8, alice, "approved", "2025-01-25T11:00")
    return {"repository": repository, "other": other, "waiting": waiting}
