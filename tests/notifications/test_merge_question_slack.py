"""The merge question in Slack: on a live merge, the linked author whose team has
Slack gets a direct message with five buttons (once, in their working hours);
a press, signed as Slack signs it, answers through the one answer path and
updates the message; forged, stale, another person's and malformed requests
are refused with a 4xx. Deliveries go through the real endpoint, signed;
Slack is the fake on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from celery.exceptions import Retry
from django.core import mail

from apps.metrics.models import MergeQuestion
from apps.metrics.services.members_link import team_member_link
from apps.metrics.services.payloads import GitHubUser
from apps.notifications import tasks
from apps.notifications.models import (
    NotificationSettings,
    SlackConnection,
    SlackMessage,
    SlackPerson,
)
from apps.notifications.services import connections
from tests.integrations.conftest import deliver, installation_for, repository_for  # noqa: F401
from tests.notifications.conftest import slack_person
from tests.payloads.merges import merge_event as merged

pytestmark = pytest.mark.django_db

AUTHOR = GitHubUser(github_id=21031067, login="Codertocat", is_bot=False)
SECRET = "slack-signing-secret"
URL = "/slack/interactivity/"


@pytest.fixture
def repository(team):
    installation = installation_for(team=team, installation_id=42, login="acme")
    repository = repository_for(
        installation=installation, github_id=186853002, full_name="acme/api"
    )
    repository.tracked_at = datetime(2024, 12, 1, tzinfo=UTC)
    repository.save(update_fields=["tracked_at"])
    return repository


@pytest.fixture
def author(team, member, slack):
    """bob, linked to Codertocat (the payloads' author), with an email address."""
    member.email = "bob@example.com"
    member.save(update_fields=["email"])
    team_member_link(team=team, user=member, github_user=AUTHOR)
    return member


def press(
    client,
    *,
    question_id: int,
    answer: str = "most",
    user: str = "U0BOB",
    workspace: str = "T0ACME",
    timestamp: int,
    secret: str = SECRET,
    body: bytes | None = None,
    payload: Any = None,
):
    """A button press, signed as Slack signs it (v0, HMAC-SHA256 of v0:ts:body)."""
    if payload is None:
        payload = {
            "type": "block_actions",
            "team": {"id": workspace, "domain": "acme"},
            "user": {"id": user, "username": "bob", "team_id": workspace},
            "api_app_id": "A0APP",
            "container": {"type": "message", "message_ts": "1700000000.000001"},
            "channel": {"id": "D0BOB", "name": "directmessage"},
            "response_url": "https://hooks.slack.com/actions/T0ACME/1/x",
            "actions": [
                {
                    "type": "button",
                    "action_id": f"merge_question:{answer}",
                    "block_id": f"merge_question_{question_id}",
                    "value": f"{question_id}:{answer}",
                    "action_ts": "1700000001.000001",
                }
            ],
        }
    if body is None:
        body = urlencode({"payload": json.dumps(payload)}).encode()
    base = b"v0:" + str(timestamp).encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return client.post(
        URL,
        body,
        content_type="application/x-www-form-urlencoded",
        HTTP_X_SLACK_SIGNATURE=signature,
        HTTP_X_SLACK_REQUEST_TIMESTAMP=str(timestamp),
    )


@pytest.fixture
def bob_in_slack(repository, author, team, connected, clock) -> SlackPerson:
    """All a merge needs to ask bob in Slack: the tracked repository, bob linked as
    its author and with his Slack user (U0BOB, in London), the team's Slack
    connected, the clock on Wednesday noon (UTC)."""
    return slack_person(team=team, user=author, slack_user_id="U0BOB", tz="Europe/London")


def in_zone(person: SlackPerson, tz: str) -> None:
    SlackPerson.objects.filter(pk=person.pk).update(time_zone=tz)


@pytest.fixture
def asked(deliver, bob_in_slack):  # noqa: F811
    """bob's merge asked, its direct message sent (Wednesday noon in London)."""
    deliver("pull_request", merged())
    return MergeQuestion.objects.get()


def now_ts(clock) -> int:
    return int(clock.now.timestamp())


# --- the direct message --------------------------------------------------------------


def test_it_sends_the_linked_author_a_direct_message_with_five_buttons(asked, slack):
    (opened,) = slack.to("conversations.open")
    assert opened.params["users"] == "U0BOB"
    (post,) = slack.to("chat.postMessage")
    assert post.params["channel"] == "D0BOB"
    blocks = post.params["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    assert [e["value"] for e in actions["elements"]] == [
        f"{asked.pk}:{key}" for key in ("none", "little", "half", "most", "all")
    ]
    assert [e["text"]["text"] for e in actions["elements"]] == [
        "None",
        "A little",
        "About half",
        "Most",
        "All",
    ]
    assert "acme/api#7" in post.params["text"]
    message = SlackMessage.objects.get()
    assert (message.status, message.slack_channel, message.question_id) == (
        "sent",
        "D0BOB",
        asked.pk,
    )
    assert len(mail.outbox) == 1  # the email goes too


def test_a_redelivered_merge_sends_one_message(asked, deliver, slack):  # noqa: F811
    deliver("pull_request", merged())
    deliver("pull_request", merged(), delivery_id="another-id")
    assert len(slack.to("chat.postMessage")) == 1 and SlackMessage.objects.count() == 1


def test_a_consumer_run_twice_sends_one_message(asked, slack):
    from apps.metrics.models import PullRequestEvent
    from apps.metrics.services.lifecycle import lifecycle_events_consume

    event = PullRequestEvent.objects.get(kind="merged")
    lifecycle_events_consume(consumer="slack-merge-question", event_ids=[event.pk])
    lifecycle_events_consume(consumer="slack-merge-question", event_ids=[event.pk])
    assert len(slack.to("chat.postMessage")) == 1


def test_no_message_without_slack_or_without_a_slack_user(
    deliver,  # noqa: F811
    repository,
    author,
    team,
    slack,
    clock,
):
    deliver("pull_request", merged(7))  # no connection
    connected = SlackConnection.objects.create(
        team=team, slack_team_id="T0ACME", bot_token_encrypted="x", connected_at=clock.now
    )
    deliver("pull_request", merged(8))  # connected, but bob has no Slack user
    assert connected.pk and MergeQuestion.objects.count() == 2
    assert not slack.calls and not SlackMessage.objects.exists()


def test_a_message_outside_the_persons_working_hours_waits_for_them(
    deliver,  # noqa: F811
    bob_in_slack,
    slack,
    clock,
):
    # Wednesday 12:00 UTC is 21:00 in Tokyo: held until Thursday 09:00 there.
    in_zone(bob_in_slack, "Asia/Tokyo")
    deliver("pull_request", merged())

    message = SlackMessage.objects.get()
    assert message.status == "pending"
    assert message.not_before == datetime(2025, 1, 9, 0, 0, tzinfo=UTC)
    assert not slack.to("chat.postMessage")

    clock.advance(hours=11, minutes=59)
    assert tasks.notifications_tick() == 0
    clock.advance(minutes=1)
    assert tasks.notifications_tick() == 1
    assert len(slack.to("chat.postMessage")) == 1
    message.refresh_from_db()
    assert message.status == "sent" and message.sent_at == clock.now


# --- failures ------------------------------------------------------------------------


def test_a_rate_limit_waits_as_long_as_slack_says_and_the_task_retries_then(
    deliver,  # noqa: F811
    bob_in_slack,
    slack,
    clock,
    monkeypatch,
):
    from config.celery import app

    slack.reply(
        "chat.postMessage", {"ok": False, "error": "ratelimited"}, status=429, Retry_After="30"
    )
    countdowns: list[float] = []
    task = app.tasks["apps.notifications.tasks.send_slack_message"]

    def retry(**kwargs: Any) -> Exception:
        countdowns.append(kwargs["countdown"])
        return Retry()

    monkeypatch.setattr(task, "retry", retry)

    deliver("pull_request", merged())  # the task asks to be retried in 30 s

    assert countdowns == [30.0]
    message = SlackMessage.objects.get()
    assert message.status == "pending" and message.last_error == "Slack: ratelimited"
    assert message.not_before == clock.now + timedelta(seconds=30)
    clock.advance(seconds=30)
    tasks.notifications_tick()
    message.refresh_from_db()
    assert message.status == "sent" and len(slack.to("chat.postMessage")) == 2


def test_a_revoked_token_breaks_the_connection_and_the_message_waits_for_it(
    deliver,  # noqa: F811
    bob_in_slack,
    connected,
    slack,
):
    slack.reply("conversations.open", {"ok": False, "error": "token_revoked"})
    deliver("pull_request", merged())

    connected.refresh_from_db()
    assert connected.status == "broken" and connected.broken_reason == "token_revoked"
    message = SlackMessage.objects.get()
    assert message.status == "pending" and "token_revoked" in message.last_error
    assert tasks.notifications_tick() == 0  # nothing is sent while broken

    SlackConnection.objects.filter(pk=connected.pk).update(status="connected")
    assert tasks.notifications_tick() == 1
    message.refresh_from_db()
    assert message.status == "sent"


def test_a_message_slack_refuses_for_good_is_kept_with_the_reason(
    deliver,  # noqa: F811
    bob_in_slack,
    slack,
):
    slack.reply("chat.postMessage", {"ok": False, "error": "channel_not_found"})
    deliver("pull_request", merged())
    message = SlackMessage.objects.get()
    assert message.status == "failed" and message.last_error == "Slack: channel_not_found"


@pytest.mark.parametrize(
    "error",
    # Documented by Slack for chat.postMessage, and one it may add: the same
    # at every try, so they fail with the reason instead of being retried for ever.
    ["messages_tab_disabled", "msg_blocks_too_long", "access_denied", "a_code_slack_adds_later"],
)
def test_an_error_slack_documents_as_the_requests_fails_the_message(
    deliver,  # noqa: F811
    bob_in_slack,
    slack,
    error,
):
    slack.reply("chat.postMessage", {"ok": False, "error": error})
    deliver("pull_request", merged())
    message = SlackMessage.objects.get()
    assert message.status == "failed" and message.last_error == f"Slack: {error}"


@pytest.mark.parametrize(
    "reply",
    [
        # Documented by Slack as temporary, and done before anything was posted.
        {"body": {"ok": False, "error": "service_unavailable"}},
        {"body": {"ok": False, "error": "request_timeout"}},  # "POST data … truncated"
        {"body": {"ok": False, "error": "bad_gateway"}, "status": 502},
    ],
    ids=["service_unavailable", "request_timeout", "http_502"],
)
def test_slacks_own_trouble_is_retried_later(
    deliver,  # noqa: F811
    bob_in_slack,
    slack,
    clock,
    reply,
):
    slack.reply("chat.postMessage", reply["body"], status=reply.get("status", 200))
    deliver("pull_request", merged())
    message = SlackMessage.objects.get()
    assert message.status == "pending" and message.not_before > clock.now
    assert message.last_error == f"Slack: {reply['body']['error']}"


def _answer_lost(slack, how: str, monkeypatch) -> None:
    """chat.postMessage reaches Slack whole, and its answer is lost."""
    ok = {"ok": True, "channel": "D0BOB", "ts": "1.2"}
    if how == "read_timeout":
        # A short read timeout (the fake answers conversations.open well within
        # it); chat.postMessage's answer never comes, and the client gives up.
        monkeypatch.setattr("apps.notifications.services.slack_api.TIMEOUT_SECONDS", 1.0)
        slack.reply("chat.postMessage", ok, hang=True)
    elif how == "dropped":
        slack.reply("chat.postMessage", ok, dropped=True)
    else:
        slack.reply("chat.postMessage", ok, cut_off=True)


@pytest.mark.parametrize("how", ["read_timeout", "dropped", "cut_off"])
def test_an_answer_lost_after_the_post_fails_it_as_maybe_posted_and_never_posts_it_again(
    client,
    deliver,  # noqa: F811
    bob_in_slack,
    owner,
    slack,
    clock,
    monkeypatch,
    django_capture_on_commit_callbacks,
    how,
):
    # Slack has no idempotency key: a post whose answer was lost may be in the
    # channel already, and was retried (and posted twice) as "unreachable".
    _answer_lost(slack, how, monkeypatch)
    deliver("pull_request", merged())

    message = SlackMessage.objects.get()
    assert message.status == "failed"
    assert "answer was lost" in message.last_error
    assert "may or may not have posted it" in message.last_error
    assert "Send it again" in message.last_error
    clock.advance(hours=2)
    tasks.notifications_tick()
    message.refresh_from_db()
    assert message.status == "failed" and len(slack.to("chat.postMessage")) == 1

    client.force_login(owner)
    assert "may or may not have posted it" in client.get("/teams/acme/slack/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/teams/acme/slack/messages/{message.pk}/retry/")
    message.refresh_from_db()
    assert message.status == "sent" and len(slack.to("chat.postMessage")) == 2


@pytest.mark.parametrize("error", ["internal_error", "fatal_error"])
def test_an_error_slack_says_may_come_after_part_of_the_work_fails_the_post_as_maybe_posted(
    deliver,  # noqa: F811
    bob_in_slack,
    slack,
    clock,
    error,
):
    # Slack's docs of both: "It's possible some aspect of the operation
    # succeeded before the error was raised": a retry could post it twice.
    slack.reply("chat.postMessage", {"ok": False, "error": error})
    deliver("pull_request", merged())
    message = SlackMessage.objects.get()
    assert message.status == "failed" and message.last_error.startswith(f"Slack: {error}")
    assert "may or may not have posted it" in message.last_error
    clock.advance(hours=2)
    tasks.notifications_tick()
    assert len(slack.to("chat.postMessage")) == 1


def test_an_answer_lost_opening_the_direct_message_is_retried_as_it_posts_nothing(
    deliver,  # noqa: F811
    bob_in_slack,
    slack,
    clock,
):
    # conversations.open only finds (or opens) the conversation: asking again
    # is harmless, and the message was not posted yet.
    slack.reply("conversations.open", {"ok": True, "channel": {"id": "D0BOB"}}, dropped=True)
    deliver("pull_request", merged())
    message = SlackMessage.objects.get()
    assert message.status == "pending" and message.last_error == "Slack: no_answer"
    assert message.not_before > clock.now and not slack.to("chat.postMessage")

    clock.advance(minutes=1)
    tasks.notifications_tick()
    message.refresh_from_db()
    assert message.status == "sent" and len(slack.to("chat.postMessage")) == 1


@pytest.mark.parametrize(
    "error",
    [socket.gaierror(-2, "Name or service not known"), TimeoutError("timed out")],
    ids=["dns_failure", "connect_timeout"],
)
def test_a_post_that_never_reached_slack_is_retried_later(
    deliver,  # noqa: F811
    bob_in_slack,
    slack,
    clock,
    settings,
    monkeypatch,
    error,
):
    # Resolving Slack's host or connecting to it failed: nothing was sent.
    port = urlsplit(settings.SLACK_API_URL).port
    real = socket.create_connection

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        if address[1] == port:
            raise error
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    deliver("pull_request", merged())
    message = SlackMessage.objects.get()
    assert message.status == "pending" and message.last_error == "Slack: unreachable"
    assert message.not_before > clock.now and not slack.calls

    monkeypatch.setattr(socket, "create_connection", real)
    clock.advance(minutes=1)
    tasks.notifications_tick()
    message.refresh_from_db()
    assert message.status == "sent" and len(slack.to("chat.postMessage")) == 1


def test_slack_unreachable_is_retried_later(
    deliver,  # noqa: F811
    bob_in_slack,
    clock,
    settings,
):
    settings.SLACK_API_URL = "http://127.0.0.1:9/api/"  # nothing listens on the discard port
    deliver("pull_request", merged())
    message = SlackMessage.objects.get()
    assert message.status == "pending" and message.last_error == "Slack: unreachable"
    assert message.not_before > clock.now


def test_a_missing_scope_fails_only_what_needs_it_and_slack_stays_connected(
    client,
    deliver,  # noqa: F811
    bob_in_slack,
    connected,
    owner,
    team,
    slack,
):
    # missing_scope broke the connection: the channel's nudge waited with the
    # direct message, until an admin connected again.
    NotificationSettings.objects.create(team=team, nudge_channel="C0NUDGE")
    slack.reply(
        "conversations.open",
        {"ok": False, "error": "missing_scope", "needed": "im:write", "provided": "chat:write"},
    )

    deliver("pull_request", merged())  # asks bob directly, nudges the channel

    question = SlackMessage.objects.get(kind="merge_question")
    assert question.status == "failed"
    assert "im:write" in question.last_error and "Reinstall the Slack app" in question.last_error
    nudge = SlackMessage.objects.get(kind="merged_unreviewed")
    assert nudge.status == "sent"
    assert [c.params["channel"] for c in slack.to("chat.postMessage")] == ["C0NUDGE"]
    connected.refresh_from_db()
    assert connected.is_connected and connected.missing_scope == "im:write"
    client.force_login(owner)
    page = client.get("/teams/acme/slack/").content.decode()
    assert "for want of the scope <code>im:write</code>" in page


# --- the buttons -----------------------------------------------------------------------


def test_a_signed_press_answers_the_question_and_updates_the_message(
    client, asked, slack, clock, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = press(client, question_id=asked.pk, answer="most", timestamp=now_ts(clock))

    assert response.status_code == 200
    asked.refresh_from_db()
    assert (asked.answer, asked.answered_via, asked.answered_at) == ("most", "slack", clock.now)
    (update,) = slack.to("chat.update")
    assert update.params["channel"] == "D0BOB"
    assert update.params["ts"] == SlackMessage.objects.get().slack_ts
    assert "You answered *Most*" in json.dumps(update.params["blocks"])


def test_a_second_press_changes_the_answer(client, asked, clock):
    press(client, question_id=asked.pk, answer="most", timestamp=now_ts(clock))
    press(client, question_id=asked.pk, answer="none", timestamp=now_ts(clock))
    asked.refresh_from_db()
    assert asked.answer == "none"


def test_a_forged_signature_is_refused(client, asked, clock):
    response = press(client, question_id=asked.pk, timestamp=now_ts(clock), secret="guessed")
    assert response.status_code == 401 and "signature" in response.json()["error"]
    asked.refresh_from_db()
    assert asked.answer == ""


@pytest.mark.parametrize("age", [301, -301, 3600])
def test_a_request_older_than_five_minutes_is_refused(client, asked, clock, age):
    response = press(client, question_id=asked.pk, timestamp=now_ts(clock) - age)
    assert response.status_code == 401 and "5 minutes" in response.json()["error"]
    asked.refresh_from_db()
    assert asked.answer == ""


def test_a_request_just_within_five_minutes_is_answered(client, asked, clock):
    assert press(client, question_id=asked.pk, timestamp=now_ts(clock) - 299).status_code == 200


def test_another_persons_press_is_refused(client, asked, team, owner, clock):
    slack_person(team=team, user=owner, slack_user_id="U0ALICE")
    response = press(client, question_id=asked.pk, user="U0ALICE", timestamp=now_ts(clock))
    assert response.status_code == 403 and "someone else" in response.json()["error"]
    asked.refresh_from_db()
    assert asked.answer == ""


def test_a_press_by_an_unlinked_slack_user_or_from_another_workspace_is_refused(
    client, asked, clock
):
    unlinked = press(client, question_id=asked.pk, user="U0STRANGER", timestamp=now_ts(clock))
    elsewhere = press(client, question_id=asked.pk, workspace="T0OTHER", timestamp=now_ts(clock))
    assert unlinked.status_code == 403 and elsewhere.status_code == 403
    asked.refresh_from_db()
    assert asked.answer == ""


def test_an_expired_question_or_unknown_one_is_refused(client, asked, clock):
    assert press(client, question_id=asked.pk + 1000, timestamp=now_ts(clock)).status_code == 404
    clock.advance(days=15)
    response = press(client, question_id=asked.pk, timestamp=now_ts(clock))
    assert response.status_code == 409 and "closed" in response.json()["error"]


def bad_payloads(question_id: int) -> list[Any]:
    good = {
        "type": "block_actions",
        "team": {"id": "T0ACME"},
        "user": {"id": "U0BOB"},
        "actions": [
            {"action_id": "merge_question:most", "value": f"{question_id}:most"},
        ],
    }

    def but(**changes: Any) -> dict[str, Any]:
        return {**good, **changes}

    def action(**changes: Any) -> dict[str, Any]:
        return but(actions=[{**good["actions"][0], **changes}])

    return [
        [],
        "text",
        but(type="view_submission"),
        but(actions=[]),
        but(actions="x"),
        but(actions=[good["actions"][0], good["actions"][0]]),
        but(user={"id": 5}),
        but(user="U0BOB"),
        but(team={}),
        action(action_id="something_else"),
        action(value=f"{question_id}:all"),
        action(action_id="merge_question:lots", value=f"{question_id}:lots"),
        action(value="\u0663:most"),
        action(value="1" * 40 + ":most"),
        action(value=f"{question_id}\x00:most"),
        action(value=None),
    ]


@pytest.mark.parametrize("case", range(16))
def test_a_malformed_payload_is_refused_with_a_400(client, asked, clock, case):
    payload = bad_payloads(asked.pk)[case]
    response = press(client, question_id=asked.pk, timestamp=now_ts(clock), payload=payload)
    assert response.status_code == 400, response.content
    assert response.json()["error"]
    asked.refresh_from_db()
    assert asked.answer == ""


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"payload=%7B",
        b"\xff\xfe",
        b"payload=1&payload=2",
        b"a=1&" * 20,
        b"x" * 70_000,
        # Nested past what the json module can read (RecursionError: a 500).
        b"payload=" + b"%5B" * 5_000,
        b"payload=" + b"[" * 5_000 + b"]" * 5_000,
    ],
)
def test_a_body_that_is_not_slacks_form_is_refused(client, asked, clock, body):
    response = press(client, question_id=asked.pk, timestamp=now_ts(clock), body=body)
    assert 400 <= response.status_code < 500
    assert response.json()["error"]


@pytest.mark.parametrize("timestamp", ["", "abc", "\u0661\u0667\u0660\u0660", "1" * 20, "-5"])
def test_a_missing_or_odd_timestamp_is_refused(client, asked, clock, timestamp):
    body = b"payload=%7B%7D"
    response = client.post(
        URL,
        body,
        content_type="application/x-www-form-urlencoded",
        HTTP_X_SLACK_SIGNATURE="v0=00",
        HTTP_X_SLACK_REQUEST_TIMESTAMP=timestamp,
    )
    assert response.status_code == 401


def test_without_a_signing_secret_nothing_is_trusted(client, asked, clock, settings):
    settings.SLACK_SIGNING_SECRET = ""
    response = press(client, question_id=asked.pk, timestamp=now_ts(clock), secret="")
    assert response.status_code == 401 and "SLACK_SIGNING_SECRET" in response.json()["error"]


def test_only_post_is_answered(client):
    assert client.get(URL).status_code == 405


def test_an_answer_from_slack_is_shown_in_the_app(client, asked, clock, member):
    press(client, question_id=asked.pk, answer="half", timestamp=now_ts(clock))
    client.force_login(member)
    page = client.get("/teams/acme/your-pull-requests/").content.decode()
    assert "About half" in page


def test_the_broken_connection_keeps_the_answer_and_skips_the_update(
    client, asked, slack, clock, django_capture_on_commit_callbacks
):
    connections.slack_connection_break(team_id=asked.team_id, reason="token_revoked")
    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert press(client, question_id=asked.pk, timestamp=now_ts(clock)).status_code == 200
    assert len(queued) == 1
    asked.refresh_from_db()
    assert asked.answer == "most" and not slack.to("chat.update")


def test_a_missing_scope_updating_the_message_keeps_the_answer_and_the_connection(
    client, asked, connected, slack, clock, django_capture_on_commit_callbacks
):
    slack.reply(
        "chat.update",
        {"ok": False, "error": "missing_scope", "needed": "chat:write", "provided": "im:write"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert press(client, question_id=asked.pk, timestamp=now_ts(clock)).status_code == 200

    asked.refresh_from_db()
    assert asked.answer == "most" and len(slack.to("chat.update")) == 1  # not retried
    connected.refresh_from_db()
    assert connected.is_connected and connected.missing_scope == "chat:write"


def test_an_admin_sends_a_failed_message_again(
    client,
    deliver,  # noqa: F811
    bob_in_slack,
    author,
    owner,
    slack,
    django_capture_on_commit_callbacks,
):
    slack.reply("chat.postMessage", {"ok": False, "error": "cannot_dm_bot"})
    deliver("pull_request", merged())
    message = SlackMessage.objects.get()
    client.force_login(owner)
    page = client.get("/teams/acme/slack/").content.decode()
    assert "Slack: cannot_dm_bot" in page and "Send again" in page

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/teams/acme/slack/messages/{message.pk}/retry/")

    message.refresh_from_db()
    assert message.status == "sent" and len(slack.to("chat.postMessage")) == 2
    client.force_login(author)
    assert client.post(f"/teams/acme/slack/messages/{message.pk}/retry/").status_code == 403


def test_a_message_a_dead_worker_left_sending_fails_with_the_reason_and_can_be_sent_again(
    client,
    deliver,  # noqa: F811
    bob_in_slack,
    owner,
    slack,
    clock,
    django_capture_on_commit_callbacks,
):
    # Nothing picked a "sending" message up again: a worker killed between
    # taking it and saying how it went left it so for good, never retried and
    # never shown failed. Slack may have it: it is not sent again by itself.
    slack.reply("chat.postMessage", {"ok": False, "error": "internal_error"})
    deliver("pull_request", merged())
    message = SlackMessage.objects.get()
    SlackMessage.objects.filter(pk=message.pk).update(status="sending", claimed_at=clock.now)

    clock.advance(minutes=9)
    tasks.notifications_tick()
    message.refresh_from_db()
    assert message.status == "sending"  # a send may still be under way

    clock.advance(minutes=2)
    tasks.notifications_tick()
    message.refresh_from_db()
    assert message.status == "failed"
    assert message.last_error.startswith("The worker stopped while sending it")
    assert len(slack.to("chat.postMessage")) == 1

    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/teams/acme/slack/messages/{message.pk}/retry/")
    message.refresh_from_db()
    assert message.status == "sent"


def test_members_do_not_see_whom_direct_messages_went_to(client, asked, member, owner):
    client.force_login(member)
    assert 'data-message="merge_question"' not in client.get("/teams/acme/slack/").content.decode()
    client.force_login(owner)
    assert 'data-message="merge_question"' in client.get("/teams/acme/slack/").content.decode()


def test_someone_linked_later_gets_the_catch_up_questions_in_slack(
    deliver,  # noqa: F811
    repository,
    team,
    member,
    connected,
    slack,
    clock,
):
    member.email = "bob@example.com"
    member.save()
    slack_person(team=team, user=member, slack_user_id="U0BOB")
    deliver("pull_request", merged())  # bob is not linked to Codertocat yet: nobody asked
    assert not MergeQuestion.objects.exists()

    team_member_link(team=team, user=member, github_user=AUTHOR)  # asked now, by email
    tasks.notifications_tick()
    tasks.notifications_tick()

    question = MergeQuestion.objects.get()
    (post,) = slack.to("chat.postMessage")
    assert post.params["channel"] == "D0BOB"
    assert SlackMessage.objects.get().question == question


def test_the_catch_up_leaves_older_or_answered_questions(asked, slack, clock):
    SlackMessage.objects.all().delete()
    MergeQuestion.objects.filter(pk=asked.pk).update(answer="most")
    tasks.notifications_tick()
    MergeQuestion.objects.filter(pk=asked.pk).update(answer="")
    clock.advance(days=1, seconds=1)
    tasks.notifications_tick()
    assert len(slack.to("chat.postMessage")) == 1  # the one the merge sent


def test_quiet_hours_follow_the_teams_working_days_in_the_persons_zone(
    deliver,  # noqa: F811
    bob_in_slack,
    team,
):
    # The team works Tuesday to Saturday, 10:00 to 18:00, with Thursday off;
    # Wednesday 12:00 UTC is 21:00 in Tokyo: held until Friday 10:00 there.
    team.working_days = [2, 3, 4, 5, 6]
    team.work_starts_at = time(10)
    team.work_ends_at = time(18)
    team.holidays = ["2025-01-09"]
    team.save()
    in_zone(bob_in_slack, "Asia/Tokyo")
    deliver("pull_request", merged())
    message = SlackMessage.objects.get()
    assert message.status == "pending"
    assert message.not_before == datetime(2025, 1, 10, 1, 0, tzinfo=UTC)
