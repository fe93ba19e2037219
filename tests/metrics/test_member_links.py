"""An admin links a member's account to their GitHub person."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.metrics.models import TeamMember
from apps.teams.models import Team


@pytest.fixture
def person(team):
    return TeamMember.objects.create(team=team, github_id=583231, login="octocat")


def _link(client, person, account):
    return client.post(
        "/teams/acme/members/github/link/",
        {"person": str(person.pk), "account": str(account.pk) if account else ""},
        follow=True,
    )


def test_it_lists_the_teams_github_people(client, member, person):
    client.force_login(member)
    response = client.get("/teams/acme/members/github/")
    assert response.status_code == 200
    assert b"octocat" in response.content
    assert b'name="account"' not in response.content  # members see, admins link


def test_it_links_a_member_to_their_github_person(client, owner, member, person):
    client.force_login(owner)

    response = _link(client, person, member)

    assert b"octocat is now linked to bob" in response.content
    person.refresh_from_db()
    assert person.user == member


def test_it_moves_an_account_from_one_person_to_another(client, team, owner, member, person):
    other = TeamMember.objects.create(team=team, github_id=2, login="octo-alt", user=member)
    client.force_login(owner)

    _link(client, person, member)

    other.refresh_from_db()
    person.refresh_from_db()
    assert other.user is None
    assert person.user == member


def test_it_unlinks(client, owner, member, person):
    person.user = member
    person.save()
    client.force_login(owner)

    _link(client, person, None)

    person.refresh_from_db()
    assert person.user is None


def test_it_refuses_an_account_outside_the_team(client, owner, outsider, person):
    client.force_login(owner)

    response = _link(client, person, outsider)

    assert b"Choose an account of a member of the team" in response.content
    person.refresh_from_db()
    assert person.user is None


def test_it_refuses_another_teams_person(client, owner, member, outsider):
    theirs = TeamMember.objects.create(
        team=Team.objects.get(slug="other"), github_id=9, login="theirs"
    )
    client.force_login(owner)

    response = _link(client, theirs, member)

    assert b"not one of this team" in response.content
    theirs.refresh_from_db()
    assert theirs.user is None


def test_it_refuses_to_link_a_bot(client, team, owner, member):
    bot = TeamMember.objects.create(team=team, github_id=3, login="renovate[bot]", is_bot=True)
    client.force_login(owner)

    response = _link(client, bot, member)

    assert b"is a bot" in response.content
    bot.refresh_from_db()
    assert bot.user is None


@pytest.mark.parametrize("value", ["", "abc", "\uff11", "9" * 40, "1\x00"])
def test_it_refuses_a_malformed_person(client, owner, member, value):
    client.force_login(owner)
    response = client.post(
        "/teams/acme/members/github/link/",
        {"person": value, "account": str(member.pk)},
        follow=True,
    )
    assert response.status_code == 200
    assert b"Choose one of the team" in response.content


def test_it_lets_only_admins_link(client, member, person, outsider):
    client.force_login(member)
    assert _link(client, person, member).status_code == 403
    client.force_login(outsider)
    assert _link(client, person, outsider).status_code == 404
    person.refresh_from_db()
    assert person.user is None


def test_it_hides_the_page_from_an_outsider(client, team, outsider):
    client.force_login(outsider)
    assert client.get("/teams/acme/members/github/").status_code == 404


def test_it_keeps_an_account_to_one_person_per_team(client, team, owner, member, person):
    # Linking someone who is in two teams changes only this team's person.
    other_team = Team.objects.create(name="Beta", slug="beta")
    other_team.memberships.create(user=member, role="member")
    theirs = TeamMember.objects.create(
        team=other_team, github_id=583231, login="octocat", user=member
    )
    client.force_login(owner)

    _link(client, person, member)

    theirs.refresh_from_db()
    assert theirs.user == member
    assert get_user_model().objects.get(pk=member.pk).team_members.count() == 2
