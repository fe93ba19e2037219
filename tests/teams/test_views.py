import pytest
from django.contrib.auth import get_user_model

from apps.teams.models import Membership, Team


def test_it_shows_the_team_to_its_owner(client, owner):
    client.force_login(owner)
    response = client.get("/teams/acme/members/")
    assert response.status_code == 200
    assert b"Acme" in response.content


def test_it_shows_the_team_to_a_member(client, member):
    client.force_login(member)
    assert client.get("/teams/acme/members/").status_code == 200


def test_it_hides_the_team_from_an_outsider(client, team, outsider):
    client.force_login(outsider)
    assert client.get("/teams/acme/members/").status_code == 404


def test_it_sends_anonymous_users_to_login(client, team):
    response = client.get("/teams/acme/members/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_it_creates_a_team_with_the_creator_as_admin(client, owner):
    client.force_login(owner)
    response = client.post("/teams/new/", {"name": "Platform Crew"})
    team = Team.objects.get(name="Platform Crew")
    assert response.status_code == 302
    assert response["Location"] == "/teams/platform-crew/"
    assert Membership.objects.get(team=team, user=owner).role == "admin"


def test_it_gives_a_clashing_team_name_its_own_slug(client, owner):
    client.force_login(owner)
    client.post("/teams/new/", {"name": "Acme"})
    assert Team.objects.filter(name="Acme").count() == 2
    assert Team.objects.filter(slug="acme-2").exists()


def test_it_refuses_an_empty_team_name(client, owner):
    client.force_login(owner)
    response = client.post("/teams/new/", {"name": "   "})
    assert response.status_code == 200
    assert b"This field is required" in response.content


@pytest.mark.django_db
def test_it_signs_up_and_logs_in(client):
    response = client.post(
        "/signup/",
        {
            "username": "dora",
            "password1": "a-long-passphrase-9",
            "password2": "a-long-passphrase-9",
        },
    )
    assert response.status_code == 302
    assert get_user_model().objects.filter(username="dora").exists()
    assert client.get("/teams/new/").status_code == 200


@pytest.mark.django_db
def test_it_logs_in_and_out(client):
    get_user_model().objects.create_user("erin", password="password-erin")
    response = client.post("/login/", {"username": "erin", "password": "password-erin"})
    assert response.status_code == 302
    assert client.get("/teams/new/").status_code == 200
    client.post("/logout/")
    assert client.get("/teams/new/").status_code == 302


@pytest.mark.django_db
def test_it_shows_an_error_for_a_wrong_password(client):
    get_user_model().objects.create_user("erin", password="password-erin")
    response = client.post("/login/", {"username": "erin", "password": "nope"})
    assert response.status_code == 200
    assert b"correct username and password" in response.content


@pytest.mark.django_db
def test_the_signup_page_says_what_a_password_needs(client, settings):
    # The page's one sentence describes these four validators: a change to
    # them needs the sentence changed too (templates/registration/signup.html).
    assert [v["NAME"].rsplit(".", 1)[1] for v in settings.AUTH_PASSWORD_VALIDATORS] == [
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    ]
    page = client.get("/signup/").content.decode()
    assert (
        "At least 8 characters, not only digits, not a common password "
        "and not like your user name." in page
    )
    assert 'aria-describedby="id_password1_helptext"' in page
    assert 'id="id_password1_helptext"' in page


@pytest.mark.django_db
def test_the_signup_page_shows_each_refusal_beside_its_field(client):
    response = client.post(
        "/signup/", {"username": "dora dora", "password1": "12345678", "password2": "12345679"}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-role="error-username"' in page
    assert 'data-role="error-password2"' in page
    assert not get_user_model().objects.filter(username="dora dora").exists()
