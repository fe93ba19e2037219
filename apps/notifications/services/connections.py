"""A team's Slack connection: "Add to Slack" (OAuth v2), its bot token stored
encrypted, disconnecting, a connection broken when Slack revokes the token, and
a scope the token lacks kept for the Slack page (the connection goes on).

The OAuth ``state`` is signed (Django's signing, a salt of its own, 10 minutes)
and bound to the team, the admin who started it and a nonce kept in their
session: a callback for another team, another person or a replayed state is
refused."""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.common.encryption import decrypt_secret, encrypt_secret
from apps.notifications.models import (
    NotificationSettings,
    SlackConnection,
    SlackMessage,
    SquadNotificationSettings,
)
from apps.notifications.services import slack_api
from apps.teams.models import Membership, Team

logger = logging.getLogger(__name__)

STATE_SALT = "tformance.slack.oauth-state"
STATE_MAX_AGE = 600
SESSION_KEY = "slack_oauth_nonce"
# Where a local trial (DJANGO_DEBUG, no PUBLIC_BASE_URL) is served: make run's address.
LOCAL_TRIAL_URL = "http://127.0.0.1:8000"


class SlackRefused(Exception):
    """A Slack step that cannot go on; the message is for the page."""


def slack_configured() -> bool:
    return bool(settings.SLACK_CLIENT_ID and settings.SLACK_CLIENT_SECRET)


def public_base_url() -> str:
    return settings.PUBLIC_BASE_URL or (LOCAL_TRIAL_URL if settings.DEBUG else "")


def redirect_uri() -> str:
    return public_base_url() + reverse("slack_oauth_callback")


def slack_install_start(*, team: Team, user_id: int, session: SessionBase) -> str:
    """The "Add to Slack" URL for this team and admin, its state remembered in
    their session."""
    if not slack_configured():
        raise SlackRefused("Slack is not set up here: SLACK_CLIENT_ID and SLACK_CLIENT_SECRET.")
    if not public_base_url():
        raise SlackRefused("PUBLIC_BASE_URL is not set: Slack would have nowhere to return to.")
    nonce = secrets.token_urlsafe(16)
    session[SESSION_KEY] = nonce
    state = signing.dumps({"t": team.pk, "u": user_id, "n": nonce}, salt=STATE_SALT)
    return slack_api.slack_authorize_url(
        client_id=settings.SLACK_CLIENT_ID, state=state, redirect_uri=redirect_uri()
    )


def _state_team(*, state: str, user_id: int, session: SessionBase) -> Team:
    if len(state) > 500:
        raise SlackRefused("This Slack link is not one of ours.")
    try:
        data = signing.loads(state, salt=STATE_SALT, max_age=STATE_MAX_AGE)
    except signing.SignatureExpired:
        raise SlackRefused(
            "This Slack link expired: start again from the team's Slack page."
        ) from None
    except signing.BadSignature:
        raise SlackRefused("This Slack link is not one of ours.") from None
    if not isinstance(data, dict) or not isinstance(data.get("n"), str):
        raise SlackRefused("This Slack link is not one of ours.")
    nonce = session.pop(SESSION_KEY, None)
    if data.get("u") != user_id or not isinstance(nonce, str):
        raise SlackRefused("This Slack link was started by someone else, or already used.")
    if not secrets.compare_digest(nonce.encode(), data["n"].encode()):
        raise SlackRefused("This Slack link was started by someone else, or already used.")
    membership = (
        Membership.objects.select_related("team")
        .filter(team_id=data.get("t"), user_id=user_id, role=Membership.Role.ADMIN)
        .first()
    )
    if membership is None:
        raise SlackRefused("Only the team's admins can connect Slack.")
    return membership.team


def slack_install_finish(
    *, state: str, code: str, user_id: int, session: SessionBase
) -> SlackConnection:
    """Exchange Slack's code for the bot token and store the connection (again:
    connecting a broken one mends it, and sends what it held back)."""
    team = _state_team(state=state, user_id=user_id, session=session)
    if not code or len(code) > 500:
        raise SlackRefused("Slack did not send a code back.")
    try:
        data = slack_api.oauth_access(code=code, redirect_uri=redirect_uri())
    except slack_api.SlackFailure as failure:
        raise SlackRefused(f"Slack refused the connection ({failure.error}).") from None
    token = data.get("access_token")
    workspace = data.get("team") if isinstance(data.get("team"), dict) else {}
    if not isinstance(token, str) or not token or data.get("token_type", "bot") != "bot":
        raise SlackRefused("Slack did not give a bot token.")
    workspace_id = str(workspace.get("id") or "")[:32]
    if not workspace_id:
        # An install across an Enterprise Grid organisation names no workspace,
        # and every button press would be refused as another workspace's.
        raise SlackRefused(
            "Slack named no workspace (an install for a whole organisation): "
            "add tformance to one workspace."
        )
    granted = str(data.get("scope") or "")[:500]
    with transaction.atomic():
        before = SlackConnection.objects.select_for_update().filter(team=team).first()
        if before is not None and before.slack_team_id not in ("", workspace_id):
            # Another workspace: the old one's users and channels mean nothing
            # in it. People are matched again, channels chosen again.
            _slack_people_forget(team=team, reason="Slack was connected to another workspace")
            NotificationSettings.objects.filter(team=team).update(
                nudge_channel="", digest_channel=""
            )
            SquadNotificationSettings.objects.filter(squad__team=team).update(
                nudge_channel="", digest_channel=""
            )
        connection, _ = SlackConnection.objects.update_or_create(
            team=team,
            defaults={
                "slack_team_id": workspace_id,
                "slack_team_name": str(workspace.get("name") or "")[:200],
                "bot_user_id": str(data.get("bot_user_id") or "")[:32],
                "bot_token_encrypted": encrypt_secret(token),
                "scopes": granted,
                "status": SlackConnection.Status.CONNECTED,
                "broken_reason": "",
                "broken_at": None,
                **_missing_scope_after_install(before=before, granted=granted),
                "connected_by_id": user_id,
                "connected_at": timezone.now(),
            },
        )
    return connection


def _missing_scope_after_install(
    *, before: SlackConnection | None, granted: str
) -> dict[str, object]:
    """The missing scope a new install leaves: none once Slack granted one of
    the scopes it named; still the same when Slack's grant lacks them all (the
    Slack app itself does not ask for it: docs/slack.md)."""
    if before is None or not before.missing_scope:
        return {"missing_scope": "", "missing_scope_at": None}
    if _scopes(granted) & _scopes(before.missing_scope):
        return {"missing_scope": "", "missing_scope_at": None}
    return {"missing_scope": before.missing_scope, "missing_scope_at": before.missing_scope_at}


def _scopes(text: str) -> set[str]:
    return {scope.strip() for scope in text.split(",") if scope.strip()}


def _slack_people_forget(*, team: Team, reason: str) -> None:
    """The team's Slack users forgotten, and the messages not sent yet kept as
    failed with ``reason`` (inside the caller's transaction)."""
    SlackMessage.objects.filter(
        team=team, status__in=[SlackMessage.Status.PENDING, SlackMessage.Status.SENDING]
    ).update(status=SlackMessage.Status.FAILED, last_error=reason)
    team.slack_people.all().delete()


def slack_token(*, connection: SlackConnection) -> str:
    return decrypt_secret(connection.bot_token_encrypted, what="the Slack bot token")


def slack_connection_for(*, team_id: int) -> SlackConnection | None:
    """The team's working connection, if any."""
    return SlackConnection.objects.filter(
        team_id=team_id, status=SlackConnection.Status.CONNECTED
    ).first()


def slack_connection_break(*, team_id: int, reason: str) -> None:
    """Slack refused the token: the connection stays, broken, with the reason,
    until an admin connects again; messages wait."""
    SlackConnection.objects.filter(team_id=team_id, status=SlackConnection.Status.CONNECTED).update(
        status=SlackConnection.Status.BROKEN, broken_reason=reason[:200], broken_at=timezone.now()
    )
    logger.warning("slack connection of team %s broken: %s", team_id, reason)


def slack_scope_missing(*, team_id: int, needed: str, provided: str) -> str:
    """Slack answered missing_scope: the call that needed the scope fails, the
    connection goes on. The scope is kept for the Slack page (and the token's
    scopes as Slack listed them); the sentence for the admin is returned."""
    updates: dict[str, object] = {"missing_scope": needed[:100], "missing_scope_at": timezone.now()}
    if provided:
        updates["scopes"] = provided[:500]
    SlackConnection.objects.filter(team_id=team_id).update(**updates)
    logger.warning("slack call of team %s lacks the scope %s", team_id, needed or "(not named)")
    scope = f"the scope {needed}" if needed else "a scope Slack did not name"
    return (
        f"The Slack app lacks {scope}. Reinstall the Slack app to grant it "
        "(Connect again on the team's Slack page)."
    )


def slack_connection_check(*, team: Team) -> SlackConnection | None:
    """auth.test: whether the token still works; a revoked one breaks the connection."""
    connection = SlackConnection.objects.filter(team=team).first()
    if connection is None:
        return None
    try:
        slack_api.auth_test(token=slack_token(connection=connection))
    except slack_api.SlackFailure as failure:
        if failure.revoked:
            slack_connection_break(team_id=team.pk, reason=failure.error)
        else:
            raise
    connection.refresh_from_db()
    return connection


def slack_disconnect(*, team: Team) -> bool:
    """Forget the team's Slack: the token revoked at Slack when it still works,
    the connection and the people's Slack users deleted; messages not sent yet
    are kept as failed, with the reason."""
    connection = SlackConnection.objects.filter(team=team).first()
    if connection is None:
        return False
    try:
        slack_api.auth_revoke(token=slack_token(connection=connection))
    except Exception as error:  # a revoked token, Slack away: forget it here all the same
        logger.info("revoking the Slack token of team %s: %s", team.slug, error)
    with transaction.atomic():
        _slack_people_forget(team=team, reason="Slack was disconnected")
        connection.delete()
    return True
