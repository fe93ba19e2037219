from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model

from apps.metrics.models import PullRequest, TeamMember
from apps.metrics.services.members_link import team_member_link
from apps.metrics.services.payloads import GitHubUser
from apps.teams.models import Membership
from github_app.webhook_payloads import pull_request_payload, review_payload
from tests.metrics.events import apply_pull_request_event, apply_review_event


def open_pull_request(team, **fields) -> PullRequest:  # type: ignore[no-untyped-def]
    return apply_pull_request_event(
        team=team, repository=None, payload=pull_request_payload("opened", **fields)
    )


def test_it_makes_an_unknown_author_a_placeholder_member(team):
    pull_request = open_pull_request(team, author_id=501, author_login="dana")

    member = TeamMember.objects.get(team=team, github_id=501)
    assert pull_request.author == member
    assert (member.login, member.user, member.is_bot) == ("dana", None, False)


def test_it_updates_the_member_when_the_login_is_renamed(team):
    open_pull_request(team, pr_id=1, author_id=501, author_login="dana")

    open_pull_request(team, pr_id=2, author_id=501, author_login="dana-renamed")

    member = TeamMember.objects.get(team=team, github_id=501)
    assert member.login == "dana-renamed"
    assert TeamMember.objects.filter(team=team).count() == 1
    assert member.authored_pull_requests.count() == 2


def author_event(  # type: ignore[no-untyped-def]
    team, action: str, login: str, updated_at: str, received_at: datetime | None = None
) -> None:
    apply_pull_request_event(
        team=team,
        repository=None,
        payload=pull_request_payload(
            action, author_id=501, author_login=login, updated_at=updated_at
        ),
        received_at=received_at,
    )


def test_it_keeps_a_renamed_login_when_an_older_event_arrives_after_the_rename(team):
    author_event(team, "edited", "renamed", updated_at="2025-01-02T10:00:00Z")

    author_event(team, "opened", "oldname", updated_at="2025-01-01T10:00:00Z")

    member = TeamMember.objects.get(team=team, github_id=501)
    assert member.login == "renamed"
    assert member.login_seen_at == datetime(2025, 1, 2, 10, tzinfo=UTC)


def test_it_keeps_a_renamed_reviewer_login_when_an_older_review_arrives_late(team):
    def review(review_id: int, login: str, submitted_at: str) -> None:
        apply_review_event(
            team=team,
            repository=None,
            payload=review_payload(
                review_id=review_id,
                reviewer_id=601,
                reviewer_login=login,
                submitted_at=submitted_at,
            ),
        )

    review(2, "renamed", submitted_at="2025-01-02T10:00:00Z")

    review(1, "oldname", submitted_at="2025-01-01T12:00:00Z")

    assert TeamMember.objects.get(team=team, github_id=601).login == "renamed"


def test_it_keeps_a_login_renamed_back_when_the_middle_name_arrives_last(team):
    author_event(team, "opened", "dana", updated_at="2025-01-01T10:00:00Z")
    author_event(team, "edited", "dana", updated_at="2025-01-03T10:00:00Z")

    author_event(team, "synchronize", "dana-renamed", updated_at="2025-01-02T10:00:00Z")

    assert TeamMember.objects.get(team=team, github_id=501).login == "dana"


@pytest.mark.parametrize("reversed_order", [False, True], ids=["in order", "reversed"])
def test_it_keeps_the_login_of_the_later_delivery_from_the_same_second(team, reversed_order):
    same_second = "2025-01-01T10:00:00Z"
    events = [
        ("opened", "dana", datetime(2025, 1, 1, 10, 0, 1, tzinfo=UTC)),
        ("edited", "dana-renamed", datetime(2025, 1, 1, 10, 0, 1, 500000, tzinfo=UTC)),
    ]
    for action, login, received_at in reversed(events) if reversed_order else events:
        author_event(team, action, login, updated_at=same_second, received_at=received_at)

    assert TeamMember.objects.get(team=team, github_id=501).login == "dana-renamed"


def test_it_lets_an_undated_event_name_a_new_member_but_not_rename_a_dated_one(team):
    def undated_event(pr_id: int, login: str) -> None:
        payload = pull_request_payload(
            pr_id=pr_id, author_id=501, author_login=login, omit=("updated_at",)
        )
        apply_pull_request_event(team=team, repository=None, payload=payload)

    def login() -> str:
        return TeamMember.objects.get(team=team, github_id=501).login

    undated_event(1, "placeholder")
    logins = [login()]
    author_event(team, "edited", "dana", updated_at="2025-01-02T10:00:00Z")
    logins.append(login())
    undated_event(2, "stale")
    logins.append(login())

    assert logins == ["placeholder", "dana", "dana"]


def test_it_flags_a_bot_author(team):
    open_pull_request(team, author_id=49699333, author_login="dependabot[bot]", author_type="Bot")

    assert TeamMember.objects.get(github_id=49699333).is_bot is True


def test_it_matches_a_placeholder_to_an_account_without_duplicating(team, member):
    pull_request = open_pull_request(team, author_id=501, author_login="dana")

    linked = team_member_link(team=team, user=member, github_user=GitHubUser(501, "dana", False))

    assert TeamMember.objects.filter(team=team).count() == 1
    assert linked.user == member
    pull_request.refresh_from_db()
    assert pull_request.author == linked


def test_it_keeps_the_account_when_later_events_arrive(team, member):
    team_member_link(team=team, user=member, github_user=GitHubUser(501, "dana", False))

    open_pull_request(team, author_id=501, author_login="dana-renamed")

    linked = TeamMember.objects.get(team=team, github_id=501)
    assert (linked.user, linked.login) == (member, "dana-renamed")


def test_it_creates_the_member_when_linking_a_user_not_seen_yet(team):
    user = get_user_model().objects.create_user("erin")
    Membership.objects.create(team=team, user=user)

    linked = team_member_link(team=team, user=user, github_user=GitHubUser(777, "erin-gh", False))

    assert (linked.github_id, linked.login, linked.user) == (777, "erin-gh", user)


def test_the_database_keeps_an_account_to_one_person_per_team(team, member):
    from django.db import IntegrityError, transaction

    TeamMember.objects.create(team=team, github_id=1, login="one", user=member)
    with pytest.raises(IntegrityError), transaction.atomic():
        TeamMember.objects.create(team=team, github_id=2, login="two", user=member)
    # Unlinked people are many.
    TeamMember.objects.create(team=team, github_id=3, login="three")
    TeamMember.objects.create(team=team, github_id=4, login="four")


def test_linking_by_github_identity_moves_the_account_from_another_person(team, member):
    picked = TeamMember.objects.create(team=team, github_id=1, login="picked", user=member)

    linked = team_member_link(team=team, user=member, github_user=GitHubUser(501, "dana", False))

    picked.refresh_from_db()
    assert picked.user is None
    assert (linked.github_id, linked.user) == (501, member)


def test_it_names_the_person_one_way_at_a_time(team, member):
    with pytest.raises(TypeError):
        team_member_link(team=team, user=member)
    with pytest.raises(TypeError):
        team_member_link(
            team=team, user=member, member_id=1, github_user=GitHubUser(501, "dana", False)
        )
