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
    same_object = hmac.compare_digest(str(issued.get("bound_to", "")), bound_to)
    return (
        hmac.compare_digest(str(issued.get("state", "")).encode(), state.encode())
        and same_object
        and fresh
    )
