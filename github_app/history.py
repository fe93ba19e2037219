"""A repository's past pull requests and reviews, from GitHub's GraphQL API.

Two parts, both free of Django:

- reading: ``pull_request_page`` asks for one page of pull requests (most
  recently updated first), each with its labels and the first items of one
  timeline connection holding both its reviews and its ready-for-review events;
  ``timeline_page`` and ``label_page`` read more of those for one pull request,
  only where the page did not hold them all. Two nested connections under a page
  of 100 is what GitHub prices at 2 points (``page_cost``); each answer carries
  GitHub's ``rateLimit`` figures and how long GitHub took (``seconds``);
- the adapter: ``pull_request_events`` turns one GraphQL pull request node into
  the webhook-shaped events (``pull_request``, ``pull_request_review``) the
  metrics' processors read, so history and webhooks go through the same rules;
  ``adapter_node`` gives it the node in the shape it reads.

Errors: ``RateLimited`` (``github_app.errors``; ``secondary`` says which kind)
for a limit, ``PageTooLarge`` for a partial answer or a timeout (ask again for
fewer), ``HistoryError`` for an answer that cannot be used.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from githubkit import GitHub

from github_app.errors import Forbidden, GitHubError, RateLimited, Unavailable
from github_app.values import github_id, id_from_text, timestamp_or_none

# GitHub's own ghost user: what webhooks show for an account that was deleted.
GHOST_USER: dict[str, Any] = {"id": 10137, "login": "ghost", "type": "User"}
MAX_PAGE_SIZE = 100
MIN_PAGE_SIZE = 5
# Timeline items (reviews and ready-for-review events) and labels a page holds
# per pull request; more are read only for the pull requests that have more.
# A nested connection costs GitHub's points by how many parents it has, not by
# its own size, so these do not change a page's price.
ITEMS_PER_PULL_REQUEST = 100
LABELS_PER_PULL_REQUEST = 100
# Nested connections under each pull request of a page: labels, timeline.
NESTED_CONNECTIONS = 2
# GitHub documents waiting at least a minute after a secondary limit that names
# no retry-after.
SECONDARY_LIMIT_WAIT = timedelta(seconds=60)
# GitHub's errors say these when a limit is reached (GraphQL answers 200 for them).
_RATE_LIMIT_TYPES = frozenset({"RATE_LIMITED", "RATE_LIMIT"})

# Every kind of GitHub's Actor interface: a kind not asked for here would come
# back with no id and be taken for a deleted account. An EnterpriseUserAccount
# has no databaseId of its own: its person is its `user` (an object, not a
# connection, so it costs no points).
_AUTHOR = """
      author { __typename login
        ... on User { databaseId }
        ... on Bot { databaseId }
        ... on Mannequin { databaseId }
        ... on Organization { databaseId }
        ... on EnterpriseUserAccount { user { databaseId login } } }"""

_REVIEW_FIELDS = f"""
        fullDatabaseId databaseId state submittedAt{_AUTHOR}"""

_TIMELINE = f"""
          pageInfo {{ hasNextPage endCursor }}
          nodes {{ __typename
            ... on ReadyForReviewEvent {{ createdAt }}
            ... on PullRequestReview {{{_REVIEW_FIELDS} }} }}"""

# One connection for reviews and ready-for-review events: a third nested
# connection would cost a third point per page of 100.
_ITEM_TYPES = "[READY_FOR_REVIEW_EVENT, PULL_REQUEST_REVIEW]"

PULL_REQUESTS_QUERY = f"""
query History($owner: String!, $name: String!, $first: Int!, $after: String, $items: Int!,
              $labels: Int!) {{
  rateLimit {{ cost remaining resetAt }}
  repository(owner: $owner, name: $name) {{
    databaseId nameWithOwner
    pullRequests(first: $first, after: $after,
                 orderBy: {{field: UPDATED_AT, direction: DESC}}) {{
      totalCount
      pageInfo {{ hasNextPage endCursor }}
      nodes {{
        id fullDatabaseId number title body state merged mergedAt createdAt updatedAt
        closedAt isDraft additions deletions headRefName baseRefName url mergeCommit{{oid}}
        {_AUTHOR}
        labels(first: $labels) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ name }} }}
        timelineItems(itemTypes: {_ITEM_TYPES}, first: $items) {{{_TIMELINE}
        }}
      }}
    }}
  }}
}}
"""

TIMELINE_QUERY = f"""
query HistoryTimeline($id: ID!, $first: Int!, $after: String) {{
  rateLimit {{ cost remaining resetAt }}
  node(id: $id) {{
    ... on PullRequest {{
      timelineItems(itemTypes: {_ITEM_TYPES}, first: $first, after: $after) {{{_TIMELINE}
      }}
    }}
  }}
}}
"""

LABELS_QUERY = """
query HistoryLabels($id: ID!, $first: Int!, $after: String) {
  rateLimit { cost remaining resetAt }
  node(id: $id) {
    ... on PullRequest {
      labels(first: $first, after: $after) { pageInfo { hasNextPage endCursor } nodes { name } }
    }
  }
}
"""


# More items of this many pull requests at most in one query (aliases of
# ``node(id:)``): one request each for GitHub's price, 1 point up to 149.
MORE_PER_QUERY = 50


def _more_selection(field: str, i: int) -> str:
    if field == "timelineItems":
        return (
            f"timelineItems(itemTypes: {_ITEM_TYPES}, first: $first, after: $after{i}) "
            f"{{{_TIMELINE} }}"
        )
    return (
        f"labels(first: $first, after: $after{i}) "
        "{ pageInfo { hasNextPage endCursor } nodes { name } }"
    )


def more_query(fields: list[str]) -> str:
    """The query for more items of several pull requests at once: ``m0``,
    ``m1``… aliases of ``node(id: $id0)``…, each asking ``fields[i]`` after
    ``$after0``…"""
    params = ", ".join(f"$id{i}: ID!, $after{i}: String" for i in range(len(fields)))
    parts = [
        f"  m{i}: node(id: $id{i}) {{ ... on PullRequest {{ " + _more_selection(field, i) + " } }"
        for i, field in enumerate(fields)
    ]
    body = "\n".join(parts)
    return (
        f"query HistoryMore($first: Int!, {params}) {{\n"
        f"  rateLimit {{ cost remaining resetAt }}\n{body}\n}}\n"
    )


def more_cost(count: int) -> int:
    """GitHub's points for more items of ``count`` pull requests in one query."""
    return max(1, math.floor(count / 100 + 0.5))


def page_cost(first: int, *, nested: int = NESTED_CONNECTIONS) -> int:
    """GitHub's points for a page of ``first`` pull requests with ``nested``
    connections under each: one request for the page and one per pull request
    for each nested connection, divided by 100 and rounded, at least 1 (GitHub's
    "calculating a rate limit score"). 100 pull requests: 201 requests, 2 points."""
    requests = 1 + nested * max(first, 0)
    return max(1, math.floor(requests / 100 + 0.5))


class HistoryError(GitHubError):
    """GitHub's answer cannot be used (no such repository, a malformed answer)."""


class PageTooLarge(GitHubError):
    """A partial answer (``errors`` beside ``data``) or a timeout: GitHub could
    not serve that much at once; ask again for a smaller page."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """GitHub's figures for the query: points it cost, points left, when they return."""

    cost: int
    remaining: int
    reset_at: datetime | None


@dataclass(frozen=True, slots=True)
class PullRequestPage:
    repository_id: int | None
    total_count: int
    nodes: list[dict[str, Any]]
    has_next_page: bool
    end_cursor: str | None
    rate_limit: RateLimit
    # How long GitHub took to answer: what its CPU-time limit counts.
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class ConnectionPage:
    """More of one nested connection (timeline items, labels) of one pull request."""

    nodes: list[dict[str, Any]]
    has_next_page: bool
    end_cursor: str | None
    rate_limit: RateLimit
    seconds: float = 0.0


def graphql_endpoint(api_url: str) -> str:
    """Where GraphQL lives for a REST base URL: ``/graphql`` beside GitHub.com's
    API, ``/api/graphql`` for GitHub Enterprise Server's ``/api/v3``."""
    base = api_url.rstrip("/")
    enterprise, replaced = re.subn(r"/api/v3$", "/api/graphql", base)
    return enterprise if replaced else f"{base}/graphql"


def pull_request_page(
    github: GitHub[Any],
    *,
    endpoint: str,
    full_name: str,
    first: int,
    after: str | None,
) -> PullRequestPage:
    """One page of the repository's pull requests, most recently updated first."""
    owner, _, name = full_name.partition("/")
    data, seconds = _query(
        github,
        endpoint,
        PULL_REQUESTS_QUERY,
        {
            "owner": owner,
            "name": name,
            "first": first,
            "after": after,
            "items": ITEMS_PER_PULL_REQUEST,
            "labels": LABELS_PER_PULL_REQUEST,
        },
    )
    repository = data.get("repository")
    if not isinstance(repository, Mapping):
        raise HistoryError(f"GitHub does not show {full_name} to this installation")
    connection = _mapping(repository.get("pullRequests"), "pullRequests")
    page_info = _mapping(connection.get("pageInfo"), "pageInfo")
    nodes = [node for node in _list(connection.get("nodes")) if isinstance(node, dict)]
    return PullRequestPage(
        repository_id=github_id(repository.get("databaseId")),
        total_count=_int_or_none(connection.get("totalCount")) or 0,
        nodes=nodes,
        has_next_page=page_info.get("hasNextPage") is True,
        end_cursor=_str_or_none(page_info.get("endCursor")),
        rate_limit=_rate_limit(data),
        seconds=seconds,
    )


def timeline_page(
    github: GitHub[Any], *, endpoint: str, node_id: str, after: str | None, first: int = 100
) -> ConnectionPage:
    """The next timeline items (reviews, ready-for-review events) of one pull
    request (by its GraphQL node id) after ``after``."""
    return _connection_page(
        github, endpoint, TIMELINE_QUERY, "timelineItems", node_id, after, first
    )


def label_page(
    github: GitHub[Any], *, endpoint: str, node_id: str, after: str | None, first: int = 100
) -> ConnectionPage:
    """The next labels of one pull request after ``after``."""
    return _connection_page(github, endpoint, LABELS_QUERY, "labels", node_id, after, first)


MoreField = Literal["timelineItems", "labels"]


@dataclass(frozen=True, slots=True)
class MoreWanted:
    """More of one pull request's nested connection ``field``, after ``after``."""

    node_id: str
    field: MoreField
    after: str


@dataclass(frozen=True, slots=True)
class MoreItems:
    """The answers to ``MoreWanted``s, in their order."""

    pages: list[ConnectionPage]
    rate_limit: RateLimit
    seconds: float = 0.0


def more_items(
    github: GitHub[Any], *, endpoint: str, wanted: list[MoreWanted], first: int = 100
) -> MoreItems:
    """More items of several pull requests in one query (at most
    ``MORE_PER_QUERY``): one point, one request, however many pull requests of a
    page have more than it held. One alone is asked as ``timeline_page`` or
    ``label_page`` would."""
    if not 0 < len(wanted) <= MORE_PER_QUERY:
        raise ValueError(f"ask for 1 to {MORE_PER_QUERY} pull requests at once")
    if len(wanted) == 1:
        one = wanted[0]
        read = timeline_page if one.field == "timelineItems" else label_page
        page = read(github, endpoint=endpoint, node_id=one.node_id, after=one.after, first=first)
        return MoreItems(pages=[page], rate_limit=page.rate_limit, seconds=page.seconds)
    variables: dict[str, Any] = {"first": first}
    for i, want in enumerate(wanted):
        variables[f"id{i}"], variables[f"after{i}"] = want.node_id, want.after
    data, seconds = _query(github, endpoint, more_query([w.field for w in wanted]), variables)
    rate_limit = _rate_limit(data)
    pages = []
    for i, want in enumerate(wanted):
        node = _mapping(data.get(f"m{i}"), "node")
        connection = _mapping(node.get(want.field), want.field)
        page_info = _mapping(connection.get("pageInfo"), "pageInfo")
        pages.append(
            ConnectionPage(
                nodes=[item for item in _list(connection.get("nodes")) if isinstance(item, dict)],
                has_next_page=page_info.get("hasNextPage") is True,
                end_cursor=_str_or_none(page_info.get("endCursor")),
                rate_limit=rate_limit,
            )
        )
    return MoreItems(pages=pages, rate_limit=rate_limit, seconds=seconds)


def _connection_page(
    github: GitHub[Any],
    endpoint: str,
    query: str,
    field: str,
    node_id: str,
    after: str | None,
    first: int,
) -> ConnectionPage:
    data, seconds = _query(github, endpoint, query, {"id": node_id, "first": first, "after": after})
    node = _mapping(data.get("node"), "node")
    connection = _mapping(node.get(field), field)
    page_info = _mapping(connection.get("pageInfo"), "pageInfo")
    return ConnectionPage(
        nodes=[item for item in _list(connection.get("nodes")) if isinstance(item, dict)],
        has_next_page=page_info.get("hasNextPage") is True,
        end_cursor=_str_or_none(page_info.get("endCursor")),
        rate_limit=_rate_limit(data),
        seconds=seconds,
    )


def _query(
    github: GitHub[Any], endpoint: str, query: str, variables: Mapping[str, Any]
) -> tuple[Mapping[str, Any], float]:
    """POST the query; the ``data`` of a whole answer and the seconds GitHub took.
    The raw answer is read (not githubkit's ``graphql()``, which drops ``data``
    when there are ``errors``) to tell a partial answer and a limit apart."""
    started = time.monotonic()
    try:
        response = github.request(
            "POST", endpoint, json={"query": query, "variables": dict(variables)}
        )
    except RateLimited:
        raise
    except Forbidden as exc:
        # A secondary limit without retry-after or a spent budget is a plain 403.
        if "secondary rate limit" in str(exc).lower():
            raise RateLimited(
                "GitHub's secondary rate limit was reached",
                reset_at=datetime.now(UTC) + SECONDARY_LIMIT_WAIT,
                status_code=exc.status_code,
                secondary=True,
            ) from None
        raise
    except Unavailable as exc:
        # GitHub answers 502 or 504 (or nothing in time) when a query is too heavy.
        raise PageTooLarge(str(exc), status_code=exc.status_code) from None
    try:
        body = response.json()
    except ValueError:
        raise HistoryError("GitHub's GraphQL answer is not JSON") from None
    if not isinstance(body, Mapping):
        raise HistoryError("GitHub's GraphQL answer is not an object")
    errors = [error for error in _list(body.get("errors")) if isinstance(error, Mapping)]
    data = body.get("data")
    if errors:
        _raise_for_limit(errors, response.headers, data)
        types = {error.get("type") for error in errors}
        if isinstance(data, Mapping) and data and types == {"NOT_FOUND"}:
            # GitHub's null for what it does not show (a repository, a pull
            # request deleted since its page was read): the callers read the
            # null and say so, or skip it. Asked again smaller, it stayed null.
            return data, time.monotonic() - started
        if "FORBIDDEN" in types:
            # The same at every size and every try (an installation without a
            # permission the query needs): a page asked again smaller failed
            # the run after eight minutes, as "answered in part".
            raise HistoryError(
                f"GitHub refused part of the query to this installation: {_error_text(errors)}"
            )
        if isinstance(data, Mapping) and data:
            raise PageTooLarge(f"GitHub answered in part: {_error_text(errors)}")
        raise HistoryError(f"GitHub refused the query: {_error_text(errors)}")
    if not isinstance(data, Mapping):
        raise HistoryError("GitHub's GraphQL answer has no data")
    return data, time.monotonic() - started


def _raise_for_limit(
    errors: list[Mapping[str, Any]], headers: Mapping[str, str], data: object
) -> None:
    # GitHub documents the secondary limit's answer as "200 or 403" with a
    # message saying so, and no error type for it: the message is read too.
    limited = [
        e
        for e in errors
        if e.get("type") in _RATE_LIMIT_TYPES
        or "secondary rate limit" in str(e.get("message", "")).lower()
    ]
    if not limited:
        return
    secondary = any("secondary" in str(e.get("message", "")).lower() for e in limited)
    retry_after = headers.get("retry-after", "")
    now = datetime.now(UTC)
    if retry_after.isdigit():
        reset_at = now + timedelta(seconds=int(retry_after))
        secondary = True
    elif secondary:
        reset_at = now + SECONDARY_LIMIT_WAIT
    else:
        reset = headers.get("x-ratelimit-reset", "")
        known = (
            _rate_limit(data).reset_at
            if isinstance(data, Mapping) and data.get("rateLimit")
            else None
        )
        reset_at = known or (
            datetime.fromtimestamp(int(reset), tz=UTC)
            if reset.isdigit()
            else now + SECONDARY_LIMIT_WAIT
        )
    raise RateLimited(
        f"GitHub's {'secondary ' if secondary else ''}rate limit was reached",
        reset_at=reset_at,
        status_code=200,
        secondary=secondary,
    )


def _error_text(errors: list[Mapping[str, Any]]) -> str:
    messages = [str(error.get("message", "error"))[:200] for error in errors[:3]]
    return "; ".join(messages)


def _rate_limit(data: Mapping[str, Any]) -> RateLimit:
    raw = data.get("rateLimit")
    if not isinstance(raw, Mapping):
        return RateLimit(cost=1, remaining=-1, reset_at=None)
    return RateLimit(
        cost=_int_or_none(raw.get("cost")) or 0,
        remaining=_int_or_none(raw.get("remaining")) or 0,
        reset_at=timestamp_or_none(raw.get("resetAt")),
    )


# --- the adapter: GraphQL shapes to webhook payloads -------------------------------


def user_block(author: object) -> dict[str, Any]:
    """The webhook ``user`` block of a GraphQL actor: a User, a Bot (whose login
    webhooks show with ``[bot]``), a Mannequin (an imported account), an
    Organization, an EnterpriseUserAccount (as its person's User), or GitHub's
    ghost user for a deleted account (null) or an actor with no id to key by."""
    if not isinstance(author, Mapping):
        return dict(GHOST_USER)
    kind = author.get("__typename")
    if kind == "EnterpriseUserAccount":
        # The person's User, by its id and login: what their webhooks carry, so
        # history and webhooks meet on one member. The account's own login may
        # be an email address, and it has no id of its own: without a user it
        # cannot be keyed (members are keyed by GitHub's ids, never names).
        user = author.get("user")
        if not isinstance(user, Mapping):
            return dict(GHOST_USER)
        return user_block({**user, "__typename": "User"})
    login = str(author.get("login") or "")
    user_id = github_id(author.get("databaseId"))
    if user_id is None:
        return dict(GHOST_USER)
    if kind == "Bot":
        return {"id": user_id, "login": f"{login}[bot]", "type": "Bot"}
    # Webhooks type these accounts so too; the metrics take any type but Bot as
    # a person (apps/metrics/services/payloads.py, read_user).
    if kind in ("Mannequin", "Organization"):
        return {"id": user_id, "login": login, "type": kind}
    return {"id": user_id, "login": login, "type": "User"}


def pull_request_block(node: Mapping[str, Any]) -> dict[str, Any]:
    """The webhook ``pull_request`` object of a GraphQL pull request node."""
    state = node.get("state")
    labels = _mapping_or_empty(node.get("labels")).get("nodes")
    return {
        "id": _database_id(node),
        "number": node.get("number"),
        "title": node.get("title"),
        "body": node.get("body"),
        "state": "open" if state == "OPEN" else "closed",
        "merged": node.get("merged") is True or state == "MERGED",
        "merged_at": node.get("mergedAt"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "closed_at": node.get("closedAt"),
        "draft": node.get("isDraft"),
        "additions": node.get("additions"),
        "deletions": node.get("deletions"),
        "labels": [
            {"name": label.get("name")}
            for label in _list(labels)
            if isinstance(label, Mapping) and isinstance(label.get("name"), str)
        ],
        "head": {"ref": node.get("headRefName")},
        "base": {"ref": node.get("baseRefName")},
        "html_url": node.get("url"),
        "user": user_block(node.get("author")),
        # The commit the merge made (what deployments are matched by).
        "merge_commit_sha": _mapping_or_empty(node.get("mergeCommit")).get("oid"),
    }


def ready_for_review_at(node: Mapping[str, Any]) -> str | None:
    """When the pull request was last made ready for review (its timeline), if ever."""
    items = _list(_mapping_or_empty(node.get("timelineItems")).get("nodes"))
    times = [item.get("createdAt") for item in items if isinstance(item, Mapping)]
    found = [moment for moment in times if isinstance(moment, str)]
    return found[-1] if found else None


def review_payload(
    review: Mapping[str, Any], pull_request: Mapping[str, Any], repository: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The ``pull_request_review`` payload of a GraphQL review node, or None for a
    pending review (webhooks never show another's pending review)."""
    state = str(review.get("state") or "").lower()
    if state == "pending" or not state:
        return None
    return {
        "action": "dismissed" if state == "dismissed" else "submitted",
        "review": {
            "id": _database_id(review),
            "state": state,
            "submitted_at": review.get("submittedAt"),
            "user": user_block(review.get("author")),
        },
        "pull_request": pull_request,
        "repository": dict(repository),
    }


def pull_request_events(
    node: Mapping[str, Any],
    *,
    reviews: list[dict[str, Any]],
    repository: Mapping[str, Any],
) -> list[tuple[str, dict[str, Any]]]:
    """The webhook-shaped events (name, payload) of one pull request node: the
    pull request, when it was made ready for review, and each of ``reviews``
    (all of them, the first page's and any read since)."""
    pull_request = pull_request_block(node)
    repo = dict(repository)
    events: list[tuple[str, dict[str, Any]]] = [
        ("pull_request", {"action": "history", "pull_request": pull_request, "repository": repo})
    ]
    ready_at = ready_for_review_at(node)
    if ready_at is not None:
        snapshot = {
            "id": pull_request["id"],
            "number": pull_request["number"],
            "updated_at": ready_at,
        }
        events.append(
            (
                "pull_request",
                {"action": "ready_for_review", "pull_request": snapshot, "repository": repo},
            )
        )
    for review in reviews:
        payload = review_payload(review, pull_request, repo)
        if payload is not None:
            events.append(("pull_request_review", payload))
    return events


def first_items(node: Mapping[str, Any], field: str) -> tuple[list[dict[str, Any]], str | None]:
    """A page node's first items of its nested connection ``field``
    (``timelineItems``, ``labels``), and the cursor of the next (None: no more)."""
    connection = _mapping_or_empty(node.get(field))
    page_info = _mapping_or_empty(connection.get("pageInfo"))
    nodes = [item for item in _list(connection.get("nodes")) if isinstance(item, dict)]
    more = page_info.get("hasNextPage") is True
    return nodes, (_str_or_none(page_info.get("endCursor")) if more else None)


def adapter_node(
    node: Mapping[str, Any], *, items: list[dict[str, Any]], labels: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A page's pull request node with all its timeline ``items`` and ``labels``,
    in the shape ``pull_request_events`` reads (labels, its last ready-for-review
    event), and its reviews in timeline order."""
    reviews = [item for item in items if item.get("__typename") == "PullRequestReview"]
    ready = [item for item in items if item.get("__typename") == "ReadyForReviewEvent"]
    shaped = {key: value for key, value in node.items() if key not in ("timelineItems", "labels")}
    shaped["labels"] = {"nodes": labels}
    shaped["timelineItems"] = {"nodes": ready[-1:]}
    return shaped, reviews


def _database_id(node: Mapping[str, Any]) -> int | None:
    # fullDatabaseId is a BigInt, sent as a string; databaseId an Int (older servers).
    full = node.get("fullDatabaseId")
    if isinstance(full, str) and (found := id_from_text(full)) is not None:
        return found
    return github_id(node.get("databaseId"))


def _int_or_none(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _mapping_or_empty(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _mapping(value: object, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise HistoryError(f"GitHub's GraphQL answer has no {name}")
    return value
