"""The web process's bridge (config/web.py), called as uvicorn calls it: the
whole body read before a thread runs Django; lanes; the size limit; a request
still waiting for a thread at its deadline answered 503 and never run."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from apps.integrations.models import WebhookDelivery
from config.web import BufferedWSGI, Lane
from tests.integrations.conftest import WEBHOOK_URL, signed_headers
from tests.payloads.installations import ping_event


def _scope(path: str, headers: dict[str, str], method: str = "POST") -> dict[str, Any]:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }


def _call(app: BufferedWSGI, scope: dict[str, Any], chunks: list[bytes]) -> tuple[int, bytes]:
    """Run one request; the body arrives in ``chunks`` (as a chunked upload does)."""
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


def _github_headers(body: bytes) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    for key, value in signed_headers(body, event="ping").items():
        headers[key.removeprefix("HTTP_").replace("_", "-")] = value
    return headers


@pytest.fixture
def app():
    from django.core.wsgi import get_wsgi_application

    return BufferedWSGI(
        get_wsgi_application(), lanes={}, default=Lane("test", 2), max_body=64 * 1024
    )


@pytest.mark.django_db(transaction=True)
def test_it_hands_django_a_chunked_body_whole(app):
    body = json.dumps(ping_event()).encode()
    headers = {**_github_headers(body), "Transfer-Encoding": "chunked"}
    chunks = [body[i : i + 100] for i in range(0, len(body), 100)]

    status, answer = _call(app, _scope(WEBHOOK_URL, headers), chunks)

    assert (status, answer) == (202, b"accepted\n")
    assert WebhookDelivery.objects.count() == 1


def test_it_refuses_a_body_past_the_limit_sent_chunked_or_declared(app):
    chunked = _scope(WEBHOOK_URL, {"Transfer-Encoding": "chunked"})
    declared = _scope(WEBHOOK_URL, {"Content-Length": str(10**9)})

    assert _call(app, chunked, [b"x" * 40_000, b"x" * 40_000])[0] == 413
    assert _call(app, declared, [b""])[0] == 413


def test_it_answers_503_and_never_runs_a_request_still_waiting_at_its_deadline():
    release, running = threading.Event(), threading.Event()
    ran: list[str] = []

    def wsgi(environ, start_response):
        ran.append(environ["PATH_INFO"])
        running.set()
        release.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    lane = Lane("one", 1, deadline=0.3)
    bridge = BufferedWSGI(wsgi, lanes={"/slow": lane, "/late": lane}, default=Lane("pages", 1))
    first = threading.Thread(target=_call, args=(bridge, _scope("/slow", {}), [b""]))
    first.start()
    running.wait(10)
    try:
        # The lane's one thread is busy: this request waits past its deadline.
        status, _ = _call(bridge, _scope("/late", {}), [b""])
    finally:
        release.set()
        first.join()
        lane.pool.shutdown(wait=True)

    assert status == 503
    assert ran == ["/slow"]


def test_a_busy_lane_does_not_hold_another():
    # The page waits for the webhook: they can only both finish if the
    # webhook gets a thread while the page holds the only one of its lane.
    webhook_ran = threading.Event()
    page_saw_it: list[bool] = []

    def wsgi(environ, start_response):
        if environ["PATH_INFO"] == "/page":
            page_saw_it.append(webhook_ran.wait(10))
        else:
            webhook_ran.set()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    bridge = BufferedWSGI(wsgi, lanes={"/webhook": Lane("webhook", 1)}, default=Lane("pages", 1))
    page = threading.Thread(target=_call, args=(bridge, _scope("/page", {}), [b""]))
    page.start()
    answer = _call(bridge, _scope("/webhook", {}), [b""])
    page.join()

    assert answer == (200, b"/webhook")
    assert page_saw_it == [True]


def test_it_drops_headers_spelt_with_underscores():
    seen: dict[str, str] = {}

    def wsgi(environ, start_response):
        seen.update({k: v for k, v in environ.items() if k.startswith("HTTP_X_FORWARDED")})
        start_response("200 OK", [])
        return [b""]

    bridge = BufferedWSGI(wsgi, lanes={}, default=Lane("pages", 1))
    _call(bridge, _scope("/", {"X_Forwarded_For": "6.6.6.6", "X-Forwarded-For": "1.2.3.4"}), [b""])

    assert seen == {"HTTP_X_FORWARDED_FOR": "1.2.3.4"}
