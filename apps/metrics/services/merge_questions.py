"""The merge question: each live merge's author, when linked to an account, is
asked once "How much of this pull request was written with AI?"
(docs/merge-question.md).

- **Once per merge.** The row (`MergeQuestion`) is unique per pull request: it
  is inserted or left as it is (``INSERT … ON CONFLICT DO NOTHING``), so a
  redelivered or recovered merge, two workers, and a person linked while their
  merge is being processed all find the one decision there.
- **Live merges only.** The consumer (`merge_question_on_merge`, in
  `lifecycle.CONSUMERS`) takes announced `merged` events, which are live by
  construction; a person linked later is asked about merges of the last 14 days
  whose `merged` event was live (`merge_questions_catch_up`). History, replay,
  bots, GitHub's deleted account and people without an account (or no longer
  in the team) are never asked.
- **The weekly cap, sampled.** A team asks a person at most
  `Team.merge_questions_per_week` questions per week (Monday to Sunday in the
  team's time zone). So that the answers are not biased towards the start of a
  week (first come, first asked), each merge is asked by a random draw, with a
  chance of the places left in the week over the merges the rest of the week
  is expected to bring (the person's pace over the last four weeks); a person
  who merges no more than the cap is always asked, and the cap stays a hard
  limit. A person linked later has their eligible merges sampled uniformly
  (``random.sample``) down to what the week has room for. Merges not asked are
  stored as not asked, with the reason and the chance they had.
- **One answer path.** Every channel (the app, the email's links, Slack's
  buttons) answers through `merge_question_answer`: the question's own person,
  before it expires, one of the five answers; answering again changes it."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from apps.common.scheduling import task_send
from apps.metrics.models import MergeQuestion, PullRequest, PullRequestEvent, TeamMember
from apps.metrics.services.merge_question_mail import merge_questions_email
from apps.teams.models import Membership, Team

logger = logging.getLogger(__name__)

Answer = MergeQuestion.Answer
Status = MergeQuestion.Status
# The answers' stable keys, in the order they are offered.
ANSWERS: tuple[str, ...] = tuple(Answer.values)
# A person linked later is asked about the merges of this many days.
CATCH_UP = timedelta(days=14)
# The person's recent pace of merges, which sets the chance a merge is asked.
PACE_WINDOW = timedelta(weeks=4)
WEEK = timedelta(weeks=1)
EMAIL_TASK = "apps.metrics.tasks.send_merge_question_emails"

_draws = random.SystemRandom()


class QuestionRefused(Exception):
    """An answer that cannot be recorded. ``reason`` is one of ``unknown_answer``,
    ``not_found``, ``not_yours``, ``not_asked``, ``expired``; the message is for
    the person."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def week_start(*, team: Team, at: datetime) -> datetime:
    """Monday 00:00 of ``at``'s week in the team's time zone."""
    local = at.astimezone(team.tzinfo)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=team.tzinfo)


def _person(*, team: Team, member: TeamMember | None) -> int | None:
    """The account to ask about ``member``'s pull requests, if any: a linked,
    active account still in the team; never a bot or GitHub's deleted account."""
    if member is None or member.is_bot or member.is_deleted_account or member.user_id is None:
        return None
    if not Membership.objects.filter(
        team=team, user_id=member.user_id, user__is_active=True
    ).exists():
        return None
    return member.user_id


def _asked_this_week(*, team: Team, user_id: int, now: datetime) -> int:
    return MergeQuestion.objects.filter(
        team=team,
        user_id=user_id,
        status=Status.ASKED,
        asked_at__gte=week_start(team=team, at=now),
        asked_at__lte=now,
    ).count()


def _chance(*, team: Team, member: TeamMember, room: int, now: datetime) -> float:
    """The chance a merge of ``member`` now is asked: the places left in the
    week over the merges the rest of the week is expected to bring (this one
    included), from their pace over the last four weeks; at most 1.

    Spreading the places over what is left of the week, rather than over a
    whole week, keeps a lucky start from leaving no place for Friday's merges
    (and a slow start from leaving places unused)."""
    merges = PullRequest.objects.filter(
        team=team, author=member, merged_at__gt=now - PACE_WINDOW, merged_at__lte=now
    ).count()
    per_week = merges / (PACE_WINDOW / WEEK)
    week_left = (week_start(team=team, at=now) + WEEK - now) / WEEK
    expected = max(per_week * week_left, 1.0)
    return 1.0 if expected <= room else room / expected


@dataclass(frozen=True)
class _Decision:
    status: str
    reason: str
    chance: float


def _decide(
    *, team: Team, member: TeamMember, user_id: int, now: datetime, draws: random.Random
) -> _Decision:
    room = team.merge_questions_per_week - _asked_this_week(team=team, user_id=user_id, now=now)
    if room <= 0:
        return _Decision(Status.NOT_ASKED, MergeQuestion.NotAskedReason.WEEKLY_CAP, 0.0)
    chance = _chance(team=team, member=member, room=room, now=now)
    if chance >= 1.0 or draws.random() < chance:
        return _Decision(Status.ASKED, "", chance)
    return _Decision(Status.NOT_ASKED, MergeQuestion.NotAskedReason.SAMPLED_OUT, chance)


def _row(
    *,
    pull_request: PullRequest,
    member: TeamMember,
    user_id: int,
    decision: _Decision,
    now: datetime,
) -> MergeQuestion:
    return MergeQuestion(
        team_id=pull_request.team_id,
        pull_request=pull_request,
        member=member,
        user_id=user_id,
        status=decision.status,
        not_asked_reason=decision.reason,
        sample_probability=round(decision.chance, 6),
        asked_at=now,
        expires_at=now + MergeQuestion.LIFETIME,
    )


def merge_question_ask(
    *,
    pull_request: PullRequest,
    now: datetime | None = None,
    draws: random.Random | None = None,
) -> MergeQuestion | None:
    """Decide, once, whether the author of this merged pull request is asked.
    The decision already made (by a redelivery, another worker, a catch-up)
    stands and is returned; None when there is no one to ask.

    The author's row is locked while the week's count is read, so two merges of
    one person decided at once never both take the last place under the cap."""
    if pull_request.merged_at is None or pull_request.author_id is None:
        return None
    now = now or timezone.now()
    team = pull_request.team
    with transaction.atomic():
        member = TeamMember.objects.select_for_update().filter(pk=pull_request.author_id).first()
        user_id = _person(team=team, member=member)
        if member is None or user_id is None:
            return None
        decision = _decide(
            team=team, member=member, user_id=user_id, now=now, draws=draws or _draws
        )
        row = _row(
            pull_request=pull_request, member=member, user_id=user_id, decision=decision, now=now
        )
        # The unique constraint decides: what is there already stays.
        MergeQuestion.objects.bulk_create([row], ignore_conflicts=True)
        return MergeQuestion.objects.get(pull_request=pull_request)


def _live_merge() -> Exists:
    return Exists(
        PullRequestEvent.objects.filter(
            pull_request=OuterRef("pk"), kind=PullRequestEvent.Kind.MERGED, live=True
        )
    )


def merge_questions_catch_up(
    *, member: TeamMember, now: datetime | None = None, draws: random.Random | None = None
) -> list[int]:
    """Ask a person just linked to an account about their merges of the last 14
    days that were live (never history or replay) and not decided yet, within
    the week's cap: a uniform sample when there are more than it has room for.
    Call it in the linking transaction, with the member's row locked. The ids of
    the questions asked."""
    now = now or timezone.now()
    team = member.team
    user_id = _person(team=team, member=member)
    if user_id is None:
        return []
    merges = list(
        PullRequest.objects.filter(
            team=team, author=member, merged_at__gte=now - CATCH_UP, merged_at__lte=now
        )
        .filter(_live_merge())
        .exclude(Exists(MergeQuestion.objects.filter(pull_request=OuterRef("pk"))))
        .order_by("merged_at", "pk")
    )
    if not merges:
        return []
    room = max(
        team.merge_questions_per_week - _asked_this_week(team=team, user_id=user_id, now=now), 0
    )
    if len(merges) <= room:
        chosen = {pr.pk for pr in merges}
        left_out = _Decision(Status.NOT_ASKED, "", 1.0)
    else:
        chosen = {pr.pk for pr in (draws or _draws).sample(merges, room)}
        reason = (
            MergeQuestion.NotAskedReason.SAMPLED_OUT
            if room
            else MergeQuestion.NotAskedReason.WEEKLY_CAP
        )
        left_out = _Decision(Status.NOT_ASKED, reason, room / len(merges))
    asked = _Decision(Status.ASKED, "", left_out.chance)
    rows = [
        _row(
            pull_request=pr,
            member=member,
            user_id=user_id,
            decision=asked if pr.pk in chosen else left_out,
            now=now,
        )
        for pr in merges
    ]
    MergeQuestion.objects.bulk_create(rows, ignore_conflicts=True)
    return list(
        MergeQuestion.objects.filter(
            pull_request_id__in=chosen, user_id=user_id, status=Status.ASKED, asked_at=now
        ).values_list("pk", flat=True)
    )


def merge_question_answer(
    *,
    question_id: int,
    user_id: int,
    answer: str,
    channel: str,
    now: datetime | None = None,
) -> MergeQuestion:
    """Record ``user_id``'s answer to their question, from ``channel`` (the app,
    an email's link, Slack): the one path every channel takes. Answering again
    before the question expires changes the answer. Raises QuestionRefused."""
    if answer not in ANSWERS:
        raise QuestionRefused("unknown_answer", "That is not one of the answers.")
    if channel not in MergeQuestion.Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    now = now or timezone.now()
    with transaction.atomic():
        question = (
            MergeQuestion.objects.select_for_update(of=("self",))
            .select_related("pull_request__repository")
            .filter(pk=question_id)
            .first()
        )
        if question is None:
            raise QuestionRefused("not_found", "This question no longer exists.")
        if question.user_id != user_id:
            raise QuestionRefused(
                "not_yours", "This question was asked of someone else: only they can answer it."
            )
        if question.status != Status.ASKED:
            raise QuestionRefused("not_asked", "This pull request's author was not asked.")
        if now >= question.expires_at:
            raise QuestionRefused(
                "expired",
                f"This question closed on {question.expires_at:%d %b %Y}: answers can be given "
                "or changed for 14 days after it is asked.",
            )
        question.answer = answer
        question.answered_at = now
        question.answered_via = channel
        question.save(update_fields=["answer", "answered_at", "answered_via"])
    return question


def merge_question_on_merge(event: PullRequestEvent) -> None:
    """The lifecycle consumer of live `merged` events: decide the question, then
    email it. A failure to send raises, so the consumer's task retries; the
    decision is not made twice, and an email is sent at most once."""
    if not event.live:
        return
    question = merge_question_ask(pull_request=event.pull_request)
    if question is not None and question.status == Status.ASKED:
        merge_questions_email(question_ids=[question.pk])


def merge_questions_email_later(*, question_ids: Sequence[int]) -> None:
    """Queue the email of these questions once the caller's transaction commits
    (with the broker down the questions are still on the person's page)."""
    ids = list(question_ids)
    if not ids:
        return

    def send() -> None:
        try:
            task_send(EMAIL_TASK, kwargs={"question_ids": ids})
        except Exception:  # the broker's errors vary by transport
            logger.exception("could not queue the email of merge questions %s", ids)

    transaction.on_commit(send)
