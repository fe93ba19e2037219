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


def test_it_shows_what_a_link_changes(client, owner, member, team):
    from django.utils import timezone

    from apps.metrics.models import PRReview, PullRequest

    person = TeamMember.objects.create(team=team, github_id=583231, login="octocat")
    reviewer = TeamMember.objects.create(team=team, github_id=7, login="hubot-person")
    now = timezone.now()
    for number in (1, 2):
        pr = PullRequest.objects.create(
            team=team,
            github_id=number,
            number=number,
            title=f"Change {number}",
            author=person,
            pr_created_at=now - timezone.timedelta(days=number),
            html_url=f"https://github.com/acme/api/pull/{number}",
        )
        PRReview.objects.create(
            team=team,
            pull_request=pr,
            github_id=100 + number,
            reviewer=reviewer,
            state="approved",
            submitted_at=now - timezone.timedelta(hours=number),
        )
    client.force_login(owner)

    response = _link(client, person, member)

    [message] = response.context["messages"]
    assert str(message) == (
        "octocat is now linked to bob: octocat's pull requests and reviews are bob's on "
        "this team's pages (2 pull requests opened and 0 reviewed in the last 90 days)."
    )
    page = response.content.decode()
    row = page[page.index('data-person="octocat"') :]
    row = row[: row.index("</tr>")]
    assert 'data-role="opened">2</a>' in row
    assert "?days=90&amp;figure=author&amp;value=octocat" in row
    assert '<span class="badge ok">bob</span>' in row
    other = page[page.index('data-person="hubot-person"') :]
    assert 'data-role="reviewed">2</a>' in other[: other.index("</tr>")]

    # Their pull requests now say whose they are.
    listed = client.get("/teams/acme/pull-requests/?days=90&figure=author&value=octocat")
    assert listed.content.decode().count("(bob)</span>") == 2
