"""Connecting a team's Slack: "Add to Slack" (OAuth v2) with a signed state bound
to the team and the admin, the bot token stored encrypted, disconnecting, a
revoked token shown as broken, and people matched to Slack users by email or
linked by hand. Slack is the fake on 127.0.0.1 at its documented paths."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from apps.notifications.models import (
    NotificationSettings,
    SlackConnection,
    SlackMessage,
    SlackPerson,
)
from apps.notifications.services import connections
from tests.notifications.conftest import slack_person
from tests.notifications.fake_slack import TOKEN

pytestmark = pytest.mark.django_db

PAGE = "/teams/acme/slack/"
CALLBACK = "/slack/oauth/callback/"


def start(client) -> dict[str, str]:
    """Press "Add to Slack": the query of the Slack page it sends the browser to."""
    response = client.post("/teams/acme/slack/connect/")
    assert response.status_code == 302
    url = urlsplit(response["Location"])
    assert url.path == "/oauth/v2/authorize"
    return {k: v[0] for k, v in parse_qs(url.query).items()}


def test_it_sends_an_admin_to_slacks_authorize_page_with_the_bot_scopes(client, owner, slack):
    client.force_login(owner)
    query = start(client)
    assert query["client_id"] == "1234.5678"
    assert query["redirect_uri"] == "https://metrics.example.com/slack/oauth/callback/"
    assert set(query["scope"].split(",")) >= {"chat:write", "im:write", "users:read.email"}
    assert query["state"]


def test_it_connects_the_team_and_stores_the_token_encrypted(client, owner, team, slack):
    client.force_login(owner)
    state = start(client)["state"]

    response = client.get(CALLBACK, {"code": "good-code", "state": state})

    assert response.status_code == 302 and response["Location"] == PAGE
    connection = SlackConnection.objects.get(team=team)
    assert connection.slack_team_id == "T0ACME" and connection.slack_team_name == "Acme Slack"
    assert connection.bot_user_id == "U0BOT" and connection.is_connected
    assert TOKEN not in connection.bot_token_encrypted
    assert connections.slack_token(connection=connection) == TOKEN
    (exchange,) = slack.to("oauth.v2.access")
    assert exchange.params["code"] == "good-code"
    assert exchange.params["redirect_uri"] == "https://metrics.example.com/slack/oauth/callback/"
    page = client.get(PAGE).content.decode()
    assert "connected" in page and "Acme Slack" in page and TOKEN not in page


def test_it_refuses_a_state_started_by_another_admin(client, owner, team, slack, django_user_model):
    client.force_login(owner)
    state = start(client)["state"]
    other = django_user_model.objects.create_user("dora", password="x")
    team.memberships.create(user=other, role="admin")
    client.force_login(other)

    response = client.get(CALLBACK, {"code": "good-code", "state": state})

    assert response.status_code == 400
    assert "someone else" in response.content.decode()
    assert not SlackConnection.objects.exists() and not slack.to("oauth.v2.access")


def test_it_refuses_a_state_used_twice(client, owner, slack):
    client.force_login(owner)
    state = start(client)["state"]
    assert client.get(CALLBACK, {"code": "good-code", "state": state}).status_code == 302

    again = client.get(CALLBACK, {"code": "good-code", "state": state})

    assert again.status_code == 400
    assert len(slack.to("oauth.v2.access")) == 1


@pytest.mark.parametrize(
    "state",
    [
        "forged",
        signing.dumps({"t": 1, "u": 1, "n": "x"}, salt="another-salt"),
        "x" * 5000,
        "\x00",
    ],
)
def test_it_refuses_a_forged_state(client, owner, slack, state):
    client.force_login(owner)
    start(client)
    response = client.get(CALLBACK, {"code": "good-code", "state": state})
    assert response.status_code == 400
    assert not SlackConnection.objects.exists()


def test_it_refuses_an_expired_state(client, owner, slack, monkeypatch):
    client.force_login(owner)
    state = start(client)["state"]
    real = signing.time.time
    monkeypatch.setattr(signing.time, "time", lambda: real() + 601)

    response = client.get(CALLBACK, {"code": "good-code", "state": state})

    assert response.status_code == 400 and "expired" in response.content.decode()


def test_it_says_why_when_slack_refuses_the_code(client, owner, slack):
    client.force_login(owner)
    state = start(client)["state"]
    response = client.get(CALLBACK, {"code": "stale-code", "state": state})
    assert response.status_code == 400
    assert "invalid_code" in response.content.decode()


def test_it_says_so_when_the_person_cancels_in_slack(client, owner, slack):
    client.force_login(owner)
    state = start(client)["state"]
    response = client.get(CALLBACK, {"error": "access_denied", "state": state})
    assert response.status_code == 400 and "cancelled" in response.content.decode()


def test_members_read_the_page_and_only_admins_change_it(client, member, connected):
    client.force_login(member)
    page = client.get(PAGE)
    assert page.status_code == 200 and "Acme Slack" in page.content.decode()
    assert "Disconnect" not in page.content.decode()
    for action in ("connect", "disconnect", "check", "people/match", "people/link"):
        assert client.post(f"/teams/acme/slack/{action}/").status_code == 403
    assert SlackConnection.objects.exists()


def test_outsiders_do_not_see_the_page(client, outsider, connected):
    client.force_login(outsider)
    assert client.get(PAGE).status_code == 404
    assert client.post("/teams/acme/slack/disconnect/").status_code == 404


def test_it_disconnects_revoking_the_token_at_slack(client, owner, team, connected, slack):
    slack_person(team=team, user=owner, slack_user_id="U0ALICE")
    client.force_login(owner)

    response = client.post("/teams/acme/slack/disconnect/")

    assert response.status_code == 302
    assert not SlackConnection.objects.exists() and not SlackPerson.objects.exists()
    assert [c.token for c in slack.to("auth.revoke")] == [TOKEN]


def test_a_revoked_token_shows_the_connection_broken_with_the_reason(
    client, owner, connected, slack
):
    slack.revoked = True
    client.force_login(owner)

    client.post("/teams/acme/slack/check/")

    connected.refresh_from_db()
    assert connected.status == "broken" and connected.broken_reason == "token_revoked"
    page = client.get(PAGE).content.decode()
    assert "broken" in page and "token_revoked" in page and "Connect again" in page


def test_connecting_again_mends_a_broken_connection(client, owner, connected, slack):
    connections.slack_connection_break(team_id=connected.team_id, reason="token_revoked")
    client.force_login(owner)
    state = start(client)["state"]
    client.get(CALLBACK, {"code": "good-code", "state": state})
    connected.refresh_from_db()
    assert connected.is_connected and connected.broken_reason == ""


def _oauth_answer(team_block):
    return {
        "ok": True,
        "access_token": TOKEN,
        "token_type": "bot",
        "scope": "chat:write,im:write,users:read,users:read.email",
        "bot_user_id": "U0BOT2",
        "team": team_block,
        "authed_user": {"id": "U0ALICE"},
    }


def test_connecting_another_workspace_forgets_the_old_ones_people_and_channels(
    client, owner, member, team, connected, slack
):
    slack_person(team=team, user=member, slack_user_id="U0BOB")
    NotificationSettings.objects.create(team=team, nudge_channel="C0OLD", digest_channel="C0OLD")
    waiting = SlackMessage.objects.create(
        team=team, channel="U0BOB", text="review me", not_before=timezone.now()
    )
    slack.reply("oauth.v2.access", _oauth_answer({"id": "T0OTHER", "name": "Other"}))
    client.force_login(owner)

    client.get(CALLBACK, {"code": "good-code", "state": start(client)["state"]})

    connected.refresh_from_db()
    assert (connected.slack_team_id, connected.is_connected) == ("T0OTHER", True)
    # The old workspace's users and channels mean nothing in the new one.
    assert not SlackPerson.objects.filter(team=team).exists()
    notification = NotificationSettings.objects.get(team=team)
    assert (notification.nudge_channel, notification.digest_channel) == ("", "")
    waiting.refresh_from_db()
    assert waiting.status == "failed"
    assert waiting.last_error == "Slack was connected to another workspace"


def test_connecting_the_same_workspace_again_keeps_its_people(
    client, owner, member, team, connected, slack
):
    slack_person(team=team, user=member, slack_user_id="U0BOB")
    client.force_login(owner)

    client.get(CALLBACK, {"code": "good-code", "state": start(client)["state"]})

    assert SlackPerson.objects.filter(team=team, slack_user_id="U0BOB").exists()


def test_an_install_for_a_whole_organisation_is_refused(client, owner, team, slack):
    slack.reply("oauth.v2.access", {**_oauth_answer(None), "is_enterprise_install": True})
    client.force_login(owner)

    response = client.get(
        CALLBACK, {"code": "good-code", "state": start(client)["state"]}, follow=True
    )

    assert "add tformance to one workspace" in response.content.decode()
    assert not SlackConnection.objects.exists()


def test_it_matches_people_by_their_accounts_email(client, owner, member, team, connected, slack):
    owner.email = "alice@example.com"
    owner.save()
    member.email = "bob@example.com"
    member.save()
    slack.user("U0ALICE", "alice@example.com", tz="America/New_York")
    client.force_login(owner)

    client.post("/teams/acme/slack/people/match/")

    (alice,) = SlackPerson.objects.all()
    assert (alice.user, alice.slack_user_id, alice.time_zone, alice.matched_by) == (
        owner,
        "U0ALICE",
        "America/New_York",
        "email",
    )
    assert sorted(c.params["email"] for c in slack.to("users.lookupByEmail")) == [
        "alice@example.com",
        "bob@example.com",
    ]


def test_a_rate_limited_lookup_is_said_not_a_500(client, owner, connected, slack):
    owner.email = "alice@example.com"
    owner.save()
    slack.reply(
        "users.lookupByEmail", {"ok": False, "error": "ratelimited"}, status=429, Retry_After="30"
    )
    client.force_login(owner)
    response = client.post("/teams/acme/slack/people/match/", follow=True)
    assert response.status_code == 200 and "ratelimited" in response.content.decode()


def test_an_invalid_token_while_matching_breaks_the_connection(client, owner, connected, slack):
    owner.email = "alice@example.com"
    owner.save()
    slack.reply("users.lookupByEmail", {"ok": False, "error": "invalid_auth"})
    client.force_login(owner)
    client.post("/teams/acme/slack/people/match/")
    connected.refresh_from_db()
    assert connected.status == "broken" and connected.broken_reason == "invalid_auth"


def _missing_scope(needed: str) -> dict[str, object]:
    """Slack's answer to a call the token lacks a scope for: what the call
    needed and what the token has."""
    return {"ok": False, "error": "missing_scope", "needed": needed, "provided": "chat:write"}


def test_a_missing_scope_while_matching_names_it_and_keeps_the_connection(
    client, owner, connected, slack
):
    # missing_scope broke the whole connection: every message waited, and
    # "Connect again" was the only way on, for want of one feature's scope.
    owner.email = "alice@example.com"
    owner.save()
    slack.reply("users.lookupByEmail", _missing_scope("users:read.email"))
    client.force_login(owner)

    response = client.post("/teams/acme/slack/people/match/", follow=True)

    said = response.content.decode()
    assert "users:read.email" in said and "Reinstall the Slack app" in said
    connected.refresh_from_db()
    assert connected.is_connected and connected.broken_reason == ""
    assert connected.missing_scope == "users:read.email"
    assert connected.scopes == "chat:write"  # what Slack says the token has


@pytest.mark.parametrize(
    ("needed", "still_missing"),
    # The fake grants chat:write, im:write, users:read and users:read.email.
    [("users:read.email", False), ("chat:write.public", True)],
)
def test_connecting_again_clears_a_missing_scope_once_slack_grants_it(
    client, owner, connected, slack, needed, still_missing
):
    owner.email = "alice@example.com"
    owner.save()
    slack.reply("users.lookupByEmail", _missing_scope(needed))
    client.force_login(owner)
    client.post("/teams/acme/slack/people/match/")
    assert "for want of the scope" in client.get(PAGE).content.decode()

    state = start(client)["state"]
    client.get(CALLBACK, {"code": "good-code", "state": state})

    connected.refresh_from_db()
    assert connected.is_connected
    assert connected.missing_scope == (needed if still_missing else "")
    assert ("for want of the scope" in client.get(PAGE).content.decode()) is still_missing


def test_an_admin_links_a_person_by_hand(client, owner, member, connected, slack):
    slack.user("U0BOB", "bob@elsewhere.example", tz="Asia/Tokyo")
    client.force_login(owner)

    client.post("/teams/acme/slack/people/link/", {"user": member.pk, "slack_user_id": "U0BOB"})

    person = SlackPerson.objects.get(user=member)
    assert (person.slack_user_id, person.time_zone, person.matched_by) == (
        "U0BOB",
        "Asia/Tokyo",
        "hand",
    )
    client.post("/teams/acme/slack/people/link/", {"user": member.pk, "action": "unlink"})
    assert not SlackPerson.objects.exists()


@pytest.mark.parametrize(
    ("user", "slack_user_id", "said"),
    [
        ("member", "not-an-id", "looks like"),
        ("member", "U0NOBODY", "no member U0NOBODY"),
        ("outsider", "U0BOB", "not in this team"),
        ("\u0661\u0662", "U0BOB", "Choose a person"),
        ("member", "U0BOB\x00", "looks like"),
    ],
)
def test_it_refuses_a_link_it_cannot_make(
    client, owner, member, outsider, connected, slack, user, slack_user_id, said
):
    slack.user("U0BOB", "bob@example.com")
    people = {"member": member.pk, "outsider": outsider.pk}
    client.force_login(owner)
    response = client.post(
        "/teams/acme/slack/people/link/",
        {"user": people.get(user, user), "slack_user_id": slack_user_id},
        follow=True,
    )
    assert response.status_code == 200 and said in response.content.decode()
    assert not SlackPerson.objects.exists()


def test_the_page_says_when_slack_is_not_set_up(client, owner, settings):
    settings.SLACK_CLIENT_ID = ""
    client.force_login(owner)
    assert "not set up" in client.get(PAGE).content.decode()
    response = client.post("/teams/acme/slack/connect/", follow=True)
    assert "SLACK_CLIENT_ID" in response.content.decode()


def test_the_callback_needs_a_login(client, slack):
    response = client.get(CALLBACK, {"code": "good-code", "state": "x"})
    assert response.status_code == 302 and "/login" in response["Location"]
    assert reverse("slack_oauth_callback") == CALLBACK


def test_the_slack_app_manifest_asks_for_the_scopes_and_urls_tformance_uses():
    import json
    from pathlib import Path

    from apps.notifications.services.slack_api import BOT_SCOPES

    manifest = json.loads((Path(__file__).parents[2] / "slack-app-manifest.json").read_text())
    assert manifest["oauth_config"]["scopes"]["bot"] == list(BOT_SCOPES)
    base = "{BASE_URL}"
    assert manifest["oauth_config"]["redirect_urls"] == [base + CALLBACK]
    assert manifest["settings"]["interactivity"]["request_url"] == base + "/slack/interactivity/"
    assert manifest["features"]["bot_user"]["display_name"]
