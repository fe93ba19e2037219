"""Every Slack Web API call, through the official `slack_sdk`, at SLACK_API_URL.

Slack answers HTTP 200 with ``{"ok": false, "error": …}`` for most failures,
429 with ``Retry-After`` when rate limited. Each failure becomes one
`SlackFailure` that says what to do about it: wait (``retry_after``), mark the
connection broken (``revoked``), give up (``permanent``), or retry later."""

from __future__ import annotations

import http.client
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse

# The token no longer works: the connection is broken until an admin connects again.
REVOKED_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "app_uninstalled",
        "team_access_not_granted",
        "missing_scope",
    }
)
# Errors a later try can fix: Slack's own outages, its rate limit, and no
# answer at all. Every other error Slack documents (channel_not_found,
# msg_blocks_too_long, messages_tab_disabled, access_denied, …, and those it
# adds) is the request's, the same at every try: the message fails with the
# reason (an admin can retry it) rather than being retried every hour for ever.
TEMPORARY_ERRORS = frozenset(
    {
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "ratelimited",
        "rate_limited",
        "unreachable",
        "not_json",
    }
)
TIMEOUT_SECONDS = 10
# The bot's scopes, as the shipped slack-app-manifest.json asks for them.
BOT_SCOPES = (
    "chat:write",
    "chat:write.public",
    "im:write",
    "users:read",
    "users:read.email",
    "channels:read",
)


class SlackFailure(Exception):
    """A Slack call that did not succeed. ``error`` is Slack's error code (or
    ``http_<status>``, ``unreachable``); the message never holds a token."""

    def __init__(
        self, error: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.retry_after = retry_after

    @property
    def revoked(self) -> bool:
        return self.error in REVOKED_ERRORS

    @property
    def permanent(self) -> bool:
        """Refused for good: neither temporary (above, a rate limit or a 5xx)
        nor a token that stopped working (``revoked``, mended by connecting
        again)."""
        if self.revoked or self.rate_limited or self.error in TEMPORARY_ERRORS:
            return False
        return not (self.status is not None and self.status >= 500)

    @property
    def rate_limited(self) -> bool:
        return self.retry_after is not None


def slack_escape(text: str) -> str:
    """Text as Slack's mrkdwn shows it literally: &, < and > escaped (a pull
    request's title could otherwise make a link or mention)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_link(url: str, label: str) -> str:
    """A link in mrkdwn; the label escaped (and without the separator "|")."""
    label = slack_escape(label).replace("|", "¦")
    return f"<{url}|{label}>" if url.startswith(("https://", "http://")) else label


def _client(token: str | None = None) -> WebClient:
    # No retry handlers: a rate limit or an outage is retried by the task that
    # owns the message (Retry-After as its countdown), never by sleeping here.
    return WebClient(
        token=token, base_url=settings.SLACK_API_URL, timeout=TIMEOUT_SECONDS, retry_handlers=[]
    )


def _retry_after(headers: Any) -> float:
    for name, value in dict(headers or {}).items():
        if str(name).lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            text = str(raw).strip()
            if text.isascii() and text.isdigit() and len(text) < 6:
                return float(text)
    return 60.0


def _call(request: Callable[[], SlackResponse]) -> dict[str, Any]:
    try:
        response = request()
    except SlackApiError as error:
        status = error.response.status_code
        data = error.response.data if isinstance(error.response.data, dict) else {}
        if status == 429:
            wait = _retry_after(error.response.headers)
            raise SlackFailure(
                str(data.get("error") or "ratelimited"), status=status, retry_after=wait
            ) from None
        code = str(data.get("error") or f"http_{status}")[:100]
        raise SlackFailure(code, status=status) from None
    except (
        OSError,  # timeouts, refused or reset connections, urllib's URLError
        http.client.HTTPException,  # an answer cut off (IncompleteRead) or garbled
        SlackClientError,
    ) as error:
        raise SlackFailure("unreachable", status=None) from error
    data = response.data
    if not isinstance(data, dict):
        raise SlackFailure("not_json", status=response.status_code)
    return data


def slack_authorize_url(*, client_id: str, state: str, redirect_uri: str) -> str:
    """Slack's "Add to Slack" page, on the host of SLACK_API_URL."""
    parts = urlsplit(settings.SLACK_API_URL)
    query = urlencode(
        {
            "client_id": client_id,
            "scope": ",".join(BOT_SCOPES),
            "state": state,
            "redirect_uri": redirect_uri,
        }
    )
    return urlunsplit((parts.scheme, parts.netloc, "/oauth/v2/authorize", query, ""))


def oauth_access(*, code: str, redirect_uri: str) -> dict[str, Any]:
    """oauth.v2.access: the workspace's bot token for the code Slack returned."""
    return _call(
        lambda: _client().oauth_v2_access(
            client_id=settings.SLACK_CLIENT_ID,
            client_secret=settings.SLACK_CLIENT_SECRET,
            code=code,
            redirect_uri=redirect_uri,
        )
    )


def auth_test(*, token: str) -> dict[str, Any]:
    return _call(lambda: _client(token).auth_test())


def auth_revoke(*, token: str) -> dict[str, Any]:
    return _call(lambda: _client(token).auth_revoke())


def user_by_email(*, token: str, email: str) -> dict[str, Any] | None:
    """users.lookupByEmail: the Slack user with this email, None if there is none."""
    try:
        data = _call(lambda: _client(token).users_lookupByEmail(email=email))
    except SlackFailure as failure:
        if failure.error == "users_not_found":
            return None
        raise
    user = data.get("user")
    return user if isinstance(user, dict) else None


def user_info(*, token: str, user_id: str) -> dict[str, Any] | None:
    try:
        data = _call(lambda: _client(token).users_info(user=user_id))
    except SlackFailure as failure:
        if failure.error == "user_not_found":
            return None
        raise
    user = data.get("user")
    return user if isinstance(user, dict) else None


def open_direct(*, token: str, user_id: str) -> str:
    """conversations.open: the id of the direct message channel with a user."""
    data = _call(lambda: _client(token).conversations_open(users=user_id))
    channel = data.get("channel")
    channel_id = channel.get("id") if isinstance(channel, dict) else None
    if not isinstance(channel_id, str):
        raise SlackFailure("no_channel")
    return channel_id


def post_message(
    *, token: str, channel: str, text: str, blocks: list[dict[str, Any]] | None = None
) -> tuple[str, str]:
    """chat.postMessage: (channel id, message ts)."""
    data = _call(
        lambda: _client(token).chat_postMessage(channel=channel, text=text, blocks=blocks or None)
    )
    return str(data.get("channel") or channel), str(data.get("ts") or "")


def update_message(
    *, token: str, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]
) -> None:
    _call(lambda: _client(token).chat_update(channel=channel, ts=ts, text=text, blocks=blocks))
