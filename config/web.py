"""The web process: requests read whole by an event loop, then answered by
Django (its WSGI handler) in a thread.

Why not gunicorn's sync workers: each holds one connection from its first byte
to its last, so six clients that send headers and a few bytes of body held two
workers and made GitHub's deliveries wait 27 s (GitHub gives up after 10 s).
Here uvicorn's event loop (in gunicorn's worker processes: Procfile) reads each
request, body and all, into memory, costing a stalled client nothing but its
socket; only a complete request takes a thread.

Threads are kept (the database connection of each stays open between requests,
DJANGO_CONN_MAX_AGE) and grouped in lanes by path, so that pages waiting on a
slow or frozen database never hold the threads of GitHub's webhook or of
``/healthz``. A request of a lane with a deadline that is still waiting for a
thread when its deadline passes is answered 503 by the event loop and never
run. Request bodies are limited to ``MAX_BODY_BYTES`` (GitHub's 25 MB cap and a
little more), whether sent with a Content-Length or chunked; a chunked body is
handed to Django with its length, as if it had been sent with one.

Each answered request is logged on ``tformance.access`` (JSON like every other
line) with its path redacted where it carries a token (apps/common/redact.py);
the server's own access log is off.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from uvicorn_worker import UvicornWorker as _UvicornWorker

from apps.common.deadline import ARRIVED_AT
from apps.common.redact import redacted_path

access_logger = logging.getLogger("tformance.access")
logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# GitHub caps webhook payloads at 25 MB; the webhook view answers 413 past that.
MAX_BODY_BYTES = 25 * 1024 * 1024 + 1
# A client still sending its body after this long is answered 408.
BODY_TIMEOUT_SECONDS = 60.0


class UvicornWorker(_UvicornWorker):
    """uvicorn in gunicorn's worker processes, with uvicorn's access log off
    (``BufferedWSGI`` writes a redacted one) and no rewriting of the client's
    address from X-Forwarded-For (``DJANGO_TRUSTED_PROXY_COUNT`` decides,
    apps/common/addresses.py)."""

    CONFIG_KWARGS: dict[str, Any] = {
        "loop": "auto",
        "http": "auto",
        "access_log": False,
        "proxy_headers": False,
        "lifespan": "on",
    }


@dataclass
class Lane:
    """Threads for the requests of some paths; ``deadline`` (seconds from
    arrival) for those that may not wait longer for a thread."""

    name: str
    threads: int
    deadline: float | None = None
    pool: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix=self.name)


class _Exchange:
    """One request's answer, passed from its thread to the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Message | BaseException | None] = asyncio.Queue()
        self.lock = threading.Lock()
        self.started = False
        self.abandoned = False

    def put(self, item: Message | BaseException | None) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, item)

    def start(self) -> bool:
        """In the thread: False when the event loop answered already."""
        with self.lock:
            if self.abandoned:
                return False
            self.started = True
            return True

    def abandon(self) -> bool:
        """On the event loop: True when no thread has taken the request yet."""
        with self.lock:
            if self.started:
                return False
            self.abandoned = True
            return True


_REFUSALS = {
    413: "request body larger than 25 MB",
    408: "request body not received in time",
}


_Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


def _plain(status: int, text: str) -> _Answer:
    body = (text + "\n").encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 503:
        headers.append((b"retry-after", b"10"))
    return status, headers, body


class BufferedWSGI:
    """An ASGI application that reads each request whole and runs a WSGI
    application on it in a thread of the request's lane."""

    def __init__(
        self, app: WSGIApp, *, lanes: dict[str, Lane], default: Lane, max_body: int = MAX_BODY_BYTES
    ) -> None:
        self.app = app
        self.lanes = lanes
        self.default = default
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":  # websockets: not served
            return
        arrived = time.monotonic()
        status = await self._http(scope, receive, send, arrived)
        access_logger.info(
            "%s %s %s",
            scope["method"],
            redacted_path(scope["path"], scope.get("query_string", b"").decode("latin-1")),
            status,
            extra={
                "status": status,
                "duration_ms": round((time.monotonic() - arrived) * 1000, 1),
            },
        )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for lane in {
                    id(lane): lane for lane in [*self.lanes.values(), self.default]
                }.values():
                    lane.pool.shutdown(wait=False)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _answer(
        self, send: Send, answer: tuple[int, list[tuple[bytes, bytes]], bytes]
    ) -> int:
        status, headers, body = answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return status

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | int:
        """The whole body, or the status to answer instead (413, 408; 0 when
        the client went away)."""
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            return 413
        body = bytearray()
        try:
            async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return 0
                    body += message.get("body", b"")
                    if len(body) > self.max_body:
                        return 413
                    if not message.get("more_body", False):
                        return bytes(body)
        except TimeoutError:
            return 408

    async def _http(self, scope: Scope, receive: Receive, send: Send, arrived: float) -> int:
        body = await self._read_body(scope, receive)
        if body == 0:
            return 499  # nginx's number for a client that closed its connection
        if isinstance(body, int):
            return await self._answer(send, _plain(body, _REFUSALS[body]))
        lane = self.lanes.get(scope["path"], self.default)
        exchange = _Exchange(asyncio.get_running_loop())
        environ = _environ(scope, body, arrived)
        lane.pool.submit(self._run, exchange, environ)

        first = await self._first(exchange, lane, arrived)
        if first is None:
            return await self._answer(send, _plain(503, "the server is busy; try again shortly"))
        status = int(first["status"])
        item: Message | BaseException | None = first
        disconnected = False
        while item is not None:
            if isinstance(item, BaseException):
                raise item
            if not disconnected:
                try:
                    await send(item)
                except OSError:
                    # The client left: the thread still runs to its end (and
                    # closes its response) without anyone to read it.
                    disconnected = True
            item = await exchange.queue.get()
        return status

    async def _first(self, exchange: _Exchange, lane: Lane, arrived: float) -> Message | None:
        """The response's start; None when the lane's deadline passed before a
        thread took the request (it is then never run)."""
        if lane.deadline is None:
            item = await exchange.queue.get()
        else:
            left = arrived + lane.deadline - time.monotonic()
            try:
                item = await asyncio.wait_for(exchange.queue.get(), timeout=max(left, 0))
            except TimeoutError:
                if exchange.abandon():
                    return None
                item = await exchange.queue.get()
        if isinstance(item, BaseException) or item is None:
            raise RuntimeError("the request's thread ended without an answer") from (
                item if isinstance(item, BaseException) else None
            )
        return item

    def _run(self, exchange: _Exchange, environ: dict[str, Any]) -> None:
        """In a lane's thread: the WSGI application, its response pushed to the loop."""
        if not exchange.start():
            return
        started: list[Message] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            started[:] = [
                {
                    "type": "http.response.start",
                    "status": int(status.split(" ", 1)[0]),
                    "headers": [
                        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers
                    ],
                }
            ]
            return lambda data: None  # the legacy write() callable: unused by Django

        try:
            result = self.app(environ, start_response)
            try:
                exchange.put(started[0])
                for chunk in result:
                    if chunk:
                        exchange.put(
                            {"type": "http.response.body", "body": chunk, "more_body": True}
                        )
            finally:
                # Django's request_finished (database connections returned) runs here.
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            exchange.put({"type": "http.response.body", "body": b""})
        except BaseException as error:
            logger.exception("the web application failed outside its own error handling")
            exchange.put(error)
        exchange.put(None)


def _environ(scope: Scope, body: bytes, arrived: float) -> dict[str, Any]:
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode().decode("latin-1"),
        "PATH_INFO": scope["path"].encode().decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "REMOTE_ADDR": client[0] if client else "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        ARRIVED_AT: arrived,
    }
    for raw_name, raw_value in scope["headers"]:
        if b"_" in raw_name:
            # "X_Forwarded_For" would pass for X-Forwarded-For once both are
            # written with underscores: dropped, as Django's own server does.
            continue
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        if name in ("TRANSFER_ENCODING", "CONTENT_LENGTH"):
            continue  # the body is whole: its length is given below
        key = name if name == "CONTENT_TYPE" else f"HTTP_{name}"
        value = raw_value.decode("latin-1")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    environ["CONTENT_LENGTH"] = str(len(body))
    return environ


def application_for(
    app: WSGIApp,
    *,
    threads: int,
    webhook_path: str,
    webhook_deadline: float,
    health_path: str,
    health_deadline: float,
) -> BufferedWSGI:
    """The project's lanes: GitHub's webhook, the health check, every other page."""
    return BufferedWSGI(
        app,
        lanes={
            webhook_path: Lane("webhook", threads, deadline=webhook_deadline),
            health_path: Lane("health", 2, deadline=health_deadline),
        },
        default=Lane("pages", threads),
    )
