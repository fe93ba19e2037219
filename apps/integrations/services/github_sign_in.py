"""Sign in with GitHub: a team member links their account to their GitHub
identity through the GitHub App's user authorization (the OAuth web flow).

The person is sent to ``GITHUB_WEB_URL/login/oauth/authorize`` with the app's
client id, the callback URL (one of the manifest's ``callback_urls``) and a
state bound to their session and team; GitHub sends them back with a code,
exchanged at ``POST GITHUB_WEB_URL/login/oauth/access_token`` for a user
token, and ``GET {GITHUB_API_URL}/user`` says who they are: GitHub's word, not
something typed in. The link is made by the one linking service
(`team_member_link`), which also asks the merge question about the person's
merges of the last 14 days. The code and the token are never logged, stored or
shown (the callback's query is redacted from logs, apps/common/redact.py)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone

from apps.integrations.services.flow_state import (
    FlowRefused,
    consume_team_state,
    issue_team_state,
)
from apps.integrations.services.github_api import (
    exchange_user_code,
    user_authorize_url,
    user_github,
)
from apps.metrics.models import MergeQuestion, TeamMember
from apps.metrics.services.members_link import MemberLinkRefused, team_member_link
from apps.metrics.services.payloads import GitHubUser
from apps.teams.models import Membership, Team
from github_app import api
from github_app.errors import GitHubError, OAuthCodeRejected

logger = logging.getLogger(__name__)

STATE_PURPOSE = "sign-in"
# What GitHub's documented ``error`` values mean, in the page's words; any other
# value is shown as its code (GitHub's error_description is not shown: anyone
# can write one into the callback's URL).
_ERRORS = {
    "access_denied": "You declined on GitHub, so nothing was linked.",
    "redirect_uri_mismatch": (
        "GitHub does not know this site's sign-in callback URL: the GitHub App's settings "
        "must list it among its callback URLs (docs/github-app.md)."
    ),
    "application_suspended": "The site's GitHub App is suspended on GitHub.",
}
_ERROR_CODE = re.compile(r"[a-z_]{1,60}")


class SignInRefused(FlowRefused):
    """The sign-in cannot link the account."""


@dataclass(frozen=True)
class SignInResult:
    team: Team
    member: TeamMember
    # The person's open merge questions in the team after the link.
    open_questions: int


def github_sign_in_start(*, session: SessionBase, team: Team, redirect_uri: str) -> str:
    """The GitHub URL where the person authorizes the app, with a state bound
    to this session and team. NotConfigured without the app's client id."""
    state = issue_team_state(session=session, purpose=STATE_PURPOSE, team_id=team.pk)
    return user_authorize_url(redirect_uri=redirect_uri, state=state)


def _team(*, session: SessionBase, state: str, user: AbstractBaseUser) -> Team:
    team_id = consume_team_state(session=session, purpose=STATE_PURPOSE, state=state)
    if team_id is None:
        raise SignInRefused(
            "This sign-in has expired",
            "This return from GitHub does not match a sign-in started in this browser, or it "
            "was already used. Start again from \u201cYour pull requests\u201d.",
        )
    membership = (
        Membership.objects.select_related("team").filter(user=user, team_id=team_id).first()
    )
    if membership is None:
        raise SignInRefused(
            "Not a member of the team", "You are no longer a member of that team.", status=403
        )
    return membership.team


def _github_user(*, code: str, redirect_uri: str) -> GitHubUser:
    try:
        token = exchange_user_code(code=code, redirect_uri=redirect_uri)
        me = api.authenticated_user(user_github(token=token))
    except OAuthCodeRejected as refused:
        raise SignInRefused(
            "GitHub did not confirm who you are",
            f"{refused}. Start again from \u201cYour pull requests\u201d.",
        ) from None
    except GitHubError as failed:
        raise SignInRefused(
            "GitHub did not say who you are", f"{failed}. Try again in a moment.", status=502
        ) from None
    return GitHubUser(github_id=me.github_id, login=me.login, is_bot=False)


def github_sign_in_complete(
    *,
    session: SessionBase,
    user: AbstractBaseUser,
    state: str,
    code: str,
    error: str,
    redirect_uri: str,
) -> SignInResult:
    """Check the return from GitHub, learn the person's GitHub account and link
    it to ``user`` in the team the sign-in started from."""
    # The state is used up first, whatever else came back.
    team = _team(session=session, state=state, user=user)
    if error:
        code_name = error if _ERROR_CODE.fullmatch(error) else "unknown"
        raise SignInRefused(
            "GitHub did not sign you in",
            _ERRORS.get(code_name, f"GitHub answered \u201c{code_name}\u201d; nothing was linked."),
            status=403 if code_name == "access_denied" else 400,
        )
    if not code:
        raise SignInRefused(
            "GitHub did not confirm who you are",
            "GitHub sent no authorization code back. Start again from "
            "\u201cYour pull requests\u201d.",
        )
    github_user = _github_user(code=code, redirect_uri=redirect_uri)
    try:
        member = team_member_link(team=team, user=user, github_user=github_user)
    except MemberLinkRefused as refused:
        raise SignInRefused("Your account was not linked", str(refused), status=409) from None
    logger.info(
        "account %s linked to GitHub user %s in team %s", user.pk, member.github_id, team.pk
    )
    open_questions = MergeQuestion.objects.filter(
        team=team,
        user_id=user.pk,
        status=MergeQuestion.Status.ASKED,
        answer="",
        expires_at__gt=timezone.now(),
    ).count()
    return SignInResult(team=team, member=member, open_questions=open_questions)
