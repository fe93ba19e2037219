"""Installing the app and claiming the installation for a team.

GitHub sends the admin back to the setup URL with ``installation_id``,
``setup_action``, our ``state`` and (the manifest asks for user authorization on
install) an OAuth ``code``. Anyone can type an ``installation_id`` into that
URL, so it is never trusted alone: the code is exchanged for a user token, and
``GET /user/installations`` must list that installation before it is linked to
the team."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase

from apps.integrations.models import Installation
from apps.integrations.services.flow_state import (
    FlowRefused,
    consume_team_state,
    issue_team_state,
)
from apps.integrations.services.github_api import (
    app_install_url,
    exchange_user_code,
    user_github,
)
from apps.integrations.services.history import history_backfill_installation
from apps.integrations.services.installations import (
    InstallationClaimError,
    installation_claim,
    installation_upsert,
)
from apps.integrations.services.repository_access import repositories_resync
from apps.metrics.services.members_link import MemberLinkRefused, team_member_link
from apps.metrics.services.payloads import GitHubUser
from apps.teams.models import Membership, Team
from github_app import api
from github_app.errors import GitHubError, OAuthCodeRejected
from github_app.values import id_from_text

logger = logging.getLogger(__name__)

STATE_PURPOSE = "install"


class InstallRefused(FlowRefused):
    """The install callback cannot link the installation."""


@dataclass(frozen=True)
class InstallResult:
    installation: Installation
    team: Team
    repositories_synced: bool


def install_start(*, session: SessionBase, team: Team) -> str:
    """The GitHub URL that installs the app, carrying a state bound to this
    session and team."""
    state = issue_team_state(session=session, purpose=STATE_PURPOSE, team_id=team.pk)
    return f"{app_install_url()}?state={state}"


def _admin_team(*, user: AbstractBaseUser, team_id: int) -> Team:
    membership = (
        Membership.objects.select_related("team")
        .filter(user=user, team_id=team_id, role=Membership.Role.ADMIN)
        .first()
    )
    if membership is None:
        raise InstallRefused(
            "Not a team admin",
            "Only an admin of the team can connect a GitHub installation to it.",
            status=403,
        )
    return membership.team


def _team_from_state(*, session: SessionBase, state: str, user: AbstractBaseUser) -> Team:
    team_id = consume_team_state(session=session, purpose=STATE_PURPOSE, state=state)
    if team_id is None:
        raise InstallRefused(
            "This link has expired",
            "This return from GitHub does not match an install started in this browser, "
            "or it was already used. Start again from your team's GitHub settings page.",
        )
    return _admin_team(user=user, team_id=team_id)


@dataclass(frozen=True)
class _Installer:
    """The GitHub user who came back from the install, and the installation they
    have authority over."""

    github_id: int
    login: str
    installation: dict[str, Any]


def _refuse_unreachable(exc: GitHubError) -> InstallRefused:
    return InstallRefused(
        "GitHub could not be reached", f"{exc}. Try again in a moment.", status=502
    )


def _verified_installer(*, code: str, installation_id: int) -> _Installer:
    """The code's user, if they can access the installation and have authority
    over its account.

    Seeing an installation is not enough: ``GET /user/installations`` also lists
    an organisation's installation to any collaborator on one of its
    repositories. So a personal account's installation must be the user's own,
    and an organisation's needs the user to be one of its owners."""
    try:
        token = exchange_user_code(code=code)
    except OAuthCodeRejected as exc:
        raise InstallRefused(
            "GitHub did not confirm who you are",
            f"{exc}. Start the install again from your team's GitHub settings page.",
        ) from None
    except GitHubError as exc:
        raise _refuse_unreachable(exc) from None
    github = user_github(token=token)
    try:
        installation = next(
            (item for item in api.user_installations(github) if item.get("id") == installation_id),
            None,
        )
        if installation is None:
            raise InstallRefused(
                "You cannot access this installation",
                "Your GitHub account does not have access to that installation of the app, so "
                "it cannot be connected to this team.",
                status=403,
            )
        me = api.authenticated_user(github)
        account = installation.get("account") or {}
        if account.get("type") == "Organization":
            authority = api.is_organisation_owner(
                github, organisation=str(account.get("login", ""))
            )
        else:
            authority = account.get("id") == me.github_id
    except GitHubError as exc:
        raise _refuse_unreachable(exc) from None
    if not authority:
        raise InstallRefused(
            "Only an owner can connect this installation",
            f"Connecting {account.get('login', 'this account')}'s installation takes an owner "
            "of that account on GitHub. Ask an owner to press \u201cInstall on GitHub\u201d "
            "from this team's page.",
            status=403,
        )
    return _Installer(github_id=me.github_id, login=me.login, installation=installation)


def install_complete(
    *,
    session: SessionBase,
    user: AbstractBaseUser,
    state: str,
    code: str,
    installation_id: str,
) -> InstallResult:
    """Verify the return from GitHub and link the installation to the team."""
    team = _team_from_state(session=session, state=state, user=user)
    number = id_from_text(installation_id)
    if number is None:
        raise InstallRefused("No installation", "GitHub did not say which installation was made.")
    if not code:
        raise InstallRefused(
            "GitHub did not confirm who you are",
            "GitHub sent no authorization code with this install, so we cannot check that "
            "you can access the installation. Start again from your team's GitHub settings "
            "page.",
        )
    installer = _verified_installer(code=code, installation_id=number)
    # The installation webhook may not have arrived yet: the user's view of the
    # installation has the same shape, so record it from that.
    installation = installation_upsert(data=installer.installation)
    try:
        installation = installation_claim(installation=installation, team=team, user=user)
    except InstallationClaimError as exc:
        raise InstallRefused("Installation not available", str(exc), status=409) from None
    # Now we know this account's GitHub identity: its pull requests and reviews
    # (placeholder member until now) belong to it.
    try:
        team_member_link(
            team=team,
            user=user,
            github_user=GitHubUser(
                github_id=installer.github_id, login=installer.login, is_bot=False
            ),
        )
    except MemberLinkRefused as refused:
        # The claim stands; an admin can link the account on the GitHub accounts page.
        logger.warning("installer's account not linked: %s", refused)
    logger.info("installation %s claimed by team %s", installation.installation_id, team.pk)
    synced = _resync_quietly(installation)
    # Repositories the team already tracks bring their history (a claim after a
    # disconnect starts with none tracked; tracking one later queues its own).
    history_backfill_installation(installation=installation)
    return InstallResult(installation=installation, team=team, repositories_synced=synced)


def install_updated(*, user: AbstractBaseUser, installation_id: str) -> InstallResult:
    """GitHub's redirect after the repositories were changed on GitHub.

    It carries no state of ours, so it only re-syncs an installation that a team
    this user administers has already claimed; the list comes from the API."""
    installation = (
        Installation.objects.select_related("team")
        .filter(
            installation_id=id_from_text(installation_id) or -1,
            team__memberships__user=user,
            team__memberships__role=Membership.Role.ADMIN,
        )
        .first()
    )
    if installation is None or installation.team is None:
        raise InstallRefused(
            "Installation not found",
            "None of the teams you administer has connected this installation.",
            status=404,
        )
    return InstallResult(
        installation=installation,
        team=installation.team,
        repositories_synced=_resync_quietly(installation),
    )


def _resync_quietly(installation: Installation) -> bool:
    # The claim stands even when the repository list cannot be read right now:
    # the page offers "Re-sync from GitHub", and webhooks keep it in step.
    try:
        repositories_resync(installation=installation)
    except GitHubError as exc:
        logger.warning("re-sync of installation %s failed: %s", installation.installation_id, exc)
        return False
    return True
