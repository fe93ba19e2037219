"""The merge question's pages: "Your pull requests" (a person's own questions,
answered with one click), the page an email's link opens, and the team's weekly
cap. The answer goes through the one service every channel uses
(`merge_question_answer`); docs/merge-question.md."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apps.metrics.models import MergeQuestion
from apps.metrics.selectors import members_for_team, merge_questions_for_person
from apps.metrics.services.merge_question_mail import LinkRefused, merge_question_token_read
from apps.metrics.services.merge_questions import QuestionRefused, merge_question_answer
from apps.teams.access import team_admin, team_member
from apps.teams.models import MERGE_QUESTIONS_PER_WEEK_MAX
from apps.teams.services.teams import team_merge_questions_cap_set

CAP_ADMINS_ONLY = "Only team admins can change how many questions people are asked."
# The page a refusal shows, by reason: its status and title.
REFUSALS = {
    "forged": (400, "This link does not work"),
    "unknown_answer": (400, "That is not one of the answers"),
    "not_found": (404, "This question no longer exists"),
    "not_asked": (404, "This question was not asked"),
    "not_yours": (403, "This question is someone else's"),
    "expired": (410, "This question has closed"),
}


def _answers(question: MergeQuestion | None = None) -> list[dict[str, Any]]:
    chosen = question.answer if question is not None else ""
    return [
        {"key": key, "label": label, "chosen": key == chosen}
        for key, label in MergeQuestion.Answer.choices
    ]


@login_required
@require_safe
@never_cache
def your_pull_requests(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_member(user=request.user, team_slug=team_slug)
    team = membership.team
    now = timezone.now()
    questions = merge_questions_for_person(team=team, user_id=request.user.pk, now=now)
    return render(
        request,
        "metrics/your_pull_requests.html",
        {
            "team": team,
            "membership": membership,
            "questions": questions,
            "question_text": MergeQuestion.TEXT,
            "answers": _answers(),
            "answered": [
                {"question": q, "answers": _answers(q), "open": q.expires_at > now}
                for q in questions.answered
            ],
            "github_people": list(members_for_team(team=team).filter(user=request.user)),
            "cap_max": MERGE_QUESTIONS_PER_WEEK_MAX,
        },
    )


def _whole_number(value: str, *, maximum: int) -> int | None:
    # ASCII digits only (int() takes "٣" and " 3 "), within the range.
    if not value.isascii() or not value.isdigit() or len(value) > 4 or int(value) > maximum:
        return None
    return int(value)


@login_required
@require_POST
def your_pull_request_answer(request: HttpRequest, team_slug: str, pk: int) -> HttpResponse:
    membership = team_member(user=request.user, team_slug=team_slug)
    back = redirect("your_pull_requests", team_slug=team_slug)
    if not MergeQuestion.objects.filter(pk=pk, team=membership.team).exists():
        messages.error(request, "That question is not one of this team's.")
        return back
    try:
        question = merge_question_answer(
            question_id=pk,
            user_id=request.user.pk,
            answer=request.POST.get("answer", ""),
            channel=MergeQuestion.Channel.APP,
        )
    except QuestionRefused as refusal:
        messages.error(request, refusal.message)
        return back
    pr = question.pull_request
    where = pr.repository.full_name if pr.repository else membership.team.name
    messages.success(
        request, f"Recorded \u201c{question.get_answer_display()}\u201d for {where}#{pr.number}."
    )
    return back


@login_required
@require_POST
def merge_questions_cap(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_admin(user=request.user, team_slug=team_slug, reason=CAP_ADMINS_ONLY)
    cap = _whole_number(
        request.POST.get("per_week", "").strip(), maximum=MERGE_QUESTIONS_PER_WEEK_MAX
    )
    if cap is None:
        messages.error(
            request, f"Give a whole number of questions from 0 to {MERGE_QUESTIONS_PER_WEEK_MAX}."
        )
    else:
        team_merge_questions_cap_set(team=membership.team, per_week=cap)
        messages.success(request, f"People are now asked at most {cap} questions a week.")
    return redirect(reverse("your_pull_requests", args=[team_slug]) + "#how-it-works")


def _refused(request: HttpRequest, reason: str, message: str) -> HttpResponse:
    status, title = REFUSALS[reason]
    return render(
        request,
        "metrics/merge_question_refused.html",
        {"title": title, "message": message},
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
def merge_question_link(request: HttpRequest) -> HttpResponse:
    """An email's link: GET shows the question with the chosen answer and one
    button; the button POSTs it. Signing in is not needed (the signed link is
    the person's), but someone signed in as another person is refused."""
    params = request.POST if request.method == "POST" else request.GET
    token = params.get("token", "")
    try:
        question_id, user_id = merge_question_token_read(token=token)
    except LinkRefused as refusal:
        return _refused(request, refusal.reason, refusal.message)
    if request.user.is_authenticated and request.user.pk != user_id:
        return _refused(
            request,
            "not_yours",
            f"This link was sent to someone else, and you are signed in as "
            f"{request.user.get_username()}. Only the person it was sent to can answer it.",
        )
    question = (
        MergeQuestion.objects.select_related("pull_request__repository", "team", "user")
        .filter(pk=question_id)
        .first()
    )
    if question is None:
        return _refused(request, "not_found", "This question no longer exists.")
    answer = params.get("answer", "")
    if request.method == "POST":
        try:
            question = merge_question_answer(
                question_id=question_id,
                user_id=user_id,
                answer=answer,
                channel=MergeQuestion.Channel.EMAIL,
            )
        except QuestionRefused as refusal:
            return _refused(request, refusal.reason, refusal.message)
        return render(
            request,
            "metrics/merge_question_link.html",
            _link_context(question, token=token, chosen=question.answer, recorded=True),
        )
    # GET records nothing, so a mail scanner opening the link answers nothing.
    if question.user_id != user_id:
        return _refused(request, "not_yours", "This link was sent to someone else.")
    if question.expires_at <= timezone.now():
        return _refused(
            request,
            "expired",
            f"This question closed on {question.expires_at:%d %b %Y}: answers can be given or "
            "changed for 14 days after it is asked.",
        )
    if answer and answer not in MergeQuestion.Answer.values:
        return _refused(request, "unknown_answer", "That is not one of the answers.")
    return render(
        request,
        "metrics/merge_question_link.html",
        _link_context(question, token=token, chosen=answer, recorded=False),
    )


def _link_context(
    question: MergeQuestion, *, token: str, chosen: str, recorded: bool
) -> dict[str, Any]:
    labels = dict(MergeQuestion.Answer.choices)
    return {
        "question": question,
        "question_text": MergeQuestion.TEXT,
        "token": token,
        "chosen": chosen,
        "chosen_label": labels.get(chosen, ""),
        "recorded": recorded,
        "answers": [
            {"key": key, "label": label, "chosen": key == chosen}
            for key, label in MergeQuestion.Answer.choices
        ],
    }
