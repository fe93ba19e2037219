"""Admins change roles and remove members; the last admin cannot leave or be demoted."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from apps.teams.models import Membership


def _membership(user) -> Membership:
    return Membership.objects.get(user=user, team__slug="acme")


def test_it_shows_the_members_page_at_its_new_address(client, owner, member):
    client.force_login(member)
    response = client.get("/teams/acme/members/")
    assert response.status_code == 200
    assert b"alice" in response.content and b"bob" in response.content


def test_it_hides_the_members_page_from_an_outsider(client, team, outsider):
    client.force_login(outsider)
    assert client.get("/teams/acme/members/").status_code == 404


def test_it_lets_an_admin_make_a_member_an_admin(client, owner, member):
    client.force_login(owner)

    response = client.post(f"/teams/acme/members/{_membership(member).pk}/role/", {"role": "admin"})

    assert response.status_code == 302
    assert _membership(member).role == "admin"


def test_it_refuses_to_demote_the_last_admin(client, owner, member):
    client.force_login(owner)

    response = client.post(
        f"/teams/acme/members/{_membership(owner).pk}/role/", {"role": "member"}, follow=True
    )

    assert _membership(owner).role == "admin"
    assert b"only admin" in response.content


def test_it_lets_an_admin_step_down_once_there_is_another(client, owner, member):
    _membership(member)
    Membership.objects.filter(user=member).update(role="admin")
    client.force_login(owner)

    client.post(f"/teams/acme/members/{_membership(owner).pk}/role/", {"role": "member"})

    assert _membership(owner).role == "member"


def test_it_refuses_an_unknown_role(client, owner, member):
    client.force_login(owner)
    response = client.post(
        f"/teams/acme/members/{_membership(member).pk}/role/", {"role": "owner\x00"}, follow=True
    )
    assert response.status_code == 200
    assert _membership(member).role == "member"
    assert b"Choose Admin or Member" in response.content


def test_it_lets_a_member_change_no_role(client, owner, member):
    client.force_login(member)
    response = client.post(f"/teams/acme/members/{_membership(member).pk}/role/", {"role": "admin"})
    assert response.status_code == 403
    assert b"Only team admins" in response.content
    assert _membership(member).role == "member"


def test_it_hides_role_changes_from_an_outsider(client, owner, outsider):
    client.force_login(outsider)
    response = client.post(f"/teams/acme/members/{_membership(owner).pk}/role/", {"role": "member"})
    assert response.status_code == 404


def test_it_does_not_change_another_teams_member(client, owner, outsider):
    other = Membership.objects.get(user=outsider)
    client.force_login(owner)
    assert (
        client.post(f"/teams/acme/members/{other.pk}/role/", {"role": "member"}).status_code == 404
    )
    other.refresh_from_db()
    assert other.role == "admin"


def test_it_lets_an_admin_remove_a_member(client, owner, member):
    client.force_login(owner)

    client.post(f"/teams/acme/members/{_membership(member).pk}/remove/")

    assert not Membership.objects.filter(user=member).exists()
    client.force_login(member)
    assert client.get("/teams/acme/").status_code == 404


def test_it_lets_a_member_remove_no_one(client, owner, member):
    client.force_login(member)
    assert client.post(f"/teams/acme/members/{_membership(owner).pk}/remove/").status_code == 403
    assert Membership.objects.filter(user=owner).exists()


def test_it_lets_a_member_leave(client, owner, member):
    client.force_login(member)

    response = client.post("/teams/acme/leave/")

    assert response["Location"] == "/"
    assert not Membership.objects.filter(user=member).exists()


def test_it_refuses_to_let_the_last_admin_leave(client, owner, member):
    client.force_login(owner)

    response = client.post("/teams/acme/leave/", follow=True)

    assert _membership(owner).is_admin
    assert b"only admin" in response.content


def test_it_refuses_the_last_admin_removing_themselves(client, owner):
    client.force_login(owner)
    client.post(f"/teams/acme/members/{_membership(owner).pk}/remove/")
    assert _membership(owner).is_admin


def test_it_lets_an_admin_leave_when_another_admin_remains(client, owner):
    second = get_user_model().objects.create_user("zoe", password="password-zoe")
    Membership.objects.create(user=second, team=_membership(owner).team, role="admin")
    client.force_login(owner)

    client.post("/teams/acme/leave/")

    assert not Membership.objects.filter(user=owner).exists()
