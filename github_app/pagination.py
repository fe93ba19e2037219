"""Reading every page of a GitHub list endpoint, as plain dicts.

Items are read as dicts rather than githubkit's models: payloads differ across
time and GitHub Enterprise Server versions, and the strict models reject some."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from githubkit import GitHub

from github_app.errors import GitHubError

PER_PAGE = 100
# A runaway Link chain (a broken proxy, a fake) must not loop for ever:
# 1,000 pages of 100 is far beyond any installation's repositories.
MAX_PAGES = 1000


def iter_pages(
    client: GitHub[Any],
    path: str,
    *,
    items_key: str | None = None,
    params: Mapping[str, str | int] | None = None,
) -> Iterator[dict[str, Any]]:
    """Every item of ``GET path``, following GitHub's ``Link: rel="next"``.

    ``items_key`` names the list inside an object answer (``repositories`` for
    ``GET /installation/repositories``); None means the answer is the list."""
    url: str | None = path
    query: dict[str, str | int] | None = {"per_page": PER_PAGE, **(params or {})}
    for _ in range(MAX_PAGES):
        if url is None:
            return
        response = client.request("GET", url, params=query)
        body = response.json()
        items = body.get(items_key) if items_key and isinstance(body, dict) else body
        if not isinstance(items, list):
            raise GitHubError(f"GitHub's answer to GET {path} was not a list")
        yield from (item for item in items if isinstance(item, dict))
        next_link = response.raw_response.links.get("next", {}).get("url")
        # The next link carries its own query string (page, per_page).
        url, query = (str(next_link), None) if next_link else (None, None)
    raise GitHubError(f"GET {path} had more than {MAX_PAGES} pages")


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of a list endpoint: its items, and GitHub's ``Link: rel="next"``
    (None on the last page), which a caller may store to read on from there."""

    items: list[dict[str, Any]]
    next_url: str | None
    # GitHub's ``total_count`` where the answer is an object that has one.
    total_count: int | None = None


def read_page(
    client: GitHub[Any],
    path: str,
    *,
    next_url: str = "",
    items_key: str | None = None,
    params: Mapping[str, str | int] | None = None,
) -> ListPage:
    """One page of ``GET path``: the first (``next_url`` empty, with ``params``),
    or the one a previous page's ``next_url`` named (its query string is its own)."""
    if next_url:
        response = client.request("GET", next_url)
    else:
        response = client.request("GET", path, params={"per_page": PER_PAGE, **(params or {})})
    body = response.json()
    items = body.get(items_key) if items_key and isinstance(body, dict) else body
    if not isinstance(items, list):
        raise GitHubError(f"GitHub's answer to GET {path} was not a list")
    following = response.raw_response.links.get("next", {}).get("url")
    total = body.get("total_count") if isinstance(body, dict) else None
    return ListPage(
        items=[item for item in items if isinstance(item, dict)],
        next_url=str(following) if following else None,
        total_count=total if type(total) is int else None,
    )
