"""The merge question by email, with signed one-click links (docs/merge-question.md).

Each link carries a token signed with Django's signing (the site's secret key,
a salt of its own, a timestamp): the question's id and its person's account id.
It is refused when forged, older than 14 days, for a question that is someone
else's, or opened by someone signed in as another person. The answer is in the
link's query (one link per answer); the token is the same for all five.

A link only shows a confirmation page (GET changes nothing); the answer is
recorded by the page's one button, a POST. Mail scanners (Microsoft's Safe
Links, Proofpoint, Mimecast…) open every link of a message, and some run the
page's scripts too, so a page that answered on GET, or submitted itself by
script, would answer for the person."""

from __future__ import annotations

import logging
import smtplib
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from apps.metrics.models import MergeQuestion

logger = logging.getLogger(__name__)

SALT = "tformance.merge-question.link"
# Where a local trial (DJANGO_DEBUG, no PUBLIC_BASE_URL) is served: make run's address.
LOCAL_TRIAL_URL = "http://127.0.0.1:8000"
# A token is about 80 characters; anything much longer is not one of ours.
TOKEN_MAX_LENGTH = 300


class LinkRefused(Exception):
    """A link that does not answer a question. ``reason`` is ``forged`` or
    ``expired``; the message is for the page."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def merge_question_token(*, question: MergeQuestion) -> str:
    """The signed token of the question's links (for its own person)."""
    return signing.dumps({"q": question.pk, "u": question.user_id}, salt=SALT, compress=False)


def merge_question_token_read(*, token: str) -> tuple[int, int]:
    """The question id and the account id a link's token was signed for.
    Raises LinkRefused for a forged, mangled or expired token."""
    if not token or len(token) > TOKEN_MAX_LENGTH or not token.isascii():
        raise LinkRefused("forged", "This link is not one of ours: it may have been cut short.")
    try:
        signed = signing.loads(token, salt=SALT, max_age=MergeQuestion.LIFETIME)
    except signing.SignatureExpired:
        raise LinkRefused(
            "expired",
            "This link has expired: answers can be given or changed for 14 days after a "
            "question is asked.",
        ) from None
    except (signing.BadSignature, ValueError, UnicodeDecodeError):
        raise LinkRefused(
            "forged", "This link is not one of ours: it may have been cut short."
        ) from None
    question_id = signed.get("q") if isinstance(signed, dict) else None
    user_id = signed.get("u") if isinstance(signed, dict) else None
    if not all(type(value) is int for value in (question_id, user_id)):
        raise LinkRefused("forged", "This link is not one of ours.")
    return int(question_id), int(user_id)  # type: ignore[arg-type]


def base_url() -> str:
    """Where the links in emails point: PUBLIC_BASE_URL, or a local trial's address."""
    if settings.PUBLIC_BASE_URL:
        return str(settings.PUBLIC_BASE_URL)
    return LOCAL_TRIAL_URL if settings.DEBUG else ""


def _links(question: MergeQuestion, base: str) -> list[dict[str, str]]:
    token = merge_question_token(question=question)
    page = base + reverse("merge_question_link")
    return [
        {"key": key, "label": label, "url": f"{page}?{urlencode({'token': token, 'answer': key})}"}
        for key, label in MergeQuestion.Answer.choices
    ]


def _claim(question_ids: Sequence[int], now: datetime) -> list[MergeQuestion]:
    """The questions this call may email: asked, open, unanswered, to a person
    with an address, not emailed yet; each claimed by one conditional update, so
    retries and workers never send one twice."""
    claimable = MergeQuestion.objects.filter(
        status=MergeQuestion.Status.ASKED,
        emailed_at__isnull=True,
        answer="",
        expires_at__gt=now,
        user__is_active=True,
    ).exclude(user__email="")
    claimed = [pk for pk in question_ids if claimable.filter(pk=pk).update(emailed_at=now)]
    return list(
        MergeQuestion.objects.filter(pk__in=claimed)
        .select_related("user", "team", "pull_request__repository")
        .order_by("user_id", "pull_request__merged_at", "pk")
    )


def _message(questions: list[MergeQuestion], base: str) -> EmailMultiAlternatives:
    person = questions[0].user
    team = questions[0].team
    context: dict[str, Any] = {
        "person": person,
        "team": team,
        "question_text": MergeQuestion.TEXT,
        "questions": [{"question": q, "links": _links(q, base)} for q in questions],
        "page_url": base + reverse("your_pull_requests", args=[team.slug]),
        "expires_at": min(q.expires_at for q in questions),
    }
    if len(questions) == 1:
        pr = questions[0].pull_request
        where = pr.repository.full_name if pr.repository else team.name
        subject = f"{where}#{pr.number}: how much was written with AI?"
    else:
        subject = f"{len(questions)} of your merged pull requests: how much was written with AI?"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("metrics/email/merge_questions.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[person.email],
    )
    message.attach_alternative(
        render_to_string("metrics/email/merge_questions.html", context), "text/html"
    )
    return message


def merge_questions_email(*, question_ids: Sequence[int], now: datetime | None = None) -> int:
    """Email each person their questions among ``question_ids`` (one message a
    person, each question at most once). How many questions were sent.

    A failure to send gives the questions back (sent again by the caller's
    retry) and raises; an address the server refuses will never work, so those
    are logged and not retried. Without a base URL for the links nothing is
    sent (the questions are on the person's page)."""
    base = base_url()
    if not base:
        logger.warning("merge questions not emailed: set PUBLIC_BASE_URL for the links")
        return 0
    now = now or timezone.now()
    by_person: dict[int, list[MergeQuestion]] = defaultdict(list)
    for question in _claim(question_ids, now):
        by_person[question.user_id].append(question)
    sent = 0
    people = list(by_person.values())
    for done, questions in enumerate(people):
        try:
            _message(questions, base).send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused:
            logger.warning(
                "merge questions %s not emailed: the mail server refused the address",
                [q.pk for q in questions],
            )
            continue
        except Exception:
            unsent = [q.pk for rest in people[done:] for q in rest]
            MergeQuestion.objects.filter(pk__in=unsent).update(emailed_at=None)
            raise
        sent += len(questions)
    return sent
