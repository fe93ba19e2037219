"""The commit kind of row: `Commit`, keyed by team, pull request and sha, read
from `pull_request_commits` events.

No webhook carries a pull request's commits: the event is shaped by one
adapter (`github_app/commits.py`) from GitHub's GraphQL list of a pull
request's commits, read when a live merge happens and inside history's pages,
so it is read, never routed (`INTERNAL_EVENTS`). An event lists all of the
pull request's commits: what it lists is stored (a commit changed in place is
updated), and a commit it no longer lists (force-pushed away) is deleted.

What commits make of their pull request is derived here after every change of
the batch, from the batch's rows in memory (`watch`): its first commit time
(change lead time starts there, `durations.py`) and its AI signals
(`ai_signals.py`, which also read the pull request's author, labels and body,
so a pull request event re-derives them too). The pull request kind then saves
them with the rest of the row; `metrics_recompute` derives them again the same
way."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apps.common.bulk import update_rows
from apps.metrics.models import Commit
from apps.metrics.repositories import RepositoryRecord
from apps.metrics.services.ai_rules import AIRules, team_ai_rules
from apps.metrics.services.ai_signals import first_commit_at, pull_request_ai_derive, trailers_parse
from apps.metrics.services.batches import (
    Batch,
    Change,
    Need,
    RowKind,
    Watcher,
    changed_fields,
    tracked_values,
)
from apps.metrics.services.payloads import (
    MAX_LOGIN,
    PayloadError,
    PullRequestSnapshot,
    SnapshotTime,
    clean_text,
    read_pull_request,
    require_mapping,
)
from apps.metrics.services.pull_requests import (
    PullRequestRows,
    apply_pull_request_snapshot,
    pull_request_need,
)
from apps.teams.models import Team
from github_app.values import TimestampError, github_id, parse_timestamp

EVENT = "pull_request_commits"
# GitHub lists at most 250 commits of a pull request; an event listing more
# than this is no list GitHub made.
MAX_COMMITS = 10_000
# A commit message is kept up to this many characters (the signals read its
# trailers and marker lines; a pasted log need not be kept whole).
MAX_MESSAGE = 20_000
MAX_AUTHORS = 20
_SHA = re.compile(r"[0-9a-f]{7,64}", re.ASCII)


@dataclass(frozen=True, slots=True)
class CommitSnapshot:
    sha: str
    message: str
    authored_at: datetime | None
    committed_at: datetime | None
    author_github_ids: list[int]
    author_logins: list[str]
    trailers: list[list[str]]


@dataclass(frozen=True)
class CommitsChange:
    """What a pull_request_commits event says: all of a pull request's commits."""

    team: Team
    repository: RepositoryRecord | None
    pull_request: PullRequestSnapshot
    commits: list[CommitSnapshot]
    received_at: datetime | None = None

    def needs(self) -> list[Need]:
        return [
            pull_request_need(self.team, self.pull_request, self.repository),
            Need(CommitRows.name, self.team, self.pull_request.github_id),
        ]

    def apply(self, batch: Batch) -> list[Commit]:
        pull_requests = batch.kind(PullRequestRows)
        row = pull_requests.row(self.team, self.pull_request)
        # An undated snapshot: it only fills a pull request seen nowhere else
        # yet (its number and repository), and dates nothing.
        apply_pull_request_snapshot(
            row,
            self.pull_request,
            time=SnapshotTime(None, self.received_at),
            repository=self.repository,
            members={},
        )
        stored = batch.kind(CommitRows).of(self.team, self.pull_request.github_id)
        by_sha = {commit.sha: commit for commit in stored}
        listed = {snapshot.sha for snapshot in self.commits}
        stored[:] = [commit for commit in stored if commit.sha in listed]
        batch.kind(CommitRows).forget([c for sha, c in by_sha.items() if sha not in listed])
        for snapshot in self.commits:
            commit = by_sha.get(snapshot.sha)
            if commit is None:
                commit = Commit(team=self.team, pull_request=row, sha=snapshot.sha)
                by_sha[snapshot.sha] = commit
                stored.append(commit)
            commit.message = snapshot.message
            commit.authored_at = snapshot.authored_at
            commit.committed_at = snapshot.committed_at
            commit.author_github_ids = snapshot.author_github_ids
            commit.author_logins = snapshot.author_logins
            commit.trailers = snapshot.trailers
        return list(stored)


def read_commits_change(
    *,
    team: Team,
    repository: RepositoryRecord | None,
    payload: Mapping[str, Any],
    received_at: datetime | None = None,
) -> CommitsChange:
    """Read a pull_request_commits event. Raises PayloadError when the pull
    request cannot be identified, or the list or one of its commits is not one."""
    pull_request = read_pull_request(payload.get("pull_request"))
    items = payload.get("commits")
    if not isinstance(items, list):
        raise PayloadError("commits is not a list")
    if len(items) > MAX_COMMITS:
        raise PayloadError(f"commits lists more than {MAX_COMMITS} commits")
    commits: dict[str, CommitSnapshot] = {}
    for index, item in enumerate(items):
        commit = read_commit(item, path=f"commits[{index}]")
        commits.setdefault(commit.sha, commit)
    return CommitsChange(
        team=team,
        repository=repository,
        pull_request=pull_request,
        commits=list(commits.values()),
        received_at=received_at,
    )


def read_commit(value: object, *, path: str) -> CommitSnapshot:
    """One listed commit: GitHub's REST shape (``sha``, ``commit.message``,
    ``commit.author.date``, ``commit.committer.date``) with ``authors``, the
    commit's authors that are GitHub accounts."""
    data = require_mapping(value, path)
    sha = data.get("sha")
    if not isinstance(sha, str) or not _SHA.fullmatch(sha):
        raise PayloadError(f"{path}.sha is not a commit's sha")
    inner = data.get("commit")
    inner = inner if isinstance(inner, Mapping) else {}
    message = inner.get("message")
    message = clean_text(message, limit=MAX_MESSAGE) if isinstance(message, str) else ""
    authors = data.get("authors")
    ids: list[int] = []
    logins: list[str] = []
    for author in (authors if isinstance(authors, list) else [])[:MAX_AUTHORS]:
        if not isinstance(author, Mapping):
            continue
        user_id = github_id(author.get("id"))
        login = author.get("login")
        if user_id is None or not isinstance(login, str) or not login:
            continue
        ids.append(user_id)
        logins.append(clean_text(login, limit=MAX_LOGIN))
    committed_at = _time(inner.get("committer"))
    # GitHub dates every commit; a commit without a time is no commit it listed.
    # (So a pull request with commits always has a first commit time, which
    # tells a batch whose commits to load: CommitRows.load.)
    authored_at = _time(inner.get("author")) or committed_at
    if authored_at is None:
        raise PayloadError(f"{path}.commit has no author or committer date")
    return CommitSnapshot(
        sha=sha,
        message=message,
        authored_at=authored_at,
        committed_at=committed_at,
        author_github_ids=ids,
        author_logins=logins,
        trailers=trailers_parse(message),
    )


def _time(person: object) -> datetime | None:
    if not isinstance(person, Mapping):
        return None
    try:
        return parse_timestamp(person.get("date"))
    except TimestampError:
        return None


class CommitRows(RowKind):
    """A batch's commits: those of every pull request the batch holds (loaded
    in one query), so each change re-derives what commits make of its pull
    request."""

    name = "commit"
    model = Commit
    readers = {EVENT: read_commits_change}
    internal_events = frozenset({EVENT})

    def __init__(self, batch: Batch) -> None:
        super().__init__(batch)
        self._commits: dict[tuple[int, int], list[Commit]] = {}
        self._loaded: dict[int, dict[str, Any]] = {}
        self._deleted: list[Commit] = []
        self._rules: dict[int, AIRules] = {}

    def load(self, needs: Sequence[Need]) -> None:
        by_pk: dict[int, list[Commit]] = {}
        for tracked in self.batch.kind(PullRequestRows).every_tracked():
            key = (tracked.row.team_id, tracked.row.github_id)
            commits = self._commits.setdefault(key, [])
            # Every stored commit is dated, so a pull request without a first
            # commit time has none: no query for a pull request never listed.
            if not tracked.created and tracked.row.first_commit_at is not None:
                by_pk[tracked.row.pk] = commits
        if not by_pk:
            return
        for commit in Commit.objects.filter(pull_request_id__in=by_pk).order_by("pk"):
            by_pk[commit.pull_request_id].append(commit)
            self._loaded[commit.pk] = tracked_values(commit)

    def of(self, team: Team, github_id: int) -> list[Commit]:
        """The pull request's commits; a commit added to the list is inserted on save."""
        return self._commits.setdefault((team.pk, github_id), [])

    def forget(self, commits: Sequence[Commit]) -> None:
        """Commits no longer listed: deleted on save."""
        self._deleted.extend(commit for commit in commits if commit.pk is not None)

    def rules(self, team_id: int) -> AIRules:
        if team_id not in self._rules:
            self._rules[team_id] = team_ai_rules(team_id)
        return self._rules[team_id]

    def watch(self, change: Change) -> Watcher | None:
        keys = [(n.team, n.github_id) for n in change.needs() if n.kind == PullRequestRows.name]
        if not keys:
            return None

        def after(source: str) -> None:
            pull_requests = self.batch.kind(PullRequestRows)
            for team, pull_request_id in keys:
                row = pull_requests.tracked(team, pull_request_id).row
                commits = self.of(team, pull_request_id)
                row.first_commit_at = first_commit_at(commits)
                pull_request_ai_derive(row, commits=commits, rules=self.rules(team.pk))

        return after

    def save(self) -> None:
        if self._deleted:
            Commit.objects.filter(pk__in=[commit.pk for commit in self._deleted]).delete()
        commits = [commit for commits in self._commits.values() for commit in commits]
        new = [commit for commit in commits if commit.pk is None]
        for commit in new:
            # The pull request was inserted by its kind's save, before this one.
            commit.pull_request_id = commit.pull_request.pk
        if new:
            Commit.objects.bulk_create(new)
        changed, fields = changed_fields(
            (commit, self._loaded[commit.pk]) for commit in commits if commit.pk in self._loaded
        )
        update_rows(model=Commit, rows=changed, fields=fields)
