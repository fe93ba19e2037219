"""The delivery log's answers, read defensively (github_app/hook_deliveries.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
import respx

from github_app.client import anonymous_client
from github_app.errors import GitHubError
from github_app.hook_deliveries import (
    LoggedDelivery,
    MalformedDelivery,
    fetch_delivery,
    list_delivery_page,
    next_cursor,
)

API = "https://api.github.com"


def _logged(**fields) -> LoggedDelivery:
    values = {
        "id": 12,
        "guid": "0b989ba4-242f-11e5-81e1-c7b6966d2516",
        "delivered_at": datetime(2026, 12, 1, tzinfo=UTC),
        "redelivery": False,
        "status": "failed to connect",
        "status_code": 502,
        "event": "issues",
        "action": "opened",
        "installation_id": 42,
        "repository_id": 7,
        **fields,
    }
    return LoggedDelivery(**values)


def test_it_reads_the_cursor_of_the_next_link():
    url = f"{API}/app/hook/deliveries?per_page=100&cursor=v1_12077215967"
    assert next_cursor(url) == "v1_12077215967"
    assert next_cursor(f"{API}/app/hook/deliveries?per_page=100") is None
    assert next_cursor(None) is None


def test_it_reads_a_page_and_counts_items_not_of_githubs_shape():
    item = {
        "id": 12,
        "guid": "0b989ba4-242f-11e5-81e1-c7b6966d2516",
        "delivered_at": "2019-06-03T00:57:16Z",
        "redelivery": False,
        "duration": 0.27,
        "status": "OK",
        "status_code": 200,
        "event": "issues",
        "action": "opened",
        "installation_id": 123,
        "repository_id": 456,
        "throttled_at": "2019-06-03T00:57:16Z",
    }
    odd = [
        {**item, "id": -1},
        {**item, "id": 2**63},
        {**item, "guid": "x" * 101},
        {**item, "event": ""},
        {**item, "delivered_at": "2019-06-03T00:57:16"},  # no time zone
        {**item, "installation_id": "123"},  # kept, without the id
        [],
    ]
    with respx.mock() as github:
        github.get(f"{API}/app/hook/deliveries").respond(200, json=[item, *odd])
        page = list_delivery_page(anonymous_client(api_url=API))
    assert page.malformed == 6 and page.next_cursor is None
    first, kept = page.deliveries
    assert (first.id, first.installation_id, first.repository_id) == (12, 123, 456)
    assert first.delivered_at == datetime(2019, 6, 3, 0, 57, 16, tzinfo=UTC)
    assert kept.installation_id is None


def test_a_page_that_is_not_a_list_is_an_error():
    with respx.mock() as github:
        github.get(f"{API}/app/hook/deliveries").respond(200, json={"message": "?"})
        with pytest.raises(GitHubError, match="not a list"):
            list_delivery_page(anonymous_client(api_url=API))


def _copy(headers, payload=None):
    return {
        "id": 12,
        "guid": "0b989ba4-242f-11e5-81e1-c7b6966d2516",
        "event": "issues",
        "request": {"headers": headers, "payload": payload or {"action": "opened"}},
        "response": {"headers": {}, "payload": "ok"},
    }


def test_it_reads_the_hook_headers_whatever_their_case_and_refuses_odd_numbers():
    headers = {
        "x-github-event": "issues",
        "X-GitHub-Hook-ID": "\u0664\u0662",  # Arabic-Indic digits: no id
        "X-GITHUB-HOOK-INSTALLATION-TARGET-ID": "79929171",
        "X-GitHub-Hook-Installation-Target-Type": "integration",
    }
    with respx.mock() as github:
        github.get(f"{API}/app/hook/deliveries/12").respond(200, json=_copy(headers))
        fetched = fetch_delivery(anonymous_client(api_url=API), logged=_logged())
    assert fetched.headers.delivery_id == "0b989ba4-242f-11e5-81e1-c7b6966d2516"
    assert fetched.headers.event == "issues"
    assert fetched.headers.hook_id is None
    assert fetched.headers.target_id == 79929171
    assert fetched.headers.target_type == "integration"
    assert fetched.payload == {"action": "opened"}


@pytest.mark.parametrize(
    "answer",
    [
        {"id": 12},
        {"id": 12, "request": {"headers": {}, "payload": None}},
        {"id": 12, "request": {"headers": {}, "payload": [1]}},
        {**_copy({}), "guid": "another-event"},
        _copy({"X-GitHub-Event": "push"}),
        "not json",
    ],
)
def test_a_copy_not_of_githubs_shape_is_malformed(answer):
    with respx.mock() as github:
        route = github.get(f"{API}/app/hook/deliveries/12")
        if answer == "not json":
            route.mock(return_value=httpx.Response(200, content=b"<html>"))
        else:
            route.respond(200, json=answer)
        with pytest.raises(MalformedDelivery):
            fetch_delivery(anonymous_client(api_url=API), logged=_logged())
