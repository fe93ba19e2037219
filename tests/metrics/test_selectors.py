from __future__ import annotations

from apps.metrics.selectors import (
    members_for_team,
    pull_requests_for_team,
    reviews_for_pull_request,
)
from apps.teams.models import Team
from github_app.webhook_payloads import pull_request_payload, review_payload
from tests.metrics.events import apply_pull_request_event, apply_review_event


def test_it_reads_only_the_teams_rows(team, outsider):
    other_team = Team.objects.get(slug="other")
    for owner_team in (team, other_team):
        apply_review_event(
            team=owner_team, repository=None, payload=review_payload(pr_id=11, review_id=1)
        )

    pull_requests = list(pull_requests_for_team(team=team))

    assert [pr.team for pr in pull_requests] == [team]
    assert {member.team for member in members_for_team(team=team)} == {team}
    assert [r.team for r in reviews_for_pull_request(pull_request=pull_requests[0])] == [team]


def test_it_lists_pull_requests_newest_first_and_reviews_in_submission_order(team):
    for pr_id, created in ((1, "2025-01-01T10:00:00Z"), (2, "2025-01-03T10:00:00Z")):
        apply_pull_request_event(
            team=team,
            repository=None,
            payload=pull_request_payload(pr_id=pr_id, number=pr_id, created_at=created),
        )
    for review_id, submitted in ((8, "2025-01-04T10:00:00Z"), (9, "2025-01-02T10:00:00Z")):
        apply_review_event(
            team=team,
            repository=None,
            payload=review_payload(pr_id=1, number=1, review_id=review_id, submitted_at=submitted),
        )

    pull_requests = list(pull_requests_for_team(team=team))

    assert [pr.github_id for pr in pull_requests] == [2, 1]
    reviews = reviews_for_pull_request(pull_request=pull_requests[1])
    assert [r.github_id for r in reviews] == [9, 8]
