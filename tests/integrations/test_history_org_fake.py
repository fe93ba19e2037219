"""The pacer against a fake of GitHub's GraphQL API that is slow and refuses
as GitHub does (tests/payloads/graphql_server.py, real HTTP on 127.0.0.1): an
organisation read by several workers at once is never refused, and costs at
most 2 points per 100 pull requests. GitHub's minute is shrunk to 2 s and its
pages to 0.08 s so that the budget binds within a few seconds; what is asserted
is counted, not timed."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from apps.integrations.services.history_pacer import MemoryStore, Pacer, PacerLimits
from github_app.client import AppCredentials, installation_client
from github_app.errors import RateLimited
from github_app.history import (
    first_items,
    graphql_endpoint,
    pull_request_page,
    timeline_page,
)
from tests.github_app.keys import private_key_pem
from tests.payloads.graphql_server import LimitedGraphQLServer, organisation

INSTALLATION_ID = 77
WINDOW = 2.0
PAGE_SECONDS = 0.08


def read_organisation(
    url: str, repositories: list[str], *, workers: int, pacer: Pacer | None
) -> dict[str, Any]:
    """Every repository's pull requests and their more items, by `workers`
    threads, each request through `pacer` (or none); what was read and refused."""
    github = installation_client(
        credentials=AppCredentials(app_id="1", private_key=private_key_pem()),
        installation_id=INSTALLATION_ID,
        api_url=url,
    )
    endpoint = graphql_endpoint(url)
    todo: queue.Queue[str] = queue.Queue()
    for name in repositories:
        todo.put(name)
    read = {"pull_requests": 0, "reviews": 0, "refused": 0}
    lock = threading.Lock()

    def request(call: Any) -> Any:
        if pacer is None:
            return call()
        return pacer.call(INSTALLATION_ID, call, max_wait=60)

    def work() -> None:
        while True:
            try:
                name = todo.get_nowait()
            except queue.Empty:
                return
            after = None
            while True:
                try:
                    page = request(
                        lambda name=name, after=after: pull_request_page(
                            github, endpoint=endpoint, full_name=name, first=100, after=after
                        )
                    )
                except RateLimited:
                    with lock:
                        read["refused"] += 1
                    if pacer is None:
                        return
                    continue
                reviews = 0
                for node in page.nodes:
                    items, more = first_items(node, "timelineItems")
                    while more is not None:
                        answer = request(
                            lambda node=node, more=more: timeline_page(
                                github, endpoint=endpoint, node_id=node["id"], after=more
                            )
                        )
                        items.extend(answer.nodes)
                        more = answer.end_cursor if answer.has_next_page else None
                    reviews += sum(i["__typename"] == "PullRequestReview" for i in items)
                with lock:
                    read["pull_requests"] += len(page.nodes)
                    read["reviews"] += reviews
                if not page.has_next_page:
                    break
                after = page.end_cursor

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return read


@contextmanager
def served(page_seconds: float) -> Iterator[tuple[LimitedGraphQLServer, str, list[str]]]:
    # No pull request with more than a page's 100 reviews: each would add a query
    # (and a point) of its own; tests/integrations/test_history_cost.py has those.
    fakes = organisation(prs=3000, repos=6, reviews_per_pr=2, crowded_every=0)
    server = LimitedGraphQLServer(
        fakes, page_seconds=page_seconds, window=WINDOW, cpu_seconds=WINDOW
    )
    url = server.start()
    try:
        yield server, url, [fake.full_name for fake in fakes]
    finally:
        server.stop()


@pytest.fixture
def org():
    with served(PAGE_SECONDS) as found:
        yield found


def test_the_fake_refuses_workers_that_go_past_the_cpu_time_budget():
    # Pages slow enough that four workers' time at GitHub overlaps whatever the
    # machine's load: 4 s of response time a second against 1 s allowed.
    with served(0.25) as (server, url, names):
        read = read_organisation(url, names, workers=4, pacer=None)

        assert read["refused"] > 0
        assert server.figures().refusals_by_kind.get("CPU time", 0) > 0


def test_paced_workers_read_an_organisation_without_a_refusal_at_2_points_per_100(org):
    server, url, names = org
    # GitHub's limits, the minute shrunk as the fake's is.
    pacer = Pacer(store=MemoryStore(), limits=PacerLimits(window=WINDOW, cpu_seconds=WINDOW))

    read = read_organisation(url, names, workers=4, pacer=pacer)

    figures = server.figures()
    assert (read["pull_requests"], read["reviews"], figures.queries) == (3000, 6000, 30)
    assert (figures.refusals, read["refused"]) == (0, 0)
    assert figures.points * 100 / read["pull_requests"] <= 2
    # More response time than one window holds: the pacer had to hold requests back.
    assert figures.response_seconds > WINDOW
    assert figures.max_in_flight <= 2
