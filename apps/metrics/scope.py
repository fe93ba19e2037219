"""What a figure counts (`FigureScope`): the team, the period, the repositories,
a squad's people, one person, and the hours its durations are in. Every
figure module takes one, so ``squad=``, ``person=`` and ``hours=`` reach every
figure, drill-down, CSV and the JSON API the same way (docs/working-hours.md).

- ``hours``: "calendar" reads the durations stored in calendar hours
  (``cycle_time_hours``, …), "working" those in the team's working hours
  (``cycle_time_working_hours``, …); the team's ``default_hours`` unless asked.
- ``squad``: its members' pull requests (on its repositories when it names
  any); reviews of those pull requests, whoever gave them (so reviewers from
  outside the squad show).
- ``person``: their pull requests; reviews they gave or were given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from django.db.models import Q

from apps.metrics.models import Squad, TeamMember
from apps.metrics.periods import MAX_VALUE_LENGTH, BadParameter, Period
from apps.metrics.services.durations import HOURS, WORKING_HOURS, duration_column
from apps.teams.models import Team

SCOPE_PARAMETERS = ("hours", "squad", "person")


@dataclass(frozen=True)
class SquadRule:
    """Which pull requests are a squad's, the one definition (the figures'
    ``squad=`` and the notifications' squads of a pull request read it): its
    members' pull requests, on its repositories when it names any."""

    member_ids: frozenset[int]
    # Empty: every repository of the team.
    repository_ids: frozenset[int]

    def holds(self, *, author_id: int | None, repository_id: int | None) -> bool:
        """Whether a pull request of this author and repository is the squad's."""
        if author_id is None or author_id not in self.member_ids:
            return False
        return not self.repository_ids or repository_id in self.repository_ids


def squad_rule(squad: Squad) -> SquadRule:
    """The squad's rule (its members and repositories prefetched or read)."""
    return SquadRule(
        member_ids=frozenset(member.pk for member in squad.members.all()),
        repository_ids=frozenset(repository.pk for repository in squad.repositories.all()),
    )


def squads_of_pull_request(
    *, team_id: int, author_id: int | None, repository_id: int | None
) -> list[Squad]:
    """The team's squads a pull request of this author and repository is in."""
    if author_id is None:
        return []
    candidates = (
        Squad.objects.filter(team_id=team_id, members=author_id)
        .prefetch_related("members", "repositories")
        .order_by("name")
    )
    return [
        squad
        for squad in candidates
        if squad_rule(squad).holds(author_id=author_id, repository_id=repository_id)
    ]


SLOT_OF_HOURS = {Team.Hours.CALENDAR.value: HOURS, Team.Hours.WORKING.value: WORKING_HOURS}


@dataclass(frozen=True)
class FigureScope:
    team: Team
    period: Period
    repository_ids: list[int] | None = None
    # The squad's people (TeamMember ids), None for everyone.
    member_ids: frozenset[int] | None = None
    squad: str = ""
    person: str = ""
    person_id: int | None = None
    hours: str = Team.Hours.CALENDAR.value

    @property
    def slot(self) -> str:
        """The durations engine's slot the figures read (`durations.SLOTS`)."""
        return SLOT_OF_HOURS[self.hours]

    def column(self, duration: str) -> str:
        """The stored column of ``duration`` (``cycle_time``, …) in these hours."""
        return duration_column(duration, self.slot)

    def pull_requests_q(self, prefix: str = "") -> Q:
        """The pull requests in scope (``prefix`` ``pull_request__`` from a review)."""
        found = Q()
        if self.repository_ids is not None:
            found &= Q(**{f"{prefix}repository_id__in": self.repository_ids})
        if self.member_ids is not None:
            found &= Q(**{f"{prefix}author_id__in": self.member_ids})
        if self.person_id is not None:
            found &= Q(**{f"{prefix}author_id": self.person_id})
        return found

    def reviews_q(self) -> Q:
        """The reviews in scope: on the scope's repositories and squad's pull
        requests; a person's given or received."""
        found = Q()
        if self.repository_ids is not None:
            found &= Q(pull_request__repository_id__in=self.repository_ids)
        if self.member_ids is not None:
            found &= Q(pull_request__author_id__in=self.member_ids)
        if self.person_id is not None:
            found &= Q(reviewer_id=self.person_id) | Q(pull_request__author_id=self.person_id)
        return found

    @cached_property
    def uncounted_people(self) -> tuple[frozenset[int], frozenset[int]]:
        """The team's bots, and its bots and deleted accounts: the people the
        figures leave out as authors and as reviewers (`rules.py`). Read once
        per scope, however many figures ask."""
        bots: set[int] = set()
        not_reviewers: set[int] = set()
        rows = TeamMember.objects.filter(
            Q(is_bot=True) | Q(is_deleted_account=True), team=self.team
        ).values_list("id", "is_bot")
        for member_id, is_bot in rows:
            not_reviewers.add(member_id)
            if is_bot:
                bots.add(member_id)
        return frozenset(bots), frozenset(not_reviewers)

    def echo(self) -> dict[str, str | None]:
        """What the JSON says it used."""
        return {"hours": self.hours, "squad": self.squad or None, "person": self.person or None}


def _single(params: Mapping[str, list[str]], name: str) -> str:
    values = params.get(name) or []
    if len(values) > 1:
        raise BadParameter(f"'{name}' is given more than once.")
    value = values[0] if values else ""
    if "\x00" in value:
        raise BadParameter(f"'{name}' contains a NUL byte.")
    if len(value) > MAX_VALUE_LENGTH:
        raise BadParameter(f"'{name}' is too long (at most {MAX_VALUE_LENGTH} characters).")
    return value.strip()


def figure_scope_read(
    *,
    team: Team,
    period: Period,
    repository_ids: list[int] | None,
    params: Mapping[str, list[str]],
) -> FigureScope:
    """The scope of a request's ``hours``, ``squad`` and ``person`` (a query's
    lists); BadParameter for a value that is none of the team's."""
    hours = _single(params, "hours") or team.default_hours
    if hours not in SLOT_OF_HOURS:
        raise BadParameter("'hours' must be 'working' or 'calendar'.")
    squad_name = _single(params, "squad")
    member_ids = None
    if squad_name:
        squad = Squad.objects.filter(team=team, name=squad_name).first()
        if squad is None:
            raise BadParameter(f"Unknown squad '{squad_name}' for this team.")
        rule = squad_rule(squad)
        member_ids = rule.member_ids
        squad_repositories = set(rule.repository_ids)
        if squad_repositories:
            if repository_ids is not None and not squad_repositories & set(repository_ids):
                raise BadParameter(
                    f"The squad '{squad_name}' has repositories, and the one asked for is not one."
                )
            repository_ids = sorted(
                squad_repositories
                if repository_ids is None
                else squad_repositories & set(repository_ids)
            )
    login = _single(params, "person")
    person_id = None
    if login:
        person = TeamMember.objects.filter(team=team, login__iexact=login).first()
        if person is None:
            raise BadParameter(f"Unknown person '{login}' for this team (a GitHub login).")
        person_id, login = person.pk, person.login
    return FigureScope(
        team=team,
        period=period,
        repository_ids=repository_ids,
        member_ids=member_ids,
        squad=squad_name,
        person=login,
        person_id=person_id,
        hours=hours,
    )
