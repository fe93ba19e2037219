"""The ``state`` of a round trip through GitHub, bound to the browser session.

A state is issued for one purpose (and, if given, one object such as a team),
kept in the session, and consumed by the first callback that presents it,
whether or not it matches: a forged, replayed or stale state is refused."""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

from django.contrib.sessions.backends.base import SessionBase

from github_app.values import id_from_text

# GitHub's manifest code and OAuth code both live an hour at most.
STATE_LIFETIME = 60 * 60  # seconds
_SESSION_KEY = "github_flow_states"


def issue_state(*, session: SessionBase, purpose: str, bound_to: str = "") -> str:
    """A new state for ``purpose``; it replaces any earlier one for that purpose."""
    state = secrets.token_urlsafe(32)
    states: dict[str, Any] = dict(session.get(_SESSION_KEY, {}))
    states[purpose] = {"state": state, "bound_to": bound_to, "issued_at": time.time()}
    session[_SESSION_KEY] = states
    return state


def consume_state(*, session: SessionBase, purpose: str, state: str, bound_to: str = "") -> bool:
    """True when ``state`` is the one issued for ``purpose`` (and ``bound_to``)
    in this session and has not expired. Used up either way."""
    states: dict[str, Any] = dict(session.get(_SESSION_KEY, {}))
    issued = states.pop(purpose, None)
    session[_SESSION_KEY] = states
    if not isinstance(issued, dict) or not state:
        return False
    fresh = time.time() - float(issued.get("issued_at", 0)) < STATE_LIFETIME
    # Bytes: compare_digest refuses str with non-ASCII characters.
    same_object = hmac.compare_digest(str(issued.get("bound_to", "")).encode(), bound_to.encode())
    return (
        hmac.compare_digest(str(issued.get("state", "")).encode(), state.encode())
        and same_object
        and fresh
    )


def issue_team_state(*, session: SessionBase, purpose: str, team_id: int) -> str:
    """A state for a round trip made for one team (``<team id>.<token>``): the
    team's id rides along so the callback knows which team to check it
    against; ``consume_team_state`` still refuses any other session's."""
    token = issue_state(session=session, purpose=purpose, bound_to=str(team_id))
    return f"{team_id}.{token}"


def consume_team_state(*, session: SessionBase, purpose: str, state: str) -> int | None:
    """The team id of a state from ``issue_team_state`` issued in this session,
    or None for a forged, replayed or stale one. Used up either way."""
    team_id, _, token = state.partition(".")
    valid = consume_state(session=session, purpose=purpose, state=token, bound_to=team_id)
    number = id_from_text(team_id)
    return number if valid and number is not None else None


class FlowRefused(Exception):
    """A return from GitHub that cannot be completed; ``title`` and ``message``
    are for the page (``integrations/flow_refused.html``), ``status`` its HTTP
    status."""

    def __init__(self, title: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.title = title
        self.message = message
        self.status = status
