"""Every Slack Web API call, through the official `slack_sdk`, at SLACK_API_URL.

Slack answers HTTP 200 with ``{"ok": false, "error": …}`` for most failures,
429 with ``Retry-After`` when rate limited. Each failure becomes one
`SlackFailure` that says what to do about it: wait (``retry_after``), mark the
connection broken (``revoked``), ask an admin to grant a scope
(``missing_scope``, with Slack's ``needed`` and ``provided``), give up
(``permanent``; ``maybe_posted`` when Slack may have posted the message), or
retry later.

Slack has no idempotency key: a request that reached Slack and whose answer was
lost may have been done. Such a failure is ``no_answer``, told apart from
``unreachable`` (the request never reached Slack); a call that is harmless to
repeat retries either, and `post_message` never retries the first."""

from __future__ import annotations

import http.client
import urllib.error
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
    }
)
# The token works, but lacks the scope one call needs (Slack names it in
# ``needed``): that call fails, the connection and every other call go on.
MISSING_SCOPE = "missing_scope"
# Errors a later try can fix: Slack's own outages, its rate limit, and no
# answer at all (``unreachable``: the request never reached Slack;
# ``no_answer``: it did and the answer was lost, harmless to repeat only for
# calls that change nothing twice: `post_message` says otherwise). Every
# other error Slack documents (channel_not_found,
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
        "no_answer",
        "not_json",
    }
)
# chat.postMessage's failures after which Slack may have posted the message:
# no answer to a request it received, and the two errors Slack documents with
# "It's possible some aspect of the operation succeeded before the error was
# raised". Posting again could post it twice.
MAYBE_POSTED_ERRORS = frozenset({"no_answer", "internal_error", "fatal_error"})
TIMEOUT_SECONDS = 10
# The bot's scopes, as the shipped slack-app-manifest.json asks for them, and
# the calls that need them (Slack's reference of each method): chat:write for
# chat.postMessage and chat.update; chat:write.public to post in a public
# channel the bot was not added to; im:write for conversations.open (a direct
# message); users:read for users.info, and users:read.email for
# users.lookupByEmail (Slack asks for both together); channels:read, asked
# since the first version, for no call today. oauth.v2.access, auth.test and
# auth.revoke need none.
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
    ``http_<status>``, ``unreachable``, ``no_answer``); the message never holds
    a token."""

    def __init__(
        self,
        error: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        needed: str = "",
        provided: str = "",
        maybe_posted: bool = False,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.retry_after = retry_after
        # Of a missing_scope answer: the scope(s) the call needed, and those
        # the token has (Slack's comma-separated lists).
        self.needed = needed
        self.provided = provided
        # A post Slack may have made: never retried by itself.
        self.maybe_posted = maybe_posted

    @property
    def revoked(self) -> bool:
        return self.error in REVOKED_ERRORS

    @property
    def missing_scope(self) -> bool:
        return self.error == MISSING_SCOPE

    @property
    def permanent(self) -> bool:
        """Refused for good: neither temporary (above, a rate limit or a 5xx)
        nor a token that stopped working (``revoked``, mended by connecting
        again); a post Slack may have made is never retried by itself."""
        if self.maybe_posted:
            return True
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
        raise SlackFailure(
            code,
            status=status,
            needed=str(data.get("needed") or "")[:100],
            provided=str(data.get("provided") or "")[:500],
        ) from None
    except urllib.error.URLError as error:
        # urllib wraps in URLError exactly the errors of resolving, connecting
        # (refused, connect timeout, TLS) and writing the request
        # (AbstractHTTPHandler.do_open): Slack never had the whole request.
        # (Its HTTPError, an answer, is read by slack_sdk and never gets here.)
        raise SlackFailure("unreachable", status=None) from error
    except (
        OSError,  # the request was sent: a read timeout, a connection reset or closed
        http.client.HTTPException,  # an answer cut off (IncompleteRead) or garbled
    ) as error:
        # Slack may have done what was asked: only the caller knows whether
        # asking again is harmless.
        raise SlackFailure("no_answer", status=None) from error
    except SlackClientError as error:  # slack_sdk's own refusals, before any request
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
    """chat.postMessage: (channel id, message ts). A failure after which Slack
    may have posted it is ``maybe_posted``: posting again could post it twice."""
    try:
        data = _call(
            lambda: _client(token).chat_postMessage(
                channel=channel, text=text, blocks=blocks or None
            )
        )
    except SlackFailure as failure:
        if failure.error not in MAYBE_POSTED_ERRORS:
            raise
        raise SlackFailure(failure.error, status=failure.status, maybe_posted=True) from failure
    return str(data.get("channel") or channel), str(data.get("ts") or "")


def update_message(
    *, token: str, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]
) -> None:
    _call(lambda: _client(token).chat_update(channel=channel, ts=ts, text=text, blocks=blocks))
