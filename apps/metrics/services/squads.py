"""Squads: groups of people inside one team (docs/working-hours.md), written
from what a page or `POST`/`PUT /api/teams/<slug>/squads/` sent, refused with
a reason naming the field. A squad's members are the team's GitHub people (by
login) and its repositories the team's (``owner/name``): no squad crosses
teams."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from apps.metrics.models import Squad, TeamMember
from apps.metrics.repositories import repository_directory
from apps.teams.models import Team

SQUAD_KEYS = ("name", "members", "repositories")
NAME_MAX = 100
LIST_MAX = 500
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?", re.ASCII)
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}", re.ASCII)


class SquadRefused(ValueError):
    """A squad that cannot be written: ``field`` says which, the message why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class SquadValues:
    name: str | None
    member_ids: list[int] | None
    repository_ids: list[int] | None


def _name(value: Any) -> str:
    if not isinstance(value, str):
        raise SquadRefused("name", "must be text.")
    if "\x00" in value:
        raise SquadRefused("name", "must not contain NUL bytes.")
    name = value.strip()
    if not name or len(name) > NAME_MAX:
        raise SquadRefused("name", f"must be 1 to {NAME_MAX} characters.")
    return name


def _strings(field: str, value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > LIST_MAX:
        raise SquadRefused(field, f"must be a list of at most {LIST_MAX} names.")
    found = []
    for item in value:
        if not isinstance(item, str) or "\x00" in item or len(item) > 201:
            raise SquadRefused(field, "each must be text, without NUL bytes.")
        found.append(item.strip())
    return found


def _members(team: Team, value: Any) -> list[int]:
    ids: list[int] = []
    for login in _strings("members", value):
        people = (
            list(
                TeamMember.objects.filter(team=team, login__iexact=login).values_list(
                    "pk", flat=True
                )
            )
            if _LOGIN.fullmatch(login)
            else []
        )
        if not people:
            raise SquadRefused("members", f"{login[:100]!r} is not a GitHub login of this team.")
        ids.extend(pk for pk in people if pk not in ids)
    return ids


def _repositories(team: Team, value: Any) -> list[int]:
    ids: list[int] = []
    for full_name in _strings("repositories", value):
        found = (
            repository_directory().ids_named(team=team, full_name=full_name)
            if _REPOSITORY.fullmatch(full_name)
            else []
        )
        if not found:
            raise SquadRefused(
                "repositories",
                f"{full_name[:100]!r} is not a repository of this team (owner/name).",
            )
        ids.extend(pk for pk in found if pk not in ids)
    return ids


def squad_values_read(*, team: Team, values: Any, creating: bool) -> SquadValues:
    """The squad's new values (keys absent stay as they are; a new squad needs
    a name); SquadRefused for the first bad one."""
    if not isinstance(values, dict):
        raise SquadRefused("squad", "must be a JSON object.")
    unknown = sorted(str(key)[:40] for key in values if key not in SQUAD_KEYS)
    if unknown:
        raise SquadRefused(
            unknown[0], "is not a key of a squad; one of " + ", ".join(SQUAD_KEYS) + "."
        )
    if creating and "name" not in values:
        raise SquadRefused("name", "is needed.")
    return SquadValues(
        name=_name(values["name"]) if "name" in values else None,
        member_ids=_members(team, values["members"]) if "members" in values else None,
        repository_ids=_repositories(team, values["repositories"])
        if "repositories" in values
        else None,
    )


def _write(squad: Squad, values: SquadValues) -> Squad:
    if values.name is not None:
        if Squad.objects.filter(team=squad.team, name=values.name).exclude(pk=squad.pk).exists():
            raise SquadRefused("name", f"the team already has a squad named {values.name!r}.")
        squad.name = values.name
    try:
        with transaction.atomic():
            squad.save()
    except IntegrityError:
        # Another request took the name between the check and the save.
        raise SquadRefused("name", f"the team already has a squad named {squad.name!r}.") from None
    if values.member_ids is not None:
        squad.members.set(values.member_ids)
    if values.repository_ids is not None:
        squad.repositories.set(values.repository_ids)
    return squad


@transaction.atomic
def squad_create(*, team: Team, values: Any) -> Squad:
    read = squad_values_read(team=team, values=values, creating=True)
    return _write(Squad(team=team), read)


@transaction.atomic
def squad_update(*, squad: Squad, values: Any) -> Squad:
    read = squad_values_read(team=squad.team, values=values, creating=False)
    return _write(squad, read)


def squad_delete(*, squad: Squad) -> None:
    squad.delete()
