"""A pull request's requested reviewers, kept from GitHub's ``requested_reviewers``
through the metrics' write path (the pull request kind): the newest snapshot
wins, a copy without the list leaves it as it is, teams are not people, and
a malformed entry is skipped, never a failed delivery. Sent through the real
endpoint, signed. And the one rule of a squad's pull requests: the squads
`squads_of_pull_request` names are those whose figures (``squad=``) count it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from apps.integrations.models import WebhookDelivery
from apps.metrics.figures import _scoped
from apps.metrics.models import PullRequest, Squad, TeamMember
from apps.metrics.periods import request_read
from apps.metrics.scope import figure_scope_read, squads_of_pull_request
from github_app.webhook_payloads import pull_request_payload, review_payload, user
from tests.integrations.conftest import deliver, installation_for, repository_for  # noqa: F401

pytestmark = pytest.mark.django_db

RITA, RAJ = user("rita", 2001), user("raj", 2002)
TEAM_BLOCK = {"id": 77, "slug": "reviewers", "name": "Reviewers", "node_id": "T_77"}


@pytest.fixture
def api(team):
    installation = installation_for(team=team, installation_id=42, login="acme")
    return repository_for(installation=installation, github_id=186853002, full_name="acme/api")


def event(action: str, *, updated: str, reviewers: list[Any], **fields: Any) -> dict[str, Any]:
    payload = pull_request_payload(
        action,
        pr_id=707,
        number=7,
        created_at="2025-01-08T09:00:00Z",
        updated_at=updated,
        requested_reviewers=reviewers,
        **fields,
    )
    if action in ("review_requested", "review_request_removed"):
        payload["requested_reviewer"] = RITA
    return payload


def stored() -> list[dict[str, Any]]:
    return PullRequest.objects.get(github_id=707).requested_reviewers


def test_it_keeps_the_requested_reviewers_of_the_newest_snapshot(api, deliver):  # noqa: F811
    deliver("pull_request", event("opened", updated="2025-01-08T09:00:00Z", reviewers=[]))
    asked = event(
        "review_requested",
        updated="2025-01-08T09:05:00Z",
        reviewers=[RITA, RAJ],
        requested_teams=[TEAM_BLOCK],
    )
    deliver("pull_request", asked, delivery_id="asked")
    assert stored() == [{"github_id": 2001, "login": "rita"}, {"github_id": 2002, "login": "raj"}]

    deliver(
        "pull_request",
        event("review_request_removed", updated="2025-01-08T09:10:00Z", reviewers=[RAJ]),
    )
    deliver("pull_request", asked, delivery_id="asked-redelivered")  # older: changes nothing
    assert stored() == [{"github_id": 2002, "login": "raj"}]


def test_a_review_events_copy_updates_it_and_a_copy_without_the_list_leaves_it(
    api,
    deliver,  # noqa: F811
):
    deliver(
        "pull_request",
        event("review_requested", updated="2025-01-08T09:05:00Z", reviewers=[RITA, RAJ]),
    )
    # GitHub takes Rita off the list once she reviews: its copy says so.
    deliver(
        "pull_request_review",
        review_payload(
            submitted_at="2025-01-08T10:00:00Z",
            pr_id=707,
            number=7,
            created_at="2025-01-08T09:00:00Z",
            reviewer_id=2001,
            reviewer_login="rita",
            requested_reviewers=[RAJ],
        ),
    )
    assert stored() == [{"github_id": 2002, "login": "raj"}]
    deliver(
        "pull_request",
        event(
            "labeled",
            updated="2025-01-08T11:00:00Z",
            reviewers=[],
            omit=("requested_reviewers",),
        ),
    )
    assert stored() == [{"github_id": 2002, "login": "raj"}]


def test_it_skips_entries_that_are_not_people_and_never_fails_the_delivery(api, deliver):  # noqa: F811
    reviewers = [RITA, "raj", None, {"login": "no-id"}, {"id": -4, "login": "x"}, RITA, TEAM_BLOCK]
    payload = event("review_requested", updated="2025-01-08T09:05:00Z", reviewers=reviewers)
    response = deliver("pull_request", payload, delivery_id="odd")
    assert response.status_code == 202
    assert WebhookDelivery.objects.get(delivery_id="odd").status == "processed"
    # Rita once; the rest (a name, nothing, no id, a bad id, a team) are no one.
    assert stored() == [{"github_id": 2001, "login": "rita"}]


def test_squads_of_a_pull_request_are_those_whose_figures_count_it(team, api):
    other = repository_for(installation=api.installation, github_id=186853003, full_name="acme/web")
    people = {
        login: TeamMember.objects.create(team=team, github_id=index, login=login)
        for index, login in enumerate(["ann", "ben", "cat"], start=1)
    }
    everywhere = Squad.objects.create(team=team, name="everywhere")
    everywhere.members.set([people["ann"], people["ben"]])
    web_only = Squad.objects.create(team=team, name="web only")
    web_only.members.set([people["ben"], people["cat"]])
    web_only.repositories.set([other])
    Squad.objects.create(team=team, name="nobody")
    created = datetime(2025, 1, 8, 10, tzinfo=UTC)
    rows = [
        PullRequest.objects.create(
            team=team,
            github_id=number,
            number=number,
            author=people[login] if login else None,
            repository=repository,
            pr_created_at=created,
        )
        for number, (login, repository) in enumerate(
            [("ann", api), ("ben", api), ("ben", other), ("cat", api), ("cat", other), (None, api)],
            start=1,
        )
    ]
    request = request_read(
        params={"from": ["2025-01-01"], "to": ["2025-01-31"]}, time_zone="UTC", today=created.date()
    )
    for squad in Squad.objects.filter(team=team):
        scope = figure_scope_read(
            team=team, period=request.period, repository_ids=None, params={"squad": [squad.name]}
        )
        counted = set(_scoped(scope).values_list("pk", flat=True))
        named = {
            row.pk
            for row in rows
            if squad
            in squads_of_pull_request(
                team_id=team.pk, author_id=row.author_id, repository_id=row.repository_id
            )
        }
        assert counted == named, squad.name
    assert {
        squad.name
        for squad in squads_of_pull_request(
            team_id=team.pk, author_id=people["ben"].pk, repository_id=other.pk
        )
    } == {"everywhere", "web only"}
