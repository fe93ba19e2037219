"""A fake of Slack's Web API on 127.0.0.1, at Slack's documented paths
(``/api/<method>``), answering as Slack documents: HTTP 200 with ``ok`` and
``error``, 429 with ``Retry-After``.

`slack_sdk`'s WebClient sends with the standard library's urllib, which respx
(it patches httpx) cannot see; so the tests run the real client against a real
HTTP server, set as SLACK_API_URL, as an operator's local fake would be."""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

TOKEN = "xoxb-test-bot-token"


@dataclass
class Reply:
    body: dict[str, Any]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # The connection closes halfway through the body (a network's doing).
    cut_off: bool = False
    # The request is read whole, then the connection closes with no answer at all.
    dropped: bool = False
    # The request is read whole and no answer comes until the test ends: the
    # client's read timeout.
    hang: bool = False


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str


@dataclass
class SlackUser:
    id: str
    email: str
    tz: str = "Europe/London"


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.queued: dict[str, deque[Reply]] = defaultdict(deque)
        self.users: list[SlackUser] = []
        self.revoked = False
        # Set when the server stops: a hanging answer ends then.
        self.released = threading.Event()
        self._ts = 0
        self._lock = threading.Lock()

    # --- what a test sets up ---------------------------------------------------------
    def reply(
        self,
        method: str,
        body: dict[str, Any],
        *,
        status: int = 200,
        cut_off: bool = False,
        dropped: bool = False,
        hang: bool = False,
        **headers: str,
    ) -> None:
        """The next call of ``method`` gets this answer (then the default again);
        ``cut_off``: only its first half arrives; ``dropped``: the connection
        closes with no answer; ``hang``: no answer until the test ends. In all
        three Slack got the whole request."""
        self.queued[method].append(
            Reply(
                body,
                status,
                {k.replace("_", "-"): v for k, v in headers.items()},
                cut_off,
                dropped,
                hang,
            )
        )

    def user(self, slack_id: str, email: str, tz: str = "Europe/London") -> None:
        self.users.append(SlackUser(slack_id, email, tz))

    def to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    # --- Slack's default answers -----------------------------------------------------
    def answer(self, call: Call) -> Reply:
        with self._lock:
            self.calls.append(call)
            if self.queued[call.method]:
                return self.queued[call.method].popleft()
            if call.method != "oauth.v2.access" and (self.revoked or call.token != TOKEN):
                return Reply(
                    {"ok": False, "error": "token_revoked" if self.revoked else "invalid_auth"}
                )
            return self._default(call)

    def _default(self, call: Call) -> Reply:
        p = call.params
        if call.method == "oauth.v2.access":
            if p.get("code") != "good-code":
                return Reply({"ok": False, "error": "invalid_code"})
            return Reply(
                {
                    "ok": True,
                    "access_token": TOKEN,
                    "token_type": "bot",
                    "scope": "chat:write,im:write,users:read,users:read.email",
                    "bot_user_id": "U0BOT",
                    "app_id": "A0APP",
                    "team": {"id": "T0ACME", "name": "Acme Slack"},
                    "enterprise": None,
                    "authed_user": {"id": "U0ALICE"},
                }
            )
        if call.method == "auth.test":
            return Reply(
                {"ok": True, "team": "Acme Slack", "team_id": "T0ACME", "user_id": "U0BOT"}
            )
        if call.method == "auth.revoke":
            return Reply({"ok": True, "revoked": True})
        if call.method == "users.lookupByEmail":
            for u in self.users:
                if u.email == p.get("email"):
                    return Reply({"ok": True, "user": {"id": u.id, "tz": u.tz, "deleted": False}})
            return Reply({"ok": False, "error": "users_not_found"})
        if call.method == "users.info":
            for u in self.users:
                if u.id == p.get("user"):
                    return Reply({"ok": True, "user": {"id": u.id, "tz": u.tz, "deleted": False}})
            return Reply({"ok": False, "error": "user_not_found"})
        if call.method == "conversations.open":
            return Reply({"ok": True, "channel": {"id": "D" + str(p.get("users"))[1:]}})
        if call.method in ("chat.postMessage", "chat.update"):
            self._ts += 1
            ts = p.get("ts") or f"1700000000.{self._ts:06d}"
            return Reply({"ok": True, "channel": p.get("channel"), "ts": ts})
        return Reply({"ok": False, "error": "unknown_method"}, status=404)


def _handler(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if "json" in (self.headers.get("Content-Type") or ""):
                params: dict[str, Any] = json.loads(raw or b"{}")
            else:
                params = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            path = urlsplit(self.path).path
            method = path.removeprefix("/api/")
            auth = self.headers.get("Authorization") or ""
            reply = fake.answer(Call(method, params, auth.removeprefix("Bearer ")))
            if reply.hang:
                fake.released.wait(timeout=30)
            if reply.dropped or reply.hang:
                self.close_connection = True
                return
            body = json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if reply.cut_off:
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
                return
            self.wfile.write(body)

        def do_GET(self) -> None:
            """Slack's "Add to Slack" page, approved at once: back to the
            redirect URI with a code and the state, as Slack sends the browser."""
            url = urlsplit(self.path)
            if url.path != "/oauth/v2/authorize":
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            back = query.get("redirect_uri", "") + "?"
            back += urlencode({"code": "good-code", "state": query.get("state", "")})
            self.send_response(302)
            self.send_header("Location", back)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    return Handler


class FakeSlackServer:
    def __init__(self) -> None:
        self.fake = FakeSlack()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.fake))
        # shutdown() waits for the loop's next poll: 0.5 s by default, in every test.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def __enter__(self) -> FakeSlack:
        self.thread.start()
        return self.fake

    def __exit__(self, *exc: object) -> None:
        self.fake.released.set()
        self.server.shutdown()
        self.server.server_close()
