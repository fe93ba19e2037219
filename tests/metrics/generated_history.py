"""A plausible team history of any size, written with bulk_create: the browser
test's few hundred pull requests and bench/bench_dashboard.py's 100,000. Each
row's durations come from the durations engine, as the write path stores them."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta

from apps.integrations.models import Installation, Repository
from apps.metrics.models import PRReview, PullRequest, TeamMember
from apps.metrics.services.durations import durations_store, team_calendars
from apps.teams.models import Team

PEOPLE = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]


def generated_history(
    *, team: Team, count: int, days: int, now: datetime, seed: int = 18, batch: int = 5000
) -> None:
    """``count`` pull requests opened over the ``days`` before ``now``, with reviews."""
    rng = random.Random(seed)
    installation = Installation.objects.create(
        installation_id=900_000 + team.pk, team=team, account_login=team.slug
    )
    repositories = [
        Repository.objects.create(
            installation=installation,
            github_id=910_000 + team.pk * 10 + index,
            full_name=f"{team.slug}/{name}",
            tracked=True,
        )
        for index, name in enumerate(["api", "web", "mobile"])
    ]
    people = [
        TeamMember.objects.create(team=team, github_id=index + 1, login=login)
        for index, login in enumerate(PEOPLE)
    ]
    bot = TeamMember.objects.create(team=team, github_id=99, login="dependabot[bot]", is_bot=True)
    calendars = team_calendars(team)
    next_review_id = 1
    for start in range(0, count, batch):
        pull_requests: list[PullRequest] = []
        planned_reviews: list[tuple[int, TeamMember, str, datetime]] = []
        for number in range(start + 1, min(count, start + batch) + 1):
            author = bot if rng.random() < 0.06 else rng.choice(people)
            created = now - timedelta(minutes=rng.randint(0, days * 24 * 60))
            ready = created + timedelta(hours=rng.uniform(0.2, 12)) if rng.random() < 0.3 else None
            moment = ready or created
            first_review = approval = merged = closed = None
            reviewer = rng.choice([p for p in people if p is not author])
            if rng.random() < 0.85:
                first_review = moment + timedelta(hours=rng.expovariate(1 / 8))
                state = "approved" if rng.random() < 0.5 else "commented"
                planned_reviews.append((len(pull_requests), reviewer, state, first_review))
                if state == "approved":
                    approval = first_review
                elif rng.random() < 0.8:
                    approval = first_review + timedelta(hours=rng.expovariate(1 / 10))
                    planned_reviews.append((len(pull_requests), reviewer, "approved", approval))
            end = approval or first_review or moment
            fate = rng.random()
            if fate < 0.8:
                merged = end + timedelta(hours=rng.expovariate(1 / 4))
            elif fate < 0.88:
                closed = end + timedelta(hours=rng.uniform(1, 48))
            if (merged and merged > now) or (closed and closed > now):
                merged = closed = None
            planned_reviews = [r for r in planned_reviews if r[3] <= now]
            if first_review and first_review > now:
                first_review = None
            if approval and approval > now:
                approval = None
            size = int(rng.lognormvariate(4, 1.3))
            additions = rng.randint(0, size)
            row = PullRequest(
                team=team,
                repository=rng.choice(repositories),
                github_id=team.pk * 10_000_000 + number,
                number=number,
                title=f"Change number {number}",
                author=author,
                state="merged" if merged else "closed" if closed else "open",
                is_draft=False,
                pr_created_at=created,
                ready_for_review_at=ready if ready and ready <= now else None,
                first_review_at=first_review,
                first_approval_at=approval,
                merged_at=merged,
                closed_at=merged or closed,
                additions=additions,
                deletions=size - additions,
                is_revert=rng.random() < 0.03,
                is_hotfix=rng.random() < 0.05,
                html_url=f"https://github.com/{team.slug}/api/pull/{number}",
            )
            # Stored as the write path stores them: by the durations engine.
            durations_store(row, calendars=calendars)
            pull_requests.append(row)
        # Every planned review is by another person: each counts (`rules.py`).
        rounds = Counter(index for index, *_ in planned_reviews)
        for index, row in enumerate(pull_requests):
            row.review_rounds = rounds[index]
        PullRequest.objects.bulk_create(pull_requests, batch_size=2000)
        reviews = []
        for index, reviewer, state, submitted in planned_reviews:
            reviews.append(
                PRReview(
                    team=team,
                    pull_request=pull_requests[index],
                    github_id=team.pk * 10_000_000 + next_review_id,
                    reviewer=reviewer,
                    state=state,
                    submitted_at=submitted,
                )
            )
            next_review_id += 1
        PRReview.objects.bulk_create(reviews, batch_size=2000)
