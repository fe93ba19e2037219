"""Tolerant reading of GitHub pull request and review payloads.

Payloads differ across time, GitHub Enterprise Server versions and sources (the
webhook's pull request, the copy embedded in review events, REST list items), so
this reads only the fields the metrics need and never rejects a payload for a
missing or malformed optional field. Only what identifies a row is required.

A snapshot keeps "absent" apart from "null": a field the payload does not carry
is left out of `PullRequestSnapshot.fields`, so it cannot overwrite what a fuller
snapshot stored; a field that is null (an open pull request's `merged_at`) is kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from github_app.values import MAX_ID, TimestampError, github_id, parse_timestamp

HOTFIX = "hotfix"
# GitHub's revert button titles the pull request `Revert "<title>"`, names its
# branch `revert-<number>-<head branch>` and writes `Reverts owner/repo#<number>`.
REVERT_TITLE_PREFIX = 'Revert "'
REVERT_BRANCH = re.compile(r"^revert-(\d+)-", re.ASCII)
REVERTS_IN_BODY = re.compile(r"\breverts\s+([\w.-]+/[\w.-]+)?#(\d+)\b", re.IGNORECASE | re.ASCII)


# GitHub's ids fit PostgreSQL's bigint (github_app.values.MAX_ID), and numbers and
# line counts its integer: a value outside these can only be a broken or hostile payload.
MAX_NUMBER = 2**31 - 1
# Column lengths of the rows these values go to (longer ones are cut, not refused).
MAX_LOGIN = 100
MAX_URL = 500
MAX_FULL_NAME = 200


class PayloadError(ValueError):
    """A required field is missing or malformed; str(error) is the reason."""


def github_link(url: object) -> str:
    """``url`` if it is a page of GitHub's own site (https://github.com/…, or
    GITHUB_WEB_URL's host for GitHub Enterprise Server), else "". Pages link to
    what payloads call ``html_url``: a signed payload is still only text, and a
    ``javascript:`` or another site's URL must not become a link."""
    if not isinstance(url, str) or len(url) > MAX_URL:
        return ""
    try:
        parts = urlsplit(clean_text(url))
    except ValueError:  # an unbalanced "[" in the host
        return ""
    web = urlsplit(settings.GITHUB_WEB_URL)
    allowed = {("https", "github.com"), (web.scheme, web.netloc.lower())}
    if (parts.scheme, parts.netloc.lower()) not in allowed or not parts.path.startswith("/"):
        return ""
    return parts.geturl()


def clean_text(value: str, *, limit: int | None = None) -> str:
    """Text as the database can hold it: PostgreSQL refuses NUL characters in
    text, so they go (GitHub never sends one in a name or title; only a broken
    or hostile payload does), and a value longer than its column is cut."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    return value if limit is None else value[:limit]


# GitHub's placeholder for a deleted account: every deleted person's pull
# requests and reviews show this one user.
GHOST_ID = 10137
GHOST_LOGIN = "ghost"


@dataclass(frozen=True)
class GitHubUser:
    github_id: int
    login: str
    is_bot: bool
    is_deleted_account: bool = False


@dataclass(frozen=True)
class RepositoryBlock:
    """The repository an event is about, as its payload's ``repository`` shows it."""

    github_id: int
    full_name: str
    # The block's own updated_at: when GitHub last changed the repository
    # (a rename or transfer moves it), None when unreadable.
    updated_at: datetime | None
    private: bool | None
    archived: bool | None
    # None where the block does not say (history's copies).
    default_branch: str | None = None


@dataclass(frozen=True)
class RevertReference:
    """The pull request a revert names: same repository when repository_full_name is ""."""

    number: int
    repository_full_name: str = ""


@dataclass(frozen=True)
class PullRequestSnapshot:
    github_id: int
    number: int
    # None when the payload has no usable updated_at: such a snapshot cannot be
    # placed in time, so it only fills a row that has never seen a dated one.
    updated_at: datetime | None
    # PullRequest field name -> value, only for the fields this payload carries.
    fields: Mapping[str, Any]
    author: GitHubUser | None
    # None when the payload has no body key (not the same as an empty body).
    body: str | None


@dataclass(frozen=True)
class ReviewSnapshot:
    github_id: int
    state: str | None
    submitted_at: datetime | None
    reviewer: GitHubUser | None


def read_pull_request(value: object, *, path: str = "pull_request") -> PullRequestSnapshot:
    data = require_mapping(value, path)
    fields: dict[str, Any] = {}
    if isinstance(data.get("title"), str):
        fields["title"] = clean_text(data["title"])
    if "draft" in data and isinstance(data["draft"], bool):
        fields["is_draft"] = data["draft"]
    for key, field in (
        ("created_at", "pr_created_at"),
        ("merged_at", "merged_at"),
        ("closed_at", "closed_at"),
    ):
        if key in data:
            moment = _datetime_or_absent(data[key])
            if moment is not _ABSENT:
                fields[field] = moment
    state = _state(data)
    if state is not None:
        fields["state"] = state
    additions, deletions = _count(data.get("additions")), _count(data.get("deletions"))
    if additions is not None and deletions is not None:
        fields["additions"], fields["deletions"] = additions, deletions
    if isinstance(data.get("labels"), list):
        fields["labels"] = _label_names(data["labels"])
    if isinstance(data.get("requested_reviewers"), list):
        fields["requested_reviewers"] = _requested_reviewers(data["requested_reviewers"])
    head_ref = _branch(data.get("head"))
    if head_ref is not None:
        fields["head_branch"] = head_ref
    base_ref = _branch(data.get("base"))
    if base_ref is not None:
        fields["base_branch"] = base_ref
    if "html_url" in data:
        fields["html_url"] = github_link(data["html_url"])
    merge_commit = read_sha(data.get("merge_commit_sha"))
    if merge_commit is not None:
        fields["merge_commit_sha"] = merge_commit

    body = data.get("body", _ABSENT)
    updated_at = _datetime_or_absent(data.get("updated_at"))
    return PullRequestSnapshot(
        github_id=require_int(data, "id", path),
        number=require_int(data, "number", path, maximum=MAX_NUMBER),
        updated_at=updated_at if isinstance(updated_at, datetime) else None,
        fields=fields,
        author=read_user(data.get("user")),
        body=None if body is _ABSENT else (clean_text(body) if isinstance(body, str) else ""),
    )


def read_review(value: object, *, path: str = "review") -> ReviewSnapshot:
    data = require_mapping(value, path)
    # Webhooks send lower case ("approved"), the REST API upper case ("APPROVED").
    state = data.get("state")
    submitted_at = _datetime_or_absent(data.get("submitted_at"))
    return ReviewSnapshot(
        github_id=require_int(data, "id", path),
        state=state.lower() if isinstance(state, str) and state else None,
        submitted_at=submitted_at if isinstance(submitted_at, datetime) else None,
        reviewer=read_user(data.get("user")),
    )


def read_user(value: object) -> GitHubUser | None:
    """The user, or None when the payload has none (or one without a usable id)."""
    if not isinstance(value, Mapping):
        return None
    user_id = github_id(value.get("id"))
    if user_id is None:
        return None
    login = value.get("login")
    login = clean_text(login, limit=MAX_LOGIN) if isinstance(login, str) else ""
    # Apps act as users of type "Bot"; older payloads only show it in the login.
    is_bot = value.get("type") == "Bot" or login.endswith("[bot]")
    return GitHubUser(
        github_id=user_id,
        login=login,
        is_bot=is_bot,
        is_deleted_account=user_id == GHOST_ID and login == GHOST_LOGIN,
    )


def read_repository_block(value: object) -> RepositoryBlock | None:
    """The event's repository block, or None without a usable id and full name."""
    if not isinstance(value, Mapping) or not _is_github_id(value.get("id")):
        return None
    full_name = value.get("full_name")
    if not isinstance(full_name, str) or "/" not in full_name or len(full_name) > MAX_FULL_NAME:
        return None
    updated_at = _datetime_or_absent(value.get("updated_at"))
    private, archived = value.get("private"), value.get("archived")
    return RepositoryBlock(
        github_id=value["id"],
        full_name=clean_text(full_name),
        updated_at=updated_at if isinstance(updated_at, datetime) else None,
        private=private if isinstance(private, bool) else None,
        archived=archived if isinstance(archived, bool) else None,
        default_branch=_branch({"ref": value.get("default_branch")}),
    )


@dataclass(frozen=True)
class SnapshotTime:
    """When a snapshot showed what it shows: GitHub's `updated_at`, and when GitHub's
    delivery of it was received (None for a read of the REST API, which has no delivery)."""

    updated_at: datetime | None
    received_at: datetime | None = None


def is_not_older(incoming: SnapshotTime, stored: SnapshotTime) -> bool:
    """Whether a snapshot taken at `incoming` may overwrite what one taken at `stored` wrote.

    An undated snapshot only fills what no dated one has written yet."""
    if stored.updated_at is None:
        return True
    if incoming.updated_at is None:
        return False
    if incoming.updated_at != stored.updated_at:
        return incoming.updated_at > stored.updated_at
    # GitHub's updated_at has one-second resolution, so snapshots often share it
    # (opened + labeled, converted_to_draft + ready_for_review). GitHub sends a
    # repository's events in the order they happen, so the later-received delivery
    # is the later snapshot (the same delivery again is applied again: no change).
    # A REST read has no receipt time: it is the current state as of the read,
    # so nothing delivered with the same updated_at is newer than it.
    if incoming.received_at is None:
        return True
    return stored.received_at is not None and incoming.received_at >= stored.received_at


def revert_reference(*, title: str, head_branch: str, body: str) -> RevertReference | None:
    """What the pull request says it reverts, by number; the body wins over the branch."""
    if (match := REVERTS_IN_BODY.search(body)) and _is_number(match.group(2)):
        full_name = match.group(1) or ""
        if len(full_name) <= MAX_FULL_NAME:
            return RevertReference(number=int(match.group(2)), repository_full_name=full_name)
    if (match := REVERT_BRANCH.match(head_branch)) and _is_number(match.group(1)):
        return RevertReference(number=int(match.group(1)))
    return None


def _is_number(digits: str) -> bool:
    # The patterns match ASCII digits only (re.ASCII), but not their count.
    return len(digits) <= 10 and 0 < int(digits) <= MAX_NUMBER


def is_revert_title(title: str) -> bool:
    return title.startswith(REVERT_TITLE_PREFIX)


def is_hotfix(*, title: str, labels: list[str], head_branch: str) -> bool:
    texts = [title, head_branch, *labels]
    return any(HOTFIX in text.lower() for text in texts)


# A commit's id as GitHub writes it: 40 hexadecimal digits (SHA-1).
SHA = re.compile(r"[0-9a-f]{40}", re.ASCII)


def read_sha(value: object) -> str | None:
    """A full commit sha, lower case; None for anything else."""
    if not isinstance(value, str) or len(value) != 40:
        return None
    value = value.lower()
    return value if SHA.fullmatch(value) else None


class _Absent:
    pass


_ABSENT: Any = _Absent()


def require_mapping(value: object, path: str) -> Mapping[str, Any]:
    if value is None:
        raise PayloadError(f"{path} is missing")
    if not isinstance(value, Mapping):
        raise PayloadError(f"{path} is not an object")
    return value


def require_int(data: Mapping[str, Any], key: str, path: str, *, maximum: int = MAX_ID) -> int:
    value = data.get(key)
    if value is None:
        raise PayloadError(f"{path}.{key} is missing")
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{path}.{key} is not an integer")
    if not 0 < value <= maximum:
        raise PayloadError(f"{path}.{key} is out of range (1 to {maximum})")
    return int(value)


def _datetime_or_absent(value: object) -> Any:
    """An aware datetime, None for null, or _ABSENT for anything unreadable
    (github_app.values.parse_timestamp says why; a tolerant reader goes on)."""
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except TimestampError:
        return _ABSENT


def _is_github_id(value: object) -> bool:
    return github_id(value) is not None


def _state(data: Mapping[str, Any]) -> str | None:
    state = data.get("state")
    if state == "open":
        return "open"
    if state != "closed":
        return None
    # The review's embedded copy and REST list items have no `merged`; merged_at says it.
    if data.get("merged") is True or isinstance(
        _datetime_or_absent(data.get("merged_at")), datetime
    ):
        return "merged"
    return "closed"


def _count(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_NUMBER:
        return None
    return value


def _label_names(labels: list[Any]) -> list[str]:
    names = (label.get("name") for label in labels if isinstance(label, Mapping))
    return [clean_text(name) for name in names if isinstance(name, str)]


# GitHub allows 15 reviewers per pull request; more is not GitHub's payload.
MAX_REQUESTED_REVIEWERS = 50


def _requested_reviewers(reviewers: list[Any]) -> list[dict[str, Any]]:
    """The people asked to review, as ``{"github_id", "login"}`` in GitHub's
    order: teams (``requested_teams``) are not people, entries without an id
    and a login go."""
    found: list[dict[str, Any]] = []
    for value in reviewers[:MAX_REQUESTED_REVIEWERS]:
        person = read_user(value)
        if person is None or not person.login:
            continue
        if all(r["github_id"] != person.github_id for r in found):
            found.append({"github_id": person.github_id, "login": person.login})
    return found


def _branch(value: object) -> str | None:
    if isinstance(value, Mapping) and isinstance(value.get("ref"), str):
        return clean_text(value["ref"])
    return None
