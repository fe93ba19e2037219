"""GitHub's GraphQL API for an organisation's history, on 127.0.0.1 over real
HTTP, with GitHub's documented limits and its slowness: every query takes
`page_seconds`, and the server refuses as GitHub does

- CPU time: no more than `cpu_seconds` of response time per `window` (GitHub:
  60 s per 60 s, "roughly estimate the CPU time by measuring the total response
  time"), counted as the response time of the queries that finished in the
  window plus the time so far of those in flight;
- `points` secondary points per window (GitHub: 2,000 a minute, 1 per query);
- `max_in_flight` queries at once (GitHub: 100);

each with 403, GitHub's "secondary rate limit" message and `retry-after`; and
the hour's points (`hourly_points`, each query's documented cost) with 200,
a `RATE_LIMITED` error and `x-ratelimit-reset`. Each repository is a
`FakeGraphQL` (tests/payloads/graphql.py); the installation token endpoint
answers too.

    server = LimitedGraphQLServer(repositories, page_seconds=0.05, window=2.0, cpu_seconds=2.0)
    url = server.start()   # http://127.0.0.1:PORT, for GITHUB_API_URL
    ...
    server.stop(); server.figures()

Used by `bench/bench_history_org.py` and tests/integrations/test_history_org_fake.py.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.payloads.graphql import FakeGraphQL

SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID."
)


@dataclass(frozen=True, slots=True)
class ServerFigures:
    queries: int
    refusals: int
    refusals_by_kind: dict[str, int]
    points: int
    response_seconds: float
    max_in_flight: int


class LimitedGraphQLServer:
    def __init__(
        self,
        repositories: Iterable[FakeGraphQL],
        *,
        page_seconds: float = 1.5,
        window: float = 60.0,
        cpu_seconds: float = 60.0,
        points: int = 2000,
        max_in_flight: int = 100,
        hourly_points: int = 12_500,
    ) -> None:
        self.repositories = {fake.full_name: fake for fake in repositories}
        self.by_node: dict[str, FakeGraphQL] = {
            node["id"]: fake for fake in self.repositories.values() for node in fake.nodes
        }
        self.page_seconds = page_seconds
        self.window = window
        self.cpu_seconds = cpu_seconds
        self.points_per_window = points
        self.max_in_flight = max_in_flight
        self.remaining = hourly_points
        self.reset_at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        self.lock = threading.Lock()
        self.finished: deque[tuple[float, float]] = deque()  # (finished at, seconds)
        self.starts: deque[float] = deque()
        self.in_flight: dict[int, float] = {}  # request number: started at
        self.queries = 0
        self.refusals: dict[str, int] = {}
        self.points = 0
        self.response_seconds = 0.0
        self.peak_in_flight = 0
        self._server: ThreadingHTTPServer | None = None

    # --- the limits -------------------------------------------------------------

    def _admit(self, number: int, now: float) -> str | None:
        """None, or why GitHub would refuse a query arriving now."""
        with self.lock:
            while self.finished and self.finished[0][0] <= now - self.window:
                self.finished.popleft()
            while self.starts and self.starts[0] <= now - self.window:
                self.starts.popleft()
            used = sum(seconds for _, seconds in self.finished)
            used += sum(now - started for started in self.in_flight.values())
            refusal = None
            if len(self.in_flight) >= self.max_in_flight:
                refusal = "concurrency"
            elif len(self.starts) >= self.points_per_window:
                refusal = "points per minute"
            elif used >= self.cpu_seconds:
                refusal = "CPU time"
            if refusal is not None:
                self.refusals[refusal] = self.refusals.get(refusal, 0) + 1
                return refusal
            self.in_flight[number] = now
            self.starts.append(now)
            self.peak_in_flight = max(self.peak_in_flight, len(self.in_flight))
            return None

    def _done(self, number: int) -> None:
        now = time.monotonic()
        with self.lock:
            started = self.in_flight.pop(number)
            self.finished.append((now, now - started))
            self.response_seconds += now - started

    def _answer(self, query: str, variables: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if "node(id:" in query:
            fake = self.by_node[str(variables.get("id", variables.get("id0")))]
        elif isinstance(variables.get("ids"), list) and variables["ids"]:
            # The commits of a page's pull requests (`nodes(ids:)`): one repository's.
            fake = self.by_node[str(variables["ids"][0])]
        else:
            fake = self.repositories[f"{variables.get('owner')}/{variables.get('name')}"]
        with self.lock:
            answer = fake.answer(query, variables)
            rate_limit = answer["data"]["rateLimit"]
            cost = int(rate_limit["cost"])
            if self.remaining < cost:
                self.refusals["hourly points"] = self.refusals.get("hourly points", 0) + 1
                return 200, {
                    "data": None,
                    "errors": [
                        {
                            "type": "RATE_LIMITED",
                            "message": "API rate limit already exceeded for installation.",
                        }
                    ],
                }
            self.remaining -= cost
            self.points += cost
            rate_limit["remaining"] = self.remaining
            rate_limit["resetAt"] = self.reset_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        return 200, answer

    # --- the server -------------------------------------------------------------

    def start(self) -> str:
        server = self
        counter = iter(range(1, 1 << 62))
        counter_lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                # Not GitHub's: what the benchmark reads at the end.
                if self.path != "/_figures":
                    self._send(404, {"message": "Not Found"}, {})
                    return
                figures = server.figures()
                self._send(200, {name: getattr(figures, name) for name in figures.__slots__}, {})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if re.fullmatch(r"/app/installations/\d+/access_tokens", self.path):
                    expires = (datetime.now(UTC) + timedelta(hours=1)).strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    )
                    token = {"token": "ghs_org", "expires_at": expires}
                    self._send(201, token, {})
                    return
                request = json.loads(body)
                with counter_lock:
                    number = next(counter)
                refusal = server._admit(number, time.monotonic())
                if refusal is not None:
                    retry = str(max(1, round(server.window)))
                    self._send(
                        403,
                        {
                            "message": SECONDARY_MESSAGE,
                            "documentation_url": "https://docs.github.com/graphql/overview/"
                            "rate-limits-and-query-limits-for-the-graphql-api#secondary-rate-limits",
                        },
                        {"retry-after": retry},
                    )
                    return
                try:
                    time.sleep(server.page_seconds)  # GitHub working on the query
                    variables = request.get("variables") or {}
                    status, answer = server._answer(request["query"], variables)
                finally:
                    server._done(number)
                with server.lock:
                    server.queries += 1
                headers = {}
                if answer.get("errors"):
                    headers = {
                        "x-ratelimit-remaining": "0",
                        "x-ratelimit-reset": str(int(server.reset_at.timestamp())),
                    }
                self._send(status, answer, headers)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # shutdown() waits for the loop's next poll: 0.5 s by default.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def figures(self) -> ServerFigures:
        with self.lock:
            return ServerFigures(
                queries=self.queries,
                refusals=sum(self.refusals.values()),
                refusals_by_kind=dict(self.refusals),
                points=self.points,
                response_seconds=self.response_seconds,
                max_in_flight=self.peak_in_flight,
            )


def organisation(
    *,
    prs: int,
    repos: int,
    years: float = 2.0,
    reviews_per_pr: int = 3,
    crowded_every: int = 250,
    now: datetime | None = None,
) -> list[FakeGraphQL]:
    """`repos` repositories sharing `prs` pull requests updated over `years`,
    each with `reviews_per_pr` reviews, a label and a ready-for-review event;
    every `crowded_every`-th pull request has 120 reviews (more than a page
    holds: one more query for it)."""
    from tests.payloads.graphql import actor, pr_node, review_node

    now = now or datetime.now(UTC)
    span = timedelta(days=365 * years)
    fakes = [
        FakeGraphQL(repository_id=9_000_000 + r, full_name=f"org/repo-{r:03}", remaining=10**9)
        for r in range(repos)
    ]
    for number in range(1, prs + 1):
        created = now - span + span * (number / (prs + 1))
        updated = created + timedelta(hours=6)
        count = 120 if crowded_every and number % crowded_every == 0 else reviews_per_pr
        fake = fakes[number % repos]
        fake.add(
            pr_node(
                number=number,
                pr_id=50_000_000 + number,
                state="MERGED",
                created_at=_iso(created),
                updated_at=_iso(updated),
                merged_at=_iso(updated),
                closed_at=_iso(updated),
                labels=["backend"],
                author=actor(f"author{number % 40}", 6_000_000 + number % 40),
                ready_for_review_at=_iso(created + timedelta(minutes=20)),
                reviews=[
                    review_node(
                        (50_000_000 + number) * 200 + i,
                        state="APPROVED" if i == 0 else "COMMENTED",
                        submitted_at=_iso(created + timedelta(minutes=30 + i)),
                        author=actor(f"reviewer{(number + i) % 30}", 7_000_000 + (number + i) % 30),
                    )
                    for i in range(count)
                ],
                full_name=fake.full_name,
            )
        )
    return fakes


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
