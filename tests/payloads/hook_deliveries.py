"""GitHub's app delivery log, as its REST API answers (docs: "List deliveries
for an app webhook", "Get a delivery for an app webhook"), and a fake of both
endpoints at their real paths for respx."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

HOOK_ID = 424242


@dataclass
class LogEntry:
    """One attempt of one event: GitHub's log item and, behind it, the request."""

    id: int
    guid: str
    event: str
    payload: dict[str, Any]
    delivered_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    redelivery: bool = False
    status: str = "Invalid HTTP Response: 503"
    status_code: int = 503

    def item(self) -> dict[str, Any]:
        """The list's item: no request, no response."""
        installation = self.payload.get("installation") or {}
        repository = self.payload.get("repository") or {}
        return {
            "id": self.id,
            "guid": self.guid,
            "delivered_at": self.delivered_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "redelivery": self.redelivery,
            "duration": 0.27,
            "status": self.status,
            "status_code": self.status_code,
            "event": self.event,
            "action": self.payload.get("action"),
            "installation_id": installation.get("id"),
            "repository_id": repository.get("id"),
            "throttled_at": None,
        }

    def delivery(self) -> dict[str, Any]:
        """``GET /app/hook/deliveries/{id}``: the item with GitHub's copy of the
        request and of our response."""
        return {
            **self.item(),
            "url": "https://tformance.example.com/webhooks/github/",
            "request": {
                "headers": {
                    "Accept": "*/*",
                    "User-Agent": "GitHub-Hookshot/a2ebe4b",
                    "X-GitHub-Delivery": self.guid,
                    "X-GitHub-Event": self.event,
                    "X-GitHub-Hook-ID": str(HOOK_ID),
                    "X-GitHub-Hook-Installation-Target-ID": "987654",
                    "X-GitHub-Hook-Installation-Target-Type": "integration",
                    "X-Hub-Signature": "sha1=d0a8b3ab4c0d2e0e6e8f1e6f4ad1f6e3d1c5d0aa",
                    "X-Hub-Signature-256": "sha256=6dcb09b5b57875f334f61aebed695e2e4193db5e",
                    "content-type": "application/json",
                },
                "payload": self.payload,
            },
            "response": {
                "headers": {"Content-Type": "text/plain"},
                "payload": "Service Unavailable",
            },
        }


class FakeDeliveryLog:
    """``GET /app/hook/deliveries`` (newest first, ``page_size`` a page, a
    ``cursor`` in the Link header as GitHub gives it) and
    ``GET /app/hook/deliveries/{id}`` on a respx router."""

    def __init__(self, router: Any, base_url: str, *, page_size: int = 100) -> None:
        self.base_url = base_url
        self.page_size = page_size
        self.entries: list[LogEntry] = []
        self.cursors: list[str | None] = []
        self.fetched: list[int] = []
        # Status code → answer for a list or fetch, to fake GitHub's errors.
        self.list_answers: list[httpx.Response] = []
        self.fetch_answers: dict[int, httpx.Response] = {}
        self.list_route = router.get(f"{base_url}/app/hook/deliveries").mock(side_effect=self._list)
        self.fetch_route = router.get(
            url__regex=re.escape(base_url) + r"/app/hook/deliveries/(?P<delivery_id>\d+)$"
        ).mock(side_effect=self._fetch)

    def add(self, *entries: LogEntry) -> None:
        self.entries.extend(entries)
        self.entries.sort(key=lambda entry: entry.id, reverse=True)

    def _list(self, request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        self.cursors.append(cursor)
        if self.list_answers:
            return self.list_answers.pop(0)
        below = int(cursor.removeprefix("v1_")) if cursor else None
        remaining = [e for e in self.entries if below is None or e.id < below]
        page, rest = remaining[: self.page_size], remaining[self.page_size :]
        headers = {}
        if rest:
            next_url = f"{self.base_url}/app/hook/deliveries?per_page=100&cursor=v1_{page[-1].id}"
            headers["Link"] = f'<{next_url}>; rel="next"'
        return httpx.Response(200, json=[entry.item() for entry in page], headers=headers)

    def _fetch(self, request: httpx.Request, delivery_id: str) -> httpx.Response:
        self.fetched.append(int(delivery_id))
        if int(delivery_id) in self.fetch_answers:
            return self.fetch_answers[int(delivery_id)]
        for entry in self.entries:
            if entry.id == int(delivery_id):
                return httpx.Response(200, content=json.dumps(entry.delivery()))
        return httpx.Response(404, json={"message": "Not Found"})


def rate_limited(reset: datetime | None = None) -> httpx.Response:
    reset = reset or datetime.now(UTC) + timedelta(minutes=20)
    return httpx.Response(
        403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(reset.timestamp()))},
        json={"message": "API rate limit exceeded for app ID 987654."},
    )


def spammed() -> httpx.Response:
    return httpx.Response(
        422,
        json={
            "message": "Validation Failed",
            "errors": [{"resource": "Hook", "code": "custom", "message": "Too many requests"}],
        },
    )
