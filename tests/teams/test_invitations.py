"""Invitation links: made by admins, one team, one use, until they expire or are revoked."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.teams.models import Invitation, Membership, Team
from apps.teams.services.invitations import invitation_create


@pytest.fixture
def newcomer(db):
    return get_user_model().objects.create_user("dora", password="password-dora")


def _link(client, owner, slug: str = "acme") -> str:
    client.force_login(owner)
    response = client.post(f"/teams/{slug}/invitations/")
    assert response.status_code == 200
    match = re.search(
        r'value="https?://[^/"]+(/teams/[^"]+/join/[^"]+/)"', response.content.decode()
    )
    assert match, response.content.decode()
    client.logout()
    return match[1]


def test_it_joins_the_team_as_a_member_with_the_link(client, owner, newcomer):
    link = _link(client, owner)
    client.force_login(newcomer)

    page = client.get(link)
    assert page.status_code == 200
    assert b"Join Acme" in page.content
    assert not Membership.objects.filter(user=newcomer).exists()  # opening is not joining

    response = client.post(link)

    assert response.status_code == 302
    assert response["Location"] == "/teams/acme/"
    membership = Membership.objects.get(user=newcomer)
    assert (membership.team.slug, membership.role) == ("acme", "member")
    invitation = Invitation.objects.get()
    assert invitation.used_by == newcomer
    assert invitation.state == "used"


def test_it_stores_no_usable_link(client, owner):
    link = _link(client, owner)
    token = link.rstrip("/").rsplit("/", 1)[1]
    invitation = Invitation.objects.get()
    assert token not in invitation.token_hash
    assert len(invitation.token_hash) == 64


def test_it_refuses_a_reused_link(client, owner, newcomer):
    link = _link(client, owner)
    client.force_login(newcomer)
    client.post(link)
    other = get_user_model().objects.create_user("erin", password="password-erin")
    client.force_login(other)

    response = client.post(link)

    assert response.status_code == 410
    assert b"already been used" in response.content
    assert not Membership.objects.filter(user=other).exists()
    assert client.get(link).status_code == 410


def test_it_refuses_an_expired_link(client, owner, newcomer):
    link = _link(client, owner)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    client.force_login(newcomer)

    response = client.post(link)

    assert response.status_code == 410
    assert b"expired" in response.content
    assert not Membership.objects.filter(user=newcomer).exists()


def test_it_refuses_a_revoked_link(client, owner, newcomer):
    link = _link(client, owner)
    client.force_login(owner)
    invitation = Invitation.objects.get()
    response = client.post(f"/teams/acme/invitations/{invitation.pk}/revoke/")
    assert response.status_code == 302
    client.force_login(newcomer)

    response = client.post(link)

    assert response.status_code == 410
    assert b"revoked" in response.content
    assert not Membership.objects.filter(user=newcomer).exists()


def test_it_refuses_another_teams_link(client, owner, outsider, newcomer):
    other_link = _link(client, outsider, slug="other")
    token = other_link.rstrip("/").rsplit("/", 1)[1]
    client.force_login(newcomer)

    response = client.post(f"/teams/acme/join/{token}/")

    assert response.status_code == 404
    assert b"another team" in response.content
    assert not Membership.objects.filter(user=newcomer).exists()


@pytest.mark.parametrize("token", ["not-a-token", "x" * 65, "\uff11\uff12\uff13", "a%00b"])
def test_it_refuses_a_link_that_is_not_one(client, team, newcomer, token):
    client.force_login(newcomer)

    response = client.post(f"/teams/acme/join/{token}/")

    assert response.status_code == 404
    assert b"not valid" in response.content


def test_it_sends_an_anonymous_visitor_to_log_in_and_back(client, owner, newcomer):
    link = _link(client, owner)

    response = client.get(link)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")
    login_page = client.get(response["Location"])
    assert b"Sign up" in login_page.content
    assert b"accept your invitation" in login_page.content
    back = client.post(
        response["Location"], {"username": "dora", "password": "password-dora", "next": link}
    )
    assert back["Location"] == link


def test_it_brings_a_new_account_back_to_the_link(client, owner):
    link = _link(client, owner)

    response = client.post(
        "/signup/",
        {
            "username": "frank",
            "password1": "a-long-passphrase-9",
            "password2": "a-long-passphrase-9",
            "next": link,
        },
    )

    assert response["Location"] == link
    client.post(link)
    assert Membership.objects.filter(user__username="frank", team__slug="acme").exists()


def test_it_ignores_a_next_address_on_another_site(client, db):
    response = client.post(
        "/signup/",
        {
            "username": "gus",
            "password1": "a-long-passphrase-9",
            "password2": "a-long-passphrase-9",
            "next": "https://evil.example/",
        },
    )
    assert response["Location"] == "/teams/new/"


def test_it_keeps_the_link_for_someone_already_in_the_team(client, owner, member):
    link = _link(client, owner)
    client.force_login(member)

    response = client.post(link)

    assert response.status_code == 302
    assert Invitation.objects.get().state == "open"


def test_it_lets_only_admins_invite(client, team, member, outsider):
    client.force_login(member)
    assert client.post("/teams/acme/invitations/").status_code == 403
    client.force_login(outsider)
    assert client.post("/teams/acme/invitations/").status_code == 404
    assert not Invitation.objects.exists()


def test_it_lets_only_admins_revoke(client, team, owner, member, outsider):
    invitation, _ = invitation_create(team=team, created_by=owner)
    client.force_login(member)
    assert client.post(f"/teams/acme/invitations/{invitation.pk}/revoke/").status_code == 403
    client.force_login(outsider)
    assert client.post(f"/teams/acme/invitations/{invitation.pk}/revoke/").status_code == 404
    invitation.refresh_from_db()
    assert invitation.state == "open"


def test_it_does_not_revoke_another_teams_invitation(client, owner, outsider):
    other = Team.objects.get(slug="other")
    invitation, _ = invitation_create(team=other, created_by=outsider)
    client.force_login(owner)

    assert client.post(f"/teams/acme/invitations/{invitation.pk}/revoke/").status_code == 404
    invitation.refresh_from_db()
    assert invitation.state == "open"


def test_it_lists_invitations_to_admins_only(client, team, owner, member):
    invitation_create(team=team, created_by=owner)
    client.force_login(owner)
    assert b"Create an invitation link" in client.get("/teams/acme/members/").content
    client.force_login(member)
    page = client.get("/teams/acme/members/").content
    assert b"Create an invitation link" not in page
    assert b"Revoke" not in page
