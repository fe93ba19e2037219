"""GitHub's GraphQL API for pull request history, faked: nodes shaped like
GitHub's, and a server of pages that answers the queries of github_app/history.py.

    github = FakeGraphQL(repository_id=100, full_name="acme/api")
    github.add(pr_node(number=1, updated_at="2025-01-02T10:00:00Z", reviews=[review_node(...)]))
    respx.post("https://api.github.com/graphql").mock(side_effect=github.respond)

`github.queue(response)` puts answers (rate limits, partial errors) before the
next ordinary ones. `github.requests` lists the variables of every query served.
Each answer's `rateLimit.cost` is GitHub's documented price of the query
(`github_app.history.page_cost` for a page, 1 for one pull request's more
items); `github.points` is their sum.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from github_app.history import more_cost, page_cost

GRAPHQL_URL = "https://api.github.com/graphql"


def actor(login: str, database_id: int | None, *, kind: str = "User") -> dict[str, Any] | None:
    """An author as GraphQL shows it: User, Bot (login without "[bot]"), Mannequin,
    Organization; None for a deleted account. The fake serves only the fields
    the query asks of the actor's type (`FakeGraphQL.answer`)."""
    if database_id is None:
        return None
    return {"__typename": kind, "login": login, "databaseId": database_id}


def enterprise_actor(
    login: str, *, user_id: int | None, user_login: str | None = None
) -> dict[str, Any]:
    """An EnterpriseUserAccount author: no databaseId of its own (its login may be
    an email address), and the person's User under `user` (null when GitHub
    shows none)."""
    user = None if user_id is None else {"databaseId": user_id, "login": user_login or login}
    return {"__typename": "EnterpriseUserAccount", "login": login, "user": user}


def review_node(
    review_id: int,
    *,
    state: str = "APPROVED",
    submitted_at: str = "2025-01-01T12:00:00Z",
    author: dict[str, Any] | str | None = "default",
) -> dict[str, Any]:
    """A review node; author=None is a deleted account."""
    return {
        "fullDatabaseId": str(review_id),
        "databaseId": review_id if review_id < 2**31 else None,
        "state": state,
        "submittedAt": submitted_at,
        "author": actor("octocat", 583231) if author == "default" else author,
    }


def pr_node(
    *,
    number: int,
    pr_id: int | None = None,
    title: str | None = None,
    body: str = "",
    state: str = "OPEN",
    created_at: str = "2025-01-01T10:00:00Z",
    updated_at: str = "2025-01-01T10:00:00Z",
    merged_at: str | None = None,
    closed_at: str | None = None,
    is_draft: bool = False,
    additions: int = 10,
    deletions: int = 2,
    labels: list[str] | None = None,
    head: str | None = None,
    base: str = "main",
    author: dict[str, Any] | str | None = "default",
    ready_for_review_at: str | None = None,
    reviews: list[dict[str, Any]] | None = None,
    full_name: str = "acme/api",
    merge_commit: str | None = "c4295bd74fb0f4fda03689c3df3f2803b658fd85",
    commits: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A pull request node as GitHub's GraphQL answers it; its reviews are kept
    whole under "_reviews" and its commits under "_commits", served a page at a
    time. A merged one's merge commit is webhook_payloads' (the webhooks' copy
    of the same pull request)."""
    pr_id = pr_id or 1_000_000 + number
    return {
        "id": f"PR_kwDO{pr_id}",
        "fullDatabaseId": str(pr_id),
        "number": number,
        "title": title if title is not None else f"Change {number}",
        "body": body,
        "state": state,
        "merged": state == "MERGED",
        "mergedAt": merged_at,
        "createdAt": created_at,
        "updatedAt": updated_at,
        "closedAt": closed_at,
        "isDraft": is_draft,
        "additions": additions,
        "deletions": deletions,
        "headRefName": head or f"feature-{number}",
        "baseRefName": base,
        "url": f"https://github.com/{full_name}/pull/{number}",
        "mergeCommit": {"oid": merge_commit} if state == "MERGED" and merge_commit else None,
        "author": actor("Codertocat", 21031067) if author == "default" else author,
        "labels": {"nodes": [{"name": name} for name in labels or []]},
        "timelineItems": {
            "nodes": [{"createdAt": ready_for_review_at}] if ready_for_review_at else []
        },
        "_reviews": reviews or [],
        "_commits": commits or [],
    }


def commit_node(
    sha: str,
    *,
    message: str = "A change",
    authored_at: str = "2025-01-01T09:00:00Z",
    committed_at: str | None = None,
    author: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A node of a pull request's `commits` connection (github_app/commits.py's fields)."""
    return {
        "commit": {
            "oid": sha,
            "message": message,
            "authoredDate": authored_at,
            "committedDate": committed_at or authored_at,
            "author": author
            if author is not None
            else commit_author("Codertocat", "octo@example.com", 21031067),
        }
    }


def commit_author(
    name: str, email: str, database_id: int | None = None, login: str | None = None
) -> dict[str, Any]:
    """A commit's author as GraphQL shows it: a GitHub account (user) when GitHub
    matched the email to one, else a name and an email only."""
    user = None if database_id is None else {"databaseId": database_id, "login": login or name}
    return {"email": email, "name": name, "user": user}


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode()


def _index(cursor: str | None) -> int:
    if not cursor:
        return 0
    return int(base64.b64decode(cursor).decode().rsplit(":", 1)[1])


def rate_limited_answer(reset_at: datetime) -> httpx.Response:
    """GitHub's answer when the GraphQL points are spent: 200 with an error."""
    return httpx.Response(
        200,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(reset_at.timestamp()))},
        json={
            "data": None,
            "errors": [
                {
                    "type": "RATE_LIMITED",
                    "message": "API rate limit already exceeded for installation ID 42.",
                }
            ],
        },
    )


def secondary_limit_answer(retry_after: int | None = 30) -> httpx.Response:
    headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
    return httpx.Response(
        403,
        headers=headers,
        json={
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes "
            "before you try again.",
            "documentation_url": "https://docs.github.com/graphql/overview/rate-limits-and-node-limits-for-the-graphql-api#secondary-rate-limits",
        },
    )


def partial_answer() -> httpx.Response:
    """`errors` beside `data`: GitHub could not resolve part of a heavy query."""
    return httpx.Response(
        200,
        json={
            "data": {"rateLimit": None, "repository": None},
            "errors": [
                {
                    "type": "SERVICE_UNAVAILABLE",
                    "path": ["repository", "pullRequests"],
                    "message": "Something went wrong while executing your query. This may be "
                    "the result of a timeout, or it could be a GitHub bug.",
                }
            ],
        },
    )


class FakeGraphQL:
    def __init__(
        self,
        *,
        repository_id: int = 100,
        full_name: str = "acme/api",
        remaining: int = 5000,
        reset_at: datetime | None = None,
    ) -> None:
        self.repository_id = repository_id
        self.full_name = full_name
        self.nodes: list[dict[str, Any]] = []
        self.remaining = remaining
        self.reset_at = reset_at or datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        self.queued: list[httpx.Response] = []
        self.requests: list[dict[str, Any]] = []
        self.points = 0

    def add(self, *nodes: dict[str, Any]) -> None:
        self.nodes.extend(nodes)

    def queue(self, *responses: httpx.Response) -> None:
        self.queued.extend(responses)

    def _rate_limit(self, cost: int = 1) -> dict[str, Any]:
        self.remaining -= cost
        self.points += cost
        return {
            "cost": cost,
            "remaining": self.remaining,
            "resetAt": self.reset_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def respond(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        variables = body.get("variables") or {}
        self.requests.append(variables)
        if self.queued:
            return self.queued.pop(0)
        return httpx.Response(200, json=self.answer(body["query"], variables))

    def answer(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """GitHub's answer to `query`; its actors (authors) carry only the fields
        the query selects for their type, as GitHub's do."""
        answer = self._answer(query, variables)
        selection = _actor_selection(query)
        return answer if selection is None else _with_actors_as_asked(answer, selection)

    def _answer(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        if "query HistoryMore" in query:
            return self._batch_answer(query, variables)
        if "node(id:" in query and "labels(" in query:
            return self._more_answer(variables, "labels")
        if "node(id:" in query:
            return self._more_answer(variables, "timelineItems")
        if "query PullRequestsCommits" in query:
            return self._commits_of_nodes(variables)
        if "query PullRequestCommits" in query:
            return self._commits_of_number(variables)
        if "pullRequests(" not in query:
            return {"data": {"rateLimit": self._rate_limit()}}
        ordered = sorted(self.nodes, key=lambda node: node["updatedAt"], reverse=True)
        start = _index(variables.get("after"))
        page = ordered[start : start + variables["first"]]
        end = start + len(page)
        return {
            "data": {
                "rateLimit": self._rate_limit(page_cost(variables["first"])),
                "repository": {
                    "databaseId": self.repository_id,
                    "nameWithOwner": self.full_name,
                    "pullRequests": {
                        "totalCount": len(ordered),
                        "pageInfo": {
                            "hasNextPage": end < len(ordered),
                            "endCursor": _cursor(end) if page else None,
                        },
                        "nodes": [
                            self.page_node(node, variables["items"], variables["labels"])
                            for node in page
                        ],
                    },
                },
            }
        }

    def served(self, node: dict[str, Any], first: int, after: str | None) -> dict[str, Any]:
        """The node as the adapter reads it: its labels, last ready-for-review
        event and its first `first` reviews after `after`."""
        served = {key: value for key, value in node.items() if key not in ("_reviews", "_commits")}
        served["reviews"] = _connection(node["_reviews"], first, after)
        return served

    def page_node(self, node: dict[str, Any], items: int, labels: int) -> dict[str, Any]:
        """The node as a page of `github_app.history`'s query shows it: its first
        labels and timeline items (reviews and ready-for-review events in time order)."""
        served = {key: value for key, value in node.items() if key not in ("_reviews", "_commits")}
        served["labels"] = _connection(node["labels"]["nodes"], labels, None)
        served["timelineItems"] = _connection(_timeline(node), items, None)
        return served

    def _commit_connection(self, node: dict[str, Any], after: str | None) -> dict[str, Any]:
        commits = node.get("_commits", [])
        start = _index(after)
        page = commits[start : start + 100]
        end = start + len(page)
        return {
            "pageInfo": {"hasNextPage": end < len(commits), "endCursor": _cursor(end)},
            "nodes": page,
        }

    def _commits_of_nodes(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        by_id = {node["id"]: node for node in self.nodes}
        nodes = [
            {
                "id": i,
                "number": by_id[i]["number"],
                "commits": self._commit_connection(by_id[i], None),
            }
            if i in by_id
            else None
            for i in variables["ids"]
        ]
        # One connection per pull request (its commits), priced as GitHub prices
        # a page's nested connections.
        cost = page_cost(len(variables["ids"]), nested=1)
        return {"data": {"rateLimit": self._rate_limit(cost), "nodes": nodes}}

    def _commits_of_number(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        node = next((n for n in self.nodes if n["number"] == variables["number"]), None)
        pull_request = (
            None
            if node is None
            else {"commits": self._commit_connection(node, variables.get("after"))}
        )
        return {
            "data": {
                "rateLimit": self._rate_limit(),
                "repository": {"pullRequest": pull_request},
            }
        }

    def _more_answer(self, variables: Mapping[str, Any], field: str) -> dict[str, Any]:
        node = next(n for n in self.nodes if n["id"] == variables["id"])
        every = node["labels"]["nodes"] if field == "labels" else _timeline(node)
        connection = _connection(every, variables["first"], variables.get("after"))
        connection.pop("totalCount")
        return {"data": {"rateLimit": self._rate_limit(), "node": {field: connection}}}

    def _batch_answer(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """More items of several pull requests: aliases m0, m1… of node(id: $id0)…"""
        fields = re.findall(r"m\d+: node\(id: \$id\d+\) \{ \.\.\. on PullRequest \{ (\w+)\(", query)
        data: dict[str, Any] = {"rateLimit": self._rate_limit(more_cost(len(fields)))}
        for i, field in enumerate(fields):
            node = next(n for n in self.nodes if n["id"] == variables[f"id{i}"])
            every = node["labels"]["nodes"] if field == "labels" else _timeline(node)
            connection = _connection(every, variables["first"], variables.get(f"after{i}"))
            connection.pop("totalCount")
            data[f"m{i}"] = {field: connection}
        return {"data": data}


def _timeline(node: dict[str, Any]) -> list[dict[str, Any]]:
    """A node's reviews and ready-for-review events as its timeline lists them."""
    items = [{"__typename": "PullRequestReview", **review} for review in node["_reviews"]]
    for event in node["timelineItems"]["nodes"]:
        at = event["createdAt"]
        position = next(
            (i for i, item in enumerate(items) if (item.get("submittedAt") or "") > at),
            len(items),
        )
        items.insert(position, {"__typename": "ReadyForReviewEvent", "createdAt": at})
    return items


def _connection(every: list[dict[str, Any]], first: int, after: str | None) -> dict[str, Any]:
    start = _index(after)
    page = every[start : start + first]
    end = start + len(page)
    return {
        "totalCount": len(every),
        "pageInfo": {
            "hasNextPage": end < len(every),
            "endCursor": _cursor(end) if page else None,
        },
        "nodes": page,
    }


# --- actors as the query asks for them ---------------------------------------------
# A selection: field name -> its own selection (None for a scalar); an inline
# fragment `... on Type { ... }` is the key ("on", "Type").
Selection = dict[Any, Any]


def _actor_selection(query: str) -> Selection | None:
    """The selection of the query's actors: the first `author { __typename ... }`
    (a commit's author is a GitActor, selected without `__typename`)."""
    for match in re.finditer(r"\bauthor\s*\{", query):
        tokens = re.findall(r"\.\.\.|\w+|[{}]", query[match.end() :])
        selection, _ = _parse_selection(tokens, 0)
        if "__typename" in selection:
            return selection
    return None


def _parse_selection(tokens: list[str], i: int) -> tuple[Selection, int]:
    """The selection from `tokens[i]` to its closing brace, and the index after it."""
    selection: Selection = {}
    while tokens[i] != "}":
        if tokens[i] == "...":
            # `... on Type { ... }`
            type_name = tokens[i + 2]
            selection[("on", type_name)], i = _parse_selection(tokens, i + 4)
            continue
        name = tokens[i]
        if i + 1 < len(tokens) and tokens[i + 1] == "{":
            selection[name], i = _parse_selection(tokens, i + 2)
        else:
            selection[name] = None
            i += 1
    return selection, i + 1


def _with_actors_as_asked(value: Any, selection: Selection) -> Any:
    """`value` with every actor (an `author` naming its `__typename`) cut down to
    what `selection` asks of its type."""
    if isinstance(value, list):
        return [_with_actors_as_asked(item, selection) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: _as_asked(item, selection)
        if key == "author" and isinstance(item, dict) and "__typename" in item
        else _with_actors_as_asked(item, selection)
        for key, item in value.items()
    }


def _as_asked(value: dict[str, Any], selection: Selection) -> dict[str, Any]:
    """The fields of `value` that `selection` asks for: its own, and those of the
    fragment on `value`'s type."""
    fields = {key: inner for key, inner in selection.items() if isinstance(key, str)}
    fields.update(selection.get(("on", value.get("__typename")), {}))
    return {
        key: _as_asked(value[key], inner)
        if inner is not None and isinstance(value[key], dict)
        else value[key]
        for key, inner in fields.items()
        if key in value
    }
