"""The demo's merge questions and their answers (docs/merge-question.md).

The story is history (dated before its repositories are tracked), and history
is never asked. So the demo gives its six people accounts in the team (the
admin is `amara-okafor` on GitHub; the others cannot log in), links them with
the one linking service, and asks them with the service the live consumer uses,
`merge_question_ask`, as if each merge of the story had been asked when it
happened (the weekly cap and its draw included): those older than 14 days are
closed now. Most are answered, each person with their own habits, through
`merge_question_answer`; the admin's two latest stay open for *Your pull
requests*. Deterministic (a
seed per pull request), and safe to run again: a decision made stays, and an
answer given (by the demo or by hand) is never changed."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from apps.demo import story
from apps.metrics.models import MergeQuestion, PullRequest
from apps.metrics.services.members_link import team_member_link
from apps.metrics.services.merge_questions import merge_question_answer, merge_question_ask
from apps.metrics.services.payloads import GitHubUser
from apps.teams.models import Membership, Team
from apps.teams.services.memberships import membership_add

# Each person's habits: how likely they answer, and their answers' weights
# (none, little, half, most, all).
HABITS = {
    "amara-okafor": (1.0, (3, 4, 2, 1, 0)),
    "bruno-lima": (0.9, (6, 3, 1, 0, 0)),
    "chen-wei": (0.85, (0, 1, 3, 4, 2)),
    "dana-kovacs": (0.8, (1, 4, 3, 2, 0)),
    "eli-brennan": (0.6, (2, 2, 2, 2, 1)),
    "farah-haddad": (0.9, (0, 2, 2, 3, 3)),
}
# The admin's latest questions left open, for "Your pull requests".
ADMIN_OPEN = 2
SEED = 26


@dataclass
class DemoAnswers:
    asked: int = 0
    answered: int = 0


def _account(*, team: Team, admin: AbstractBaseUser, login: str) -> AbstractBaseUser:
    if login == story.ADMIN_ON_GITHUB["login"]:
        return admin
    users = get_user_model()
    user = users.objects.filter(username=login).first()
    if user is None:
        # No password: the demo's other people are names on a page, not logins.
        user = users.objects.create_user(login, password=None)
    membership_add(team=team, user=user, role=Membership.Role.MEMBER)
    return user


def demo_answers(*, team: Team, admin: AbstractBaseUser) -> DemoAnswers:
    """Link the story's people, and ask and answer their merges."""
    result = DemoAnswers()
    for person in story.PEOPLE:
        login = str(person["login"])
        with transaction.atomic():
            account = _account(team=team, admin=admin, login=login)
            member = team_member_link(
                team=team,
                user=account,
                github_user=GitHubUser(github_id=int(person["id"]), login=login, is_bot=False),
            )
        merges = list(
            PullRequest.objects.filter(team=team, author=member, merged_at__isnull=False)
            .select_related("team")
            .order_by("merged_at", "pk")
        )
        chance, weights = HABITS[login]
        for place, pull_request in enumerate(merges):
            if pull_request.merged_at is None:  # never: the filter says so (for mypy)
                continue
            # The story's own seed per pull request, not a secret.
            draws = random.Random(f"{SEED}-{pull_request.github_id}")  # noqa: S311
            question = merge_question_ask(
                pull_request=pull_request, now=pull_request.merged_at, draws=draws
            )
            if question is None or question.status != MergeQuestion.Status.ASKED:
                continue
            result.asked += 1
            left_open = account is admin and place >= len(merges) - ADMIN_OPEN
            if question.answer or left_open or draws.random() >= chance:
                result.answered += bool(question.answer)
                continue
            merge_question_answer(
                question_id=question.pk,
                user_id=account.pk,
                answer=draws.choices(MergeQuestion.Answer.values, weights=weights)[0],
                channel=draws.choice([MergeQuestion.Channel.APP, MergeQuestion.Channel.EMAIL]),
                now=question.asked_at + timedelta(hours=draws.uniform(0.2, 30)),
            )
            result.answered += 1
    return result
