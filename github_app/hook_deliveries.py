"""The app's webhook delivery log: ``GET /app/hook/deliveries`` (newest first)
and one delivery with GitHub's copy of the request,
``GET /app/hook/deliveries/{id}``. Both need the app's JWT.

GitHub keeps each delivery there for 3 days (7 on Enterprise Server). Answers
are read as plain JSON and checked field by field here: an item of the wrong
shape is skipped and counted, never allowed to stop the walk, and githubkit's
strict models would reject a whole page for one odd item."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from githubkit import GitHub

from github_app.deliveries import DeliveryHeaders
from github_app.errors import GitHubError
from github_app.values import github_id, id_from_text, timestamp_or_none

PER_PAGE = 100
# What GitHub's answer may hold as a delivery id or event name (our columns).
MAX_GUID_LENGTH = 100
MAX_EVENT_LENGTH = 100
MAX_CURSOR_LENGTH = 1000


class MalformedDelivery(GitHubError):
    """GitHub's copy of one delivery is not of the shape it documents."""


@dataclass(frozen=True, slots=True)
class LoggedDelivery:
    """One attempt in the delivery log. A redelivery is a new attempt (a new
    ``id``) of the same event (the same ``guid``, GitHub's X-GitHub-Delivery)."""

    id: int
    guid: str
    delivered_at: datetime
    redelivery: bool
    status: str
    status_code: int | None
    event: str
    action: str
    installation_id: int | None
    repository_id: int | None


@dataclass(frozen=True, slots=True)
class LogPage:
    deliveries: list[LoggedDelivery]
    # Items GitHub listed that were not of the documented shape.
    malformed: int
    # Where the next (older) page starts; None on the last page.
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class FetchedDelivery:
    """GitHub's copy of a delivery's request: its headers and its payload."""

    headers: DeliveryHeaders
    payload: dict[str, Any]


def _short_text(value: Any, limit: int) -> str | None:
    if isinstance(value, str) and value.strip() and len(value) <= limit and "\x00" not in value:
        return value.strip()
    return None


def _logged(item: Any) -> LoggedDelivery | None:
    """The delivery an item of the log describes, or None when it lacks what a
    reconcile needs (id, guid, time, event) or has it of the wrong type."""
    if not isinstance(item, Mapping):
        return None
    delivery_id = github_id(item.get("id"))
    guid = _short_text(item.get("guid"), MAX_GUID_LENGTH)
    delivered_at = timestamp_or_none(item.get("delivered_at"))
    event = _short_text(item.get("event"), MAX_EVENT_LENGTH)
    if delivery_id is None or guid is None or delivered_at is None or event is None:
        return None
    status_code = item.get("status_code")
    return LoggedDelivery(
        id=delivery_id,
        guid=guid,
        delivered_at=delivered_at,
        redelivery=item.get("redelivery") is True,
        status=_short_text(item.get("status"), 200) or "",
        status_code=status_code
        if isinstance(status_code, int) and not isinstance(status_code, bool)
        else None,
        event=event,
        action=_short_text(item.get("action"), 100) or "",
        installation_id=github_id(item.get("installation_id")),
        repository_id=github_id(item.get("repository_id")),
    )


def next_cursor(link_url: str | None) -> str | None:
    """The ``cursor`` parameter of the Link header's rel="next" URL."""
    if not link_url:
        return None
    values = parse_qs(urlsplit(link_url).query).get("cursor") or []
    cursor = values[0] if values else ""
    return cursor if 0 < len(cursor) <= MAX_CURSOR_LENGTH else None


def list_delivery_page(
    client: GitHub[Any], *, cursor: str | None = None, per_page: int = PER_PAGE
) -> LogPage:
    """One page of the app's delivery log, newest first, from ``cursor`` (the
    newest page when None). Raises GitHubError (RateLimited; ValidationFailed
    for GitHub's 422, "validation failed, or the endpoint has been spammed")."""
    response = (
        client.rest.apps.list_webhook_deliveries(per_page=per_page, cursor=cursor)
        if cursor
        else client.rest.apps.list_webhook_deliveries(per_page=per_page)
    )
    try:
        body = response.json()
    except ValueError:
        raise GitHubError("GitHub's delivery log answered something that is not JSON") from None
    if not isinstance(body, list):
        raise GitHubError("GitHub's delivery log answered something that is not a list")
    deliveries: list[LoggedDelivery] = []
    malformed = 0
    for item in body:
        logged = _logged(item)
        if logged is None:
            malformed += 1
        else:
            deliveries.append(logged)
    link = response.raw_response.links.get("next", {}).get("url")
    return LogPage(deliveries=deliveries, malformed=malformed, next_cursor=next_cursor(link))


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted and isinstance(value, str):
            return value
    return None


def _header_int(headers: Mapping[str, Any], name: str) -> int | None:
    value = (_header(headers, name) or "").strip()
    # isdecimal() alone would take other scripts' digits.
    return id_from_text(value)


def fetch_delivery(client: GitHub[Any], *, logged: LoggedDelivery) -> FetchedDelivery:
    """GitHub's copy of the request of the logged delivery: headers and payload.

    The event and delivery id come from the log's item (checked above), the
    rest from the request headers GitHub recorded. Raises MalformedDelivery when
    the copy is not of the documented shape, GitHubError when the call fails."""
    response = client.rest.apps.get_webhook_delivery(delivery_id=logged.id)
    try:
        body = response.json()
    except ValueError:
        raise MalformedDelivery("GitHub's copy of the delivery is not JSON") from None
    request = body.get("request") if isinstance(body, Mapping) else None
    if not isinstance(request, Mapping):
        raise MalformedDelivery("GitHub's copy of the delivery has no request")
    payload = request.get("payload")
    if not isinstance(payload, dict):
        raise MalformedDelivery("GitHub's copy of the delivery has no JSON object payload")
    if isinstance(body, Mapping) and body.get("guid") not in (None, logged.guid):
        raise MalformedDelivery("GitHub's copy of the delivery is of another event")
    raw_headers = request.get("headers")
    headers: Mapping[str, Any] = raw_headers if isinstance(raw_headers, Mapping) else {}
    recorded_event = _header(headers, "X-GitHub-Event")
    if recorded_event is not None and recorded_event.strip() != logged.event:
        raise MalformedDelivery("GitHub's copy of the delivery names another event")
    return FetchedDelivery(
        headers=DeliveryHeaders(
            delivery_id=logged.guid,
            event=logged.event,
            hook_id=_header_int(headers, "X-GitHub-Hook-ID"),
            target_type=_short_text(_header(headers, "X-GitHub-Hook-Installation-Target-Type"), 50),
            target_id=_header_int(headers, "X-GitHub-Hook-Installation-Target-ID"),
        ),
        payload=payload,
    )
