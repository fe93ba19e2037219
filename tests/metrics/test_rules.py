"""Which reviews count is one rule: the Python predicate the formulas and the
lifecycle use, and the filter the figures use, agree on every combination."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import product

import pytest

from apps.metrics import rules
from apps.metrics.models import PRReview, PullRequest, TeamMember

pytestmark = pytest.mark.django_db

AT = datetime(2025, 1, 2, 10, tzinfo=UTC)


@pytest.fixture
def people(team):
    def member(login, github_id, **flags):
        return TeamMember.objects.create(team=team, github_id=github_id, login=login, **flags)

    return {
        "author": member("alice", 1),
        "human": member("carol", 2),
        "bot": member("dependabot[bot]", 3, is_bot=True),
        "ghost": member("ghost", 10137, is_deleted_account=True),
        "nobody": None,
    }


def test_it_agrees_with_its_filter_on_every_reviewer_and_author(team, people):
    expected = {}
    authors = [people["author"], people["ghost"], None]
    for github_id, (author, reviewer) in enumerate(product(authors, people.values()), start=1):
        pr = PullRequest.objects.create(
            team=team, github_id=github_id, number=github_id, author=author
        )
        review = PRReview.objects.create(
            team=team,
            pull_request=pr,
            github_id=github_id,
            reviewer=reviewer,
            state="approved",
            submitted_at=AT,
        )
        expected[review.pk] = rules.counted_reviewer(review, author_id=pr.author_id)

    counted = set(PRReview.objects.filter(rules.counted_reviewer_q()).values_list("pk", flat=True))

    assert counted == {pk for pk, counts in expected.items() if counts}
    # Not every combination counts, nor none: the rule tells them apart.
    assert 0 < len(counted) < len(expected)


@pytest.mark.parametrize(
    ("reviewer", "state", "counts"),
    [
        ("human", "approved", True),
        ("human", "commented", True),
        ("human", "changes_requested", True),
        ("human", "dismissed", False),
        ("human", "pending", False),
        ("bot", "approved", False),
        ("ghost", "approved", False),
        ("author", "approved", False),
        ("nobody", "commented", True),
    ],
)
def test_it_counts_submitted_reviews_by_humans_other_than_the_author(
    team, people, reviewer, state, counts
):
    pr = PullRequest.objects.create(team=team, github_id=1, number=1, author=people["author"])
    review = PRReview(
        team=team,
        pull_request=pr,
        github_id=9,
        reviewer=people[reviewer],
        state=state,
        submitted_at=AT,
    )
    assert rules.review_counts(review, author_id=pr.author_id) is counts
    review.submitted_at = None
    assert rules.review_counts(review, author_id=pr.author_id) is False


def test_a_ghost_review_of_a_ghost_pull_request_is_a_deleted_accounts_not_a_self_review(
    team, people
):
    pr = PullRequest.objects.create(team=team, github_id=1, number=1, author=people["ghost"])
    by_ghost = PRReview(
        team=team,
        pull_request=pr,
        github_id=9,
        reviewer=people["ghost"],
        state="approved",
        submitted_at=AT,
    )
    by_human = PRReview(
        team=team,
        pull_request=pr,
        github_id=10,
        reviewer=people["human"],
        state="approved",
        submitted_at=AT,
    )
    assert rules.review_counts(by_ghost, author_id=pr.author_id) is False
    assert rules.review_counts(by_human, author_id=pr.author_id) is True


def test_a_bots_approval_is_no_standing_approval(team, people):
    pr = PullRequest.objects.create(team=team, github_id=1, number=1, author=people["author"])
    bot = PRReview(
        team=team,
        pull_request=pr,
        github_id=9,
        reviewer=people["bot"],
        state="approved",
        submitted_at=AT,
    )
    human = PRReview(
        team=team,
        pull_request=pr,
        github_id=10,
        reviewer=people["human"],
        state="approved",
        submitted_at=AT.replace(hour=11),
    )
    assert rules.standing_approval_at([bot], author_id=pr.author_id) is None
    assert rules.standing_approval_at([bot, human], author_id=pr.author_id) == AT.replace(hour=11)
    assert rules.first_approval_at([bot, human], author_id=pr.author_id) == AT.replace(hour=11)
