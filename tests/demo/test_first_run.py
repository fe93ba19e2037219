"""`make run` loads the demo once: on an empty database with no GitHub App
configured, and never again after."""

from __future__ import annotations

import shutil
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from apps.integrations.models import GitHubApp, WebhookDelivery
from apps.metrics.models import PullRequest
from apps.teams.models import Team
from tests.integrations.conftest import WEBHOOK_URL

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_app(settings):
    """A fresh local trial: no app, no webhook secret."""
    settings.GITHUB_APP_ID = ""
    settings.GITHUB_WEBHOOK_SECRETS = []
    return settings


def _first_run(capture) -> str:
    out = StringIO()
    with capture(execute=True):
        call_command("demo", "--first-run", stdout=out)
    return out.getvalue()


def test_it_loads_the_demo_on_an_empty_database_once(no_app, django_capture_on_commit_callbacks):
    first = _first_run(django_capture_on_commit_callbacks)

    assert "Log in at http://127.0.0.1:8000/login/ as  demo-admin  with password" in first
    merged = PullRequest.objects.filter(state="merged").count()
    deliveries = WebhookDelivery.objects.count()
    assert merged >= 50

    second = _first_run(django_capture_on_commit_callbacks)

    # Not loaded again, but how to log in is printed again (the password is
    # hashed: where it came from, and how to get a new one).
    assert "The demo is loaded" in second
    assert "Demo team: http://127.0.0.1:8000/teams/demo-team/" in second
    assert "Log in at http://127.0.0.1:8000/login/ as  demo-admin  with the password" in second
    assert "make demo RESET_PASSWORD=1" in second
    assert "Posted" not in second
    assert PullRequest.objects.filter(state="merged").count() == merged
    assert WebhookDelivery.objects.count() == deliveries


def test_it_says_why_it_skips_a_database_someone_else_uses(
    no_app, django_capture_on_commit_callbacks
):
    get_user_model().objects.create_user("first-user", password="pw-first-user-1")

    out = _first_run(django_capture_on_commit_callbacks)

    assert "Demo data not loaded: the database already has users or teams." in out
    assert "Log in at http://127.0.0.1:8000/login/" in out
    assert "password" not in out


def test_it_leaves_the_secret_settings_as_they_were(
    no_app, client, django_capture_on_commit_callbacks
):
    _first_run(django_capture_on_commit_callbacks)

    # The demo's one-off secret was for its own posts: nothing was stored, and
    # the endpoint still refuses what is not signed.
    assert no_app.GITHUB_WEBHOOK_SECRETS == []
    assert not GitHubApp.objects.exists()
    response = client.post(
        WEBHOOK_URL,
        b"{}",
        content_type="application/json",
        HTTP_X_GITHUB_EVENT="ping",
        HTTP_X_GITHUB_DELIVERY="after-the-demo",
    )
    assert response.status_code == 401


def test_it_skips_the_demo_when_an_app_is_configured(no_app, django_capture_on_commit_callbacks):
    no_app.GITHUB_APP_ID = "12345"

    out = _first_run(django_capture_on_commit_callbacks)

    assert "Demo data not loaded: a GitHub App is configured." in out
    assert not Team.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_it_skips_the_demo_when_an_app_was_created_from_the_manifest(
    no_app, django_capture_on_commit_callbacks
):
    GitHubApp.objects.create(
        app_id=1,
        slug="tformance",
        name="tformance",
        client_id="Iv1.x",
        client_secret_encrypted="x",
        webhook_secret_encrypted="x",
        private_key_encrypted="x",
    )

    out = _first_run(django_capture_on_commit_callbacks)

    assert "a GitHub App is configured" in out
    assert not Team.objects.exists()


def test_it_skips_the_demo_when_a_webhook_secret_is_set(
    settings, django_capture_on_commit_callbacks
):
    settings.GITHUB_APP_ID = ""
    settings.GITHUB_WEBHOOK_SECRETS = ["a-real-secret"]

    out = _first_run(django_capture_on_commit_callbacks)

    assert "GITHUB_WEBHOOK_SECRET is set" in out
    assert not Team.objects.exists()


def test_it_skips_the_demo_when_someone_has_signed_up(no_app, django_capture_on_commit_callbacks):
    get_user_model().objects.create_user("first-user", password="pw-first-user-1")

    out = _first_run(django_capture_on_commit_callbacks)

    assert "the database already has users or teams" in out
    assert not WebhookDelivery.objects.exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_it_is_what_make_run_does_before_serving():
    commands = subprocess.run(
        ["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    demo = next(i for i, line in enumerate(commands) if "manage.py demo --first-run" in line)
    migrate = next(i for i, line in enumerate(commands) if "manage.py migrate" in line)
    serve = next(i for i, line in enumerate(commands) if "manage.py runserver" in line)
    assert migrate < demo < serve
