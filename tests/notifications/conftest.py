"""Slack, faked on 127.0.0.1 at its documented paths, for the notifications' tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import timezone

from apps.common.encryption import encrypt_secret
from apps.notifications.models import SlackConnection, SlackPerson
from tests.notifications.fake_slack import TOKEN, FakeSlack, FakeSlackServer


@pytest.fixture
def slack(settings) -> Iterator[FakeSlack]:
    """Slack's Web API, faked; the Slack app's settings set."""
    server = FakeSlackServer()
    settings.SLACK_API_URL = server.url
    settings.SLACK_CLIENT_ID = "1234.5678"
    settings.SLACK_CLIENT_SECRET = "slack-client-secret"
    settings.SLACK_SIGNING_SECRET = "slack-signing-secret"
    settings.PUBLIC_BASE_URL = "https://metrics.example.com"
    with server as fake:
        yield fake


@pytest.fixture
def connected(team, owner, slack) -> SlackConnection:
    """The team connected to the fake Slack workspace."""
    return SlackConnection.objects.create(
        team=team,
        slack_team_id="T0ACME",
        slack_team_name="Acme Slack",
        bot_user_id="U0BOT",
        bot_token_encrypted=encrypt_secret(TOKEN),
        connected_by=owner,
        connected_at=timezone.now(),
    )


def slack_person(*, team, user, slack_user_id: str, tz: str = "Europe/London") -> SlackPerson:
    return SlackPerson.objects.create(
        team=team, user=user, slack_user_id=slack_user_id, time_zone=tz, matched_by="email"
    )
