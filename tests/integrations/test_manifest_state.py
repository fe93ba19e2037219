"""The session-bound ``state`` of GitHub round trips (the manifest flow's, and
the install flow's, which binds it to a team)."""

import pytest
from django.contrib.sessions.backends.signed_cookies import SessionStore

from apps.integrations.services import flow_state
from apps.integrations.services.flow_state import consume_state, issue_state


@pytest.fixture
def session() -> SessionStore:
    return SessionStore()


def test_it_accepts_the_state_it_issued_once(session):
    state = issue_state(session=session, purpose="manifest")
    assert consume_state(session=session, purpose="manifest", state=state)
    assert not consume_state(session=session, purpose="manifest", state=state)


def test_it_issues_unguessable_states(session):
    first = issue_state(session=session, purpose="manifest")
    second = issue_state(session=session, purpose="manifest")
    assert first != second
    assert len(first) >= 40


def test_a_new_state_replaces_the_last_one(session):
    old = issue_state(session=session, purpose="manifest")
    issue_state(session=session, purpose="manifest")
    assert not consume_state(session=session, purpose="manifest", state=old)


def test_the_latest_state_is_accepted(session):
    issue_state(session=session, purpose="manifest")
    latest = issue_state(session=session, purpose="manifest")
    assert consume_state(session=session, purpose="manifest", state=latest)


def test_it_keeps_purposes_apart(session):
    manifest = issue_state(session=session, purpose="manifest")
    install = issue_state(session=session, purpose="install", bound_to="team:1")
    assert not consume_state(session=session, purpose="install", state=manifest, bound_to="team:1")
    assert consume_state(session=session, purpose="manifest", state=manifest)
    assert not consume_state(session=session, purpose="install", state=install, bound_to="team:1")


def test_it_refuses_a_state_bound_to_something_else(session):
    state = issue_state(session=session, purpose="install", bound_to="team:1")
    assert not consume_state(session=session, purpose="install", state=state, bound_to="team:2")


def test_it_accepts_a_state_bound_to_the_same_thing(session):
    state = issue_state(session=session, purpose="install", bound_to="team:1")
    assert consume_state(session=session, purpose="install", state=state, bound_to="team:1")


def test_it_refuses_an_empty_or_unknown_state(session):
    assert not consume_state(session=session, purpose="manifest", state="")
    issue_state(session=session, purpose="manifest")
    assert not consume_state(session=session, purpose="manifest", state="")


def test_it_refuses_an_expired_state(session, monkeypatch):
    state = issue_state(session=session, purpose="manifest")
    monkeypatch.setattr(flow_state, "STATE_LIFETIME", 0)
    assert not consume_state(session=session, purpose="manifest", state=state)
