"""The AI signals of a pull request, each with its evidence, derived from its
stored values, its commits and its team's rules (`ai_rules.py`); docs/ai.md.

A signal is a dict: ``signal`` (one of `SIGNALS`), ``evidence`` (the login,
trailer, line or label that matched) and ``commit`` (the commit's sha, or ""
for the pull request itself). A pull request is AI-assisted when it has one.

Derived, never accumulated: the write path derives them as it saves a pull
request (or its commits), and `metrics_recompute` derives them again, so a rule
added later reaches old pull requests."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from apps.metrics.models import PullRequest
from apps.metrics.services.ai_rules import AIRules

# The signals, in the order they are listed.
AGENT_AUTHOR = "agent_author"
AGENT_COMMIT = "agent_commit"
CO_AUTHOR = "co_author"
COMMIT_MARKER = "commit_marker"
BODY_MARKER = "body_marker"
LABEL = "label"
SIGNALS = (AGENT_AUTHOR, AGENT_COMMIT, CO_AUTHOR, COMMIT_MARKER, BODY_MARKER, LABEL)

# A trailer line: "Key: value" (git's keys are letters, digits and dashes).
_TRAILER = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]{0,60}):[ \t]*(\S.*?)\s*$")
_NAME_AND_EMAIL = re.compile(r"^(.*?)\s*<([^<>]*)>\s*$")
# Evidence is kept short (a line of a commit message may be long).
MAX_EVIDENCE = 200
# Lines of a body or message looked at for markers (a pasted log is not read whole).
MAX_LINES = 2000


class CommitLike(Protocol):
    sha: str
    message: str
    authored_at: datetime | None
    author_logins: Any
    trailers: Any


def trailers_parse(message: str) -> list[list[str]]:
    """The trailers of a commit message: the ``Key: value`` lines of its last
    paragraph (after the subject), in order, as [key, value] pairs."""
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", message.replace("\r\n", "\n")) if p.strip()]
    if len(paragraphs) < 2:
        return []
    found = []
    for line in paragraphs[-1].splitlines()[:MAX_LINES]:
        match = _TRAILER.match(line.strip())
        if match:
            found.append([match.group(1), match.group(2)[: MAX_EVIDENCE * 2]])
    return found


def co_author_is_ai(value: str, rules: AIRules) -> bool:
    """Whether a ``Co-authored-by:`` value names an AI: its name is one of the
    rules' names, or starts with one and a space ("Claude Opus 4")."""
    match = _NAME_AND_EMAIL.match(value)
    name = (match.group(1) if match else value).strip().lower()
    return any(name == ai or name.startswith(ai + " ") for ai in rules.co_author_names)


def _marker_line(text: str, rules: AIRules) -> str | None:
    for line in text.splitlines()[:MAX_LINES]:
        lowered = line.lower()
        if any(marker in lowered for marker in rules.markers):
            return line.strip()[:MAX_EVIDENCE]
    return None


def _signal(signal: str, evidence: str, commit: str = "") -> dict[str, str]:
    return {"signal": signal, "evidence": evidence[:MAX_EVIDENCE], "commit": commit}


def ai_signals_find(
    *,
    author_login: str | None,
    labels: Iterable[str],
    body: str,
    commits: Sequence[CommitLike],
    rules: AIRules,
) -> list[dict[str, str]]:
    """Every signal of a pull request, with its evidence, in `SIGNALS` order
    (each commit's at most once per kind of signal)."""
    found: list[dict[str, str]] = []
    if author_login and author_login.lower() in rules.agent_logins:
        found.append(_signal(AGENT_AUTHOR, author_login))
    for commit in commits:
        agents = [
            login
            for login in commit.author_logins or []
            if str(login).lower() in rules.agent_logins
        ]
        if agents:
            found.append(_signal(AGENT_COMMIT, str(agents[0]), commit.sha))
    for commit in commits:
        for key, value in commit.trailers or []:
            if str(key).lower() == "co-authored-by" and co_author_is_ai(str(value), rules):
                found.append(_signal(CO_AUTHOR, f"{key}: {value}", commit.sha))
                break
    for commit in commits:
        line = _marker_line(commit.message or "", rules)
        if line is not None:
            found.append(_signal(COMMIT_MARKER, line, commit.sha))
    line = _marker_line(body or "", rules)
    if line is not None:
        found.append(_signal(BODY_MARKER, line))
    for label in labels:
        if isinstance(label, str) and label.lower() in rules.labels:
            found.append(_signal(LABEL, label))
    return found


def pull_request_ai_derive(
    row: PullRequest, *, commits: Sequence[CommitLike], rules: AIRules
) -> None:
    """Set the row's AI signals (and whether it is AI-assisted) from its stored
    values, its commits and the team's rules."""
    author = row.author if row.author_id is not None else None
    row.ai_signals = ai_signals_find(
        author_login=author.login if author is not None else None,
        labels=row.labels or [],
        body=row.body or "",
        commits=sorted(commits, key=_commit_order),
        rules=rules,
    )
    row.is_ai_assisted = bool(row.ai_signals)


def first_commit_at(commits: Iterable[CommitLike]) -> datetime | None:
    """When the earliest of the commits was authored (None: no commit, or no time)."""
    return min((c.authored_at for c in commits if c.authored_at is not None), default=None)


def _commit_order(commit: CommitLike) -> tuple[bool, datetime | None, str]:
    # The evidence names the earliest matching commit, whatever order they were loaded in.
    return (commit.authored_at is None, commit.authored_at, commit.sha)


def ai_signals_describe(signals: Sequence[dict[str, str]]) -> str:
    """The signals in one line (the CSV's `ai_assisted` column): each as
    "signal: evidence", a commit's with its short sha; "" for none."""
    return "; ".join(
        f"{s.get('signal')}: {s.get('evidence')}"
        + (f" @{s['commit'][:7]}" if s.get("commit") else "")
        for s in signals
    )
