"""A random history of a team (pull requests in every state, reviews, bots, a
deleted account, reverts, deployments of which some failed, merge questions
with answers) in America/Los_Angeles, and its figures read through the JSON
API: the plain computation is compared with faster ones on it
(tests/metrics/test_day_facts.py, tests/metrics/test_side_by_side.py)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.test import Client

from apps.integrations.models import Repository
from apps.metrics.models import (
    Deployment,
    MergeQuestion,
    PRReview,
    PullRequest,
    Squad,
    TeamMember,
)
from apps.metrics.services.api_tokens import api_token_create

START = datetime(2025, 1, 1, tzinfo=UTC)
DAYS = 150
DURATIONS = (
    "cycle_time",
    "coding",
    "pickup",
    "review",
    "merge",
    "review_time",
)
PAGES = [
    "from=2025-03-01&to=2025-04-29",
    "from=2025-01-01&to=2025-05-30",
    "from=2025-02-10&to=2025-02-16",
    "from=2025-03-01&to=2025-04-29&repository=acme/web",
    "from=2025-01-01&to=2025-05-30&squad=core",
    "from=2025-01-01&to=2025-05-30&person=alice",
    "from=2025-01-01&to=2025-05-30&person=carol&hours=working",
    "from=2025-01-01&to=2025-05-30&hours=working&squad=empty",
]


def _moment(rng: random.Random) -> datetime:
    return START + timedelta(seconds=rng.randint(0, DAYS * 86_400))


def _history(team, repositories, people, rng: random.Random, count: int) -> list[PullRequest]:
    deployments = [
        Deployment.objects.create(
            team=team,
            key=f"deploy-{index}",
            source=Deployment.Source.values[0],
            is_production=True,
            failed=index % 3 == 0,
        )
        for index in range(6)
    ]
    users = [get_user_model().objects.create_user(f"person-{index}") for index in range(4)]
    rows = []
    for number in range(1, count + 1):
        opened = _moment(rng) if rng.random() < 0.95 else None
        base = opened or _moment(rng)
        merged = base + timedelta(hours=rng.uniform(0.5, 200)) if rng.random() < 0.6 else None
        closed = merged or (
            base + timedelta(hours=rng.uniform(1, 90)) if rng.random() < 0.2 else None
        )
        first_review = base + timedelta(hours=rng.uniform(0.1, 50)) if rng.random() < 0.7 else None
        fields = {
            f"{name}_{slot}": (rng.choice([None, round(rng.uniform(0, 300), 6)]))
            for name in DURATIONS
            for slot in ("hours", "working_hours")
        }
        rows.append(
            PullRequest(
                team=team,
                repository=rng.choice([*repositories, None]),
                github_id=number,
                number=number,
                author=rng.choice([*people, None]),
                state=(
                    PullRequest.State.MERGED
                    if merged
                    else PullRequest.State.CLOSED
                    if closed
                    else PullRequest.State.OPEN
                ),
                pr_created_at=opened,
                merged_at=merged,
                closed_at=closed,
                first_review_at=first_review,
                additions=rng.choice([None, rng.randint(0, 900)]),
                deletions=rng.choice([None, rng.randint(0, 300)]),
                is_revert=rng.random() < 0.1,
                is_hotfix=rng.random() < 0.1,
                is_ai_assisted=rng.random() < 0.3,
                review_rounds=rng.randint(0, 4),
                deployment=rng.choice([*deployments, None, None]),
                **fields,
            )
        )
    PullRequest.objects.bulk_create(rows)
    merged = [row for row in rows if row.merged_at]
    for row in rng.sample(merged, 20):
        row.reverts = rng.choice(merged)
        row.save(update_fields=["reverts"])
    for row in rng.sample(merged, 60):
        asked = rng.random() < 0.8
        MergeQuestion.objects.create(
            team=team,
            pull_request=row,
            user=rng.choice(users),
            status=MergeQuestion.Status.ASKED if asked else MergeQuestion.Status.NOT_ASKED,
            asked_at=row.merged_at,
            expires_at=row.merged_at + MergeQuestion.LIFETIME,
            answer=rng.choice(["", *MergeQuestion.Answer.values]) if asked else "",
        )
    reviews = []
    for row in rows:
        for _ in range(rng.randint(0, 3)):
            reviews.append(
                PRReview(
                    team=team,
                    pull_request=row,
                    github_id=len(reviews) + 1,
                    reviewer=rng.choice([*people, None]),
                    state=rng.choice([*PRReview.State.values]),
                    submitted_at=_moment(rng) if rng.random() < 0.95 else None,
                )
            )
    PRReview.objects.bulk_create(reviews)
    return rows


def random_history(team, installation) -> dict:
    """The history, and an API client of the team ("client")."""
    team.time_zone = "America/Los_Angeles"
    # Both targets, one in working hours: their figures are read too.
    team.targets = {
        "first_review": {"within": 30, "unit": "working_hours", "percentile": 90},
        "cycle_time": {"within": 3, "unit": "days", "percentile": 50},
    }
    team.save()
    repositories = [
        Repository.objects.create(
            installation=installation, github_id=500 + index, full_name=name, tracked=True
        )
        for index, name in enumerate(["acme/api", "acme/web"])
    ]
    people = [
        TeamMember.objects.create(team=team, github_id=index, login=login, **extra)
        for index, (login, extra) in enumerate(
            [
                ("alice", {}),
                ("bob", {}),
                ("carol", {}),
                ("dependabot[bot]", {"is_bot": True}),
                ("ghost", {"is_deleted_account": True}),
            ],
            start=1,
        )
    ]
    Squad.objects.create(team=team, name="core").members.set(people[:2])
    Squad.objects.create(team=team, name="empty")
    rng = random.Random(2807)
    rows = _history(team, repositories, people, rng, 400)
    owner = get_owner(team)
    _row, token = api_token_create(team=team, name="facts", created_by=owner)
    return {
        "rows": rows,
        "people": people,
        "rng": rng,
        "client": Client(HTTP_AUTHORIZATION=f"Bearer {token}"),
    }


def get_owner(team):
    from apps.teams.models import Membership

    user = get_user_model().objects.create_user("owner")
    Membership.objects.create(user=user, team=team, role=Membership.Role.ADMIN)
    return user


def _figures(client: Client, query: str) -> dict:
    response = client.get(f"/api/teams/acme/metrics/?{query}")
    assert response.status_code == 200, response.content
    document = json.loads(response.content)
    # How long each has waited is counted up to the moment of the request.
    document.pop("waiting_for_review")
    return document
