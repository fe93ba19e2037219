"""The merge question in Slack: a direct message with five buttons, answered
through Slack's interactivity endpoint into the one answer path
(`merge_question_answer(..., channel="slack")`, docs/merge-question.md).

- **Asked once.** The consumer `slack-merge-question` takes the same live
  `merged` events as the merge question's own consumer and asks for the same
  decision (`merge_question_ask` is insert-or-nothing: whichever consumer runs
  first decides, the other finds it); the message's key is the question.
- **Signed as Slack signs.** A request is answered only when its ``v0``
  signature (HMAC-SHA256 of ``v0:{timestamp}:{body}`` with
  SLACK_SIGNING_SECRET) matches, compared in constant time, and its timestamp
  is within 5 minutes; then only by the question's own person, through their
  linked Slack user in the team's workspace."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from apps.common.json_input import json_read
from apps.common.scheduling import task_send
from apps.metrics.models import MergeQuestion, PullRequestEvent
from apps.metrics.services.merge_questions import (
    QuestionRefused,
    merge_question_answer,
    merge_question_ask,
)
from apps.notifications.models import SlackConnection, SlackMessage, SlackPerson
from apps.notifications.services import calendar, slack_api
from apps.notifications.services.connections import (
    slack_connection_for,
    slack_scope_missing,
    slack_token,
)
from apps.notifications.services.messages import Outgoing, slack_message_queue
from apps.teams.models import Team

logger = logging.getLogger(__name__)

UPDATE_TASK = "apps.notifications.tasks.update_merge_question_message"
# Slack's own limit: requests older than this are refused (replays).
MAX_AGE_SECONDS = 5 * 60
# A block_actions payload is a few kilobytes; anything far larger is not Slack's.
MAX_BODY = 64 * 1024
ACTION_PREFIX = "merge_question:"
# Questions asked this recently without a direct message get one (the catch-up).
CATCH_UP_WINDOW = timedelta(days=1)


class InteractionRefused(Exception):
    """A request the interactivity endpoint does not act on: ``status`` is the
    HTTP status to answer, the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _title(question: MergeQuestion) -> str:
    pr = question.pull_request
    where = pr.repository.full_name if pr.repository else "a repository"
    return f"{where}#{pr.number}" + (f" {pr.title}" if pr.title else "")


def merge_question_blocks(question: MergeQuestion) -> list[dict[str, Any]]:
    """The message: the pull request, the question, five buttons (the chosen
    answer marked, and changeable until the question closes)."""
    pr = question.pull_request
    link = slack_api.slack_link(pr.html_url, _title(question))
    lines = [f"*{MergeQuestion.TEXT}*", link]
    if question.answer:
        lines.append(
            f"You answered *{question.get_answer_display()}*. You can change it until "
            f"{question.expires_at:%d %b %Y}."
        )
    buttons = []
    for key, label in MergeQuestion.Answer.choices:
        button: dict[str, Any] = {
            "type": "button",
            "text": {"type": "plain_text", "text": label},
            "action_id": f"{ACTION_PREFIX}{key}",
            "value": f"{question.pk}:{key}",
        }
        if key == question.answer:
            button["style"] = "primary"
        buttons.append(button)
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
        {"type": "actions", "block_id": f"merge_question_{question.pk}", "elements": buttons},
    ]


def _direct_message(*, question: MergeQuestion, team: Team, person: SlackPerson) -> None:
    """Queue the question's direct message (once: its key is the question),
    held for the person's working hours."""
    hours = calendar.person_calendar(team=team, person_time_zone=person.time_zone)
    slack_message_queue(
        team_id=team.pk,
        message=Outgoing(
            key=f"merge_question:{question.pk}",
            kind=SlackMessage.Kind.MERGE_QUESTION,
            channel=person.slack_user_id,
            is_direct=True,
            text=f"{MergeQuestion.TEXT} {slack_api.slack_escape(_title(question))}",
            blocks=merge_question_blocks(question),
            not_before=calendar.next_working_moment(at=timezone.now(), calendar=hours),
            pull_request_id=question.pull_request_id,
            question_id=question.pk,
        ),
    )


def slack_merge_question_on_merge(event: PullRequestEvent) -> None:
    """Lifecycle consumer of live `merged` events: the question as a direct
    message, when the team has Slack and the person a Slack user; held for the
    person's working hours."""
    if not event.live or slack_connection_for(team_id=event.team_id) is None:
        return
    question = merge_question_ask(pull_request=event.pull_request)
    if question is None or question.status != MergeQuestion.Status.ASKED:
        return
    person = SlackPerson.objects.filter(team_id=event.team_id, user_id=question.user_id).first()
    if person is not None:
        _direct_message(question=question, team=event.team, person=person)


def merge_questions_slack_catch_up(*, now: datetime | None = None) -> int:
    """The beat task's: questions asked in the last day with no direct message
    yet, of teams with Slack, to people with a Slack user: those asked when
    their account was linked later (`merge_questions_catch_up`), and those whose
    Slack user was matched just after. Older questions stay on their page and
    in their email. How many were queued."""
    now = now or timezone.now()
    questions = (
        MergeQuestion.objects.filter(
            status=MergeQuestion.Status.ASKED,
            answer="",
            asked_at__gte=now - CATCH_UP_WINDOW,
            expires_at__gt=now,
            team__slack_connection__status=SlackConnection.Status.CONNECTED,
        )
        .exclude(Exists(SlackMessage.objects.filter(question=OuterRef("pk"))))
        .select_related("team", "pull_request__repository")
    )
    queued = 0
    for question in questions:
        person = SlackPerson.objects.filter(
            team_id=question.team_id, user_id=question.user_id
        ).first()
        if person is not None:
            _direct_message(question=question, team=question.team, person=person)
            queued += 1
    return queued


def slack_signature_verify(
    *, body: bytes, timestamp: str, signature: str, now: float | None = None
) -> None:
    """Slack's ``v0`` request signature. Raises InteractionRefused (401)."""
    secret = settings.SLACK_SIGNING_SECRET
    if not secret:
        raise InteractionRefused(401, "SLACK_SIGNING_SECRET is not set: no request is trusted.")
    if not (timestamp.isascii() and timestamp.isdigit() and 0 < len(timestamp) <= 12):
        raise InteractionRefused(401, "X-Slack-Request-Timestamp is missing or not a number.")
    now = timezone.now().timestamp() if now is None else now
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        raise InteractionRefused(401, "The request is older than 5 minutes (or from the future).")
    expected = (
        "v0="
        + hmac.new(
            secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256
        ).hexdigest()
    )
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise InteractionRefused(401, "The request's signature does not match.")


@dataclass(frozen=True)
class Press:
    slack_team_id: str
    slack_user_id: str
    question_id: int
    answer: str


def _text(value: Any, limit: int = 64) -> str:
    if not isinstance(value, str) or not value or len(value) > limit or "\x00" in value:
        raise InteractionRefused(400, "The payload is not a button press tformance sent.")
    return value


def press_read(payload: Any) -> Press:
    """The button pressed, from Slack's block_actions payload."""
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        raise InteractionRefused(400, "Only the merge question's buttons are answered here.")
    team = payload.get("team") if isinstance(payload.get("team"), dict) else {}
    user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
    actions = payload.get("actions")
    if not isinstance(actions, list) or len(actions) != 1 or not isinstance(actions[0], dict):
        raise InteractionRefused(400, "The payload holds no single button press.")
    action = actions[0]
    action_id = _text(action.get("action_id"))
    value = _text(action.get("value"))
    if not action_id.startswith(ACTION_PREFIX):
        raise InteractionRefused(400, "That button is not the merge question's.")
    question, _, answer = value.partition(":")
    if not (question.isascii() and question.isdigit() and len(question) <= 18):
        raise InteractionRefused(400, "The button names no question.")
    if answer != action_id.removeprefix(ACTION_PREFIX):
        raise InteractionRefused(400, "The button's answer and value disagree.")
    return Press(
        slack_team_id=_text(team.get("id")),
        slack_user_id=_text(user.get("id")),
        question_id=int(question),
        answer=answer,
    )


REFUSED_STATUS = {
    "unknown_answer": 400,
    "not_found": 404,
    "not_yours": 403,
    "not_asked": 409,
    "expired": 409,
}


def slack_interaction_answer(*, body: bytes, payload_text: str) -> MergeQuestion:
    """Answer the question a verified button press names, as its person. Raises
    InteractionRefused with the status to answer."""
    try:
        payload = json_read(payload_text)
    except ValueError:
        raise InteractionRefused(400, "The payload is not JSON.") from None
    press = press_read(payload)
    question = (
        MergeQuestion.objects.select_related("team__slack_connection")
        .filter(pk=press.question_id)
        .first()
    )
    connection = getattr(question.team, "slack_connection", None) if question else None
    if question is None or connection is None:
        raise InteractionRefused(404, "This question no longer exists.")
    if connection.slack_team_id != press.slack_team_id:
        raise InteractionRefused(403, "This button was pressed in another Slack workspace.")
    person = SlackPerson.objects.filter(
        team_id=question.team_id, slack_user_id=press.slack_user_id
    ).first()
    if person is None:
        raise InteractionRefused(403, "Your Slack user is not linked to an account in this team.")
    try:
        answered = merge_question_answer(
            question_id=question.pk, user_id=person.user_id, answer=press.answer, channel="slack"
        )
    except QuestionRefused as refused:
        raise InteractionRefused(REFUSED_STATUS[refused.reason], refused.message) from None
    _update_later(answered.pk)
    return answered


def _update_later(question_id: int) -> None:
    def send() -> None:
        try:
            task_send(UPDATE_TASK, kwargs={"question_id": question_id})
        except Exception:  # the broker's errors vary by transport: the answer stands
            logger.exception("could not queue the update of question %s's message", question_id)

    transaction.on_commit(send)


def merge_question_message_update(*, question_id: int) -> bool:
    """Show the answer in the direct message (chat.update); False when there is
    no message to update or no working connection."""
    message = (
        SlackMessage.objects.filter(question_id=question_id, status=SlackMessage.Status.SENT)
        .exclude(slack_ts="")
        .first()
    )
    if message is None:
        return False
    connection = slack_connection_for(team_id=message.team_id)
    question = (
        MergeQuestion.objects.select_related("pull_request__repository")
        .filter(pk=question_id)
        .first()
    )
    if connection is None or question is None:
        return False
    try:
        slack_api.update_message(
            token=slack_token(connection=connection),
            channel=message.slack_channel,
            ts=message.slack_ts,
            text=f"{MergeQuestion.TEXT} {slack_api.slack_escape(_title(question))}",
            blocks=merge_question_blocks(question),
        )
    except slack_api.SlackFailure as failure:
        if failure.missing_scope:  # shown on the Slack page; the task gives up (permanent)
            slack_scope_missing(
                team_id=message.team_id, needed=failure.needed, provided=failure.provided
            )
        raise
    return True
