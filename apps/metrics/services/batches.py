"""The write path: a batch of changes applied to the rows they touch, loaded once
and saved once, through the registry of row kinds (`kinds.py`).

A batch asks each kind, in the registry's order, to load (and lock) the rows the
changes need; applies every change to those rows in memory, in order, each
kind noting the lifecycle transitions it sees; then asks each kind, in
dependency order (a kind after the kinds its rows point at), to write what
changed, and records the transitions. A handful of statements per batch instead
of several per event. One event is a batch of one, so the webhook drain,
replay, history and the demo all write through here. Nothing here knows a kind
by name: what a kind is lives in its own module (`RowKind`).

Rows are locked in one order (the registry's first kind, pull requests, by team
and GitHub id; then the members the batch writes, by team and GitHub id), so
two workers' batches wait for each other rather than deadlock. Two exceptions: a
pull request new to both (settled by `ConcurrentCreation`), and the reverts a
new pull request links, whose rows are locked out of that order; a deadlock
there fails the batch, and the webhook drain then processes its deliveries one
at a time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, Protocol, TypeVar, cast

from django.db import models, transaction

from apps.metrics.repositories import RepositoryRecord
from apps.metrics.services.lifecycle import Transition, lifecycle_events_record
from apps.teams.models import Team


@dataclass(frozen=True, slots=True)
class Need:
    """A row (or rows) a change reads or writes: of which kind, in which team, by
    which of GitHub's ids, and what a new one starts from (kind-specific)."""

    kind: str
    team: Team
    github_id: int
    seed: Any = None


class Change(Protocol):
    """What one event says, read from its payload by its kind's reader, ready to
    be applied to a batch's rows."""

    @property
    def team(self) -> Team: ...

    @property
    def repository(self) -> RepositoryRecord | None: ...

    def needs(self) -> list[Need]:
        """The rows to load before it is applied."""
        ...

    def apply(self, batch: Batch) -> object:
        """Apply it to the batch's rows in memory; the row it made or updated."""
        ...


Reader = Callable[..., Change]
# Called after a change is applied, with its source: notes the transitions it made.
Watcher = Callable[[str], None]


class ConcurrentCreation(Exception):
    """Another worker created one of the batch's rows first; apply again."""


class OneAtATime(Exception):
    """The batch holds what only applying its changes one at a time gets right."""


class RowKind(ABC):
    """One kind of row the write path keeps: a module of `apps/metrics/services/`
    subclasses this, and its class is one line of `kinds.KINDS`.

    A kind says which events it reads (`readers`: GitHub event name -> reader of
    the payload into a `Change`), how its rows are keyed (by team and GitHub's
    ids), loaded and locked (`load`), how a newer snapshot wins over an older one
    (in its changes' `apply`), what it contributes to lifecycle transitions
    (`watch`, `transitions`) and how it writes what changed (`save`). An instance
    holds one batch's rows of the kind."""

    name: ClassVar[str]
    model: ClassVar[type[models.Model]]
    readers: ClassVar[Mapping[str, Reader]] = {}
    # Events of `readers` no webhook carries: shaped by an adapter from a read of
    # GitHub's API (a pull request's commits), so read, never routed.
    internal_events: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, batch: Batch) -> None:
        self.batch = batch

    @classmethod
    def refusals(cls, changes: Sequence[object]) -> dict[int, str]:
        """Before any batch: the changes (by index in ``changes``) that can never
        be applied, each with the reason (their events fail at once, not retried,
        and the others are applied all the same)."""
        return {}

    @classmethod
    def needs_of(cls, change: Change) -> list[Need]:
        """Rows of this kind that a change of another kind also writes (through
        `watch`): a merged pull request is a deployment where a repository
        deploys every merge. None by default."""
        return []

    @abstractmethod
    def load(self, needs: Sequence[Need]) -> None:
        """Read (and lock) the rows the batch's changes need, in one or two queries."""

    def watch(self, change: Change) -> Watcher | None:
        """Before a change is applied: what to call after it (its transitions)."""
        return None

    @abstractmethod
    def save(self) -> None:
        """Write the new and changed rows (the kinds it points at are saved)."""

    def transitions(self) -> list[Transition]:
        """The lifecycle transitions of the batch, once its rows are saved."""
        return []


K = TypeVar("K", bound=RowKind)


def save_order(kinds: Sequence[type[RowKind]]) -> list[type[RowKind]]:
    """The kinds, each after the kinds whose models its model has a foreign key
    to (members before the pull requests they author, before their reviews)."""
    by_model = {kind.model: kind for kind in kinds}
    ordered: list[type[RowKind]] = []

    def visit(kind: type[RowKind], path: tuple[type[RowKind], ...]) -> None:
        if kind in ordered:
            return
        if kind in path:
            raise ValueError(f"row kinds point at each other: {[k.name for k in path]}")
        for field in kind.model._meta.concrete_fields:
            related = field.related_model if field.is_relation else None
            target = by_model.get(related) if isinstance(related, type) else None
            if target is not None and target is not kind:
                visit(target, (*path, kind))
        ordered.append(kind)

    for kind in kinds:
        visit(kind, ())
    return ordered


class Batch:
    """The rows a batch of changes reads and writes, loaded once and saved once.

    Changes are applied in order to these rows in memory, so each change sees
    what the ones before it did, as it would one at a time."""

    def __init__(self, kinds: Sequence[type[RowKind]], *, size: int) -> None:
        # How many changes it applies (a kind may leave some cases to batches of one).
        self.size = size
        self._kinds = {kind: kind(self) for kind in kinds}
        self._save_order = save_order(kinds)

    def kind(self, kind: type[K]) -> K:
        """This batch's rows of a kind."""
        return cast(K, self._kinds[kind])

    @classmethod
    def load(cls, changes: Sequence[Change], *, kinds: Sequence[type[RowKind]]) -> Batch:
        batch = cls(kinds, size=len(changes))
        needs = [need for change in changes for need in change.needs()]
        needs += [need for kind in kinds for change in changes for need in kind.needs_of(change)]
        for rows in batch._kinds.values():
            rows.load([need for need in needs if need.kind == rows.name])
        return batch

    def apply(self, change: Change, *, source: str) -> object:
        """Apply one change, and let each kind note the transitions it makes."""
        watchers = [w for rows in self._kinds.values() if (w := rows.watch(change)) is not None]
        result = change.apply(self)
        for watcher in watchers:
            watcher(source)
        return result

    def save(self) -> None:
        for kind in self._save_order:
            self._kinds[kind].save()
        lifecycle_events_record([t for rows in self._kinds.values() for t in rows.transitions()])


def apply_changes(
    changes: Sequence[Change], *, sources: Sequence[str], kinds: Sequence[type[RowKind]]
) -> list[object]:
    """Apply the changes in order, in one transaction (a savepoint inside the
    caller's); the row each one made or updated, in order. `sources` says where
    each change came from (`processors.Source`), for the lifecycle events."""
    sourced = list(zip(changes, sources, strict=True))

    def apply_once(batch_of: Sequence[tuple[Change, str]]) -> list[object]:
        with transaction.atomic():
            batch = Batch.load([change for change, _ in batch_of], kinds=kinds)
            results = [batch.apply(change, source=source) for change, source in batch_of]
            batch.save()
        return results

    def apply(batch_of: Sequence[tuple[Change, str]]) -> list[object]:
        try:
            return apply_once(batch_of)
        except ConcurrentCreation:
            # The other worker's rows are committed now: the second run updates them.
            return apply_once(batch_of)

    try:
        return apply(sourced)
    except OneAtATime:
        return [result for one in sourced for result in apply([one])]


# --- what kinds share: writing back only what changed -------------------------------

_UNTRACKED = frozenset({"id", "created_at", "updated_at"})


@cache
def tracked_attnames(model: type[models.Model]) -> tuple[str, ...]:
    """The columns a batch compares to find what it changed."""
    return tuple(f.attname for f in model._meta.concrete_fields if f.name not in _UNTRACKED)


def tracked_values(row: models.Model) -> dict[str, Any]:
    return {attname: getattr(row, attname) for attname in tracked_attnames(type(row))}


def changed_fields(
    rows: Iterable[tuple[models.Model, Mapping[str, Any]]],
) -> tuple[list[Any], set[str]]:
    """Of (row, values as loaded) pairs: the rows that changed, and the union of
    their changed columns (written together, in one statement)."""
    changed, fields = [], set()
    for row, loaded in rows:
        names = {name for name, value in tracked_values(row).items() if loaded[name] != value}
        if names:
            changed.append(row)
            fields |= names
    return changed, fields
