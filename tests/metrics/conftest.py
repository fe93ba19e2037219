from __future__ import annotations

import pytest

from apps.integrations.models import Installation, Repository
from apps.teams.models import Team
from github_app.webhook_payloads import (
    DEFAULT_INSTALLATION_ID,
    DEFAULT_REPOSITORY_FULL_NAME,
    DEFAULT_REPOSITORY_ID,
)
from tests.metrics.random_history import random_history


@pytest.fixture
def installation(team: Team) -> Installation:
    return Installation.objects.create(
        installation_id=DEFAULT_INSTALLATION_ID, team=team, account_login="acme"
    )


@pytest.fixture
def repository(installation: Installation) -> Repository:
    return Repository.objects.create(
        installation=installation,
        github_id=DEFAULT_REPOSITORY_ID,
        full_name=DEFAULT_REPOSITORY_FULL_NAME,
        tracked=True,
    )


@pytest.fixture
def history(team: Team, installation: Installation) -> dict:
    """A random history of the team (tests/metrics/random_history.py)."""
    return random_history(team, installation)
