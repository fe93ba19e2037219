"""A deployment as docs/deploy.md makes it: static files built by
``collectstatic`` with the production settings (DJANGO_DEBUG off), then the
Procfile's web process serving the pages with their CSS and scripts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from tests.integrations.conftest import own_redis_database
from tests.integrations.processes import Processes, app_env, manage, wait_for
from tests.integrations.test_live_pipeline import _database_url

pytestmark = pytest.mark.integration

REDIS_DB = 14


def _assets(html: str) -> list[str]:
    return re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"', html)


ADMIN = """
from django.contrib.auth import get_user_model
from apps.teams.models import Membership, Team
user = get_user_model().objects.create_user("operator", password="operator-password-1")
Membership.objects.create(user=user, team=Team.objects.get(slug="acme"), role="admin")
"""


def test_it_serves_pages_with_their_css_and_scripts_with_debug_off(
    transactional_db, team, tmp_path: Path
):
    static_root = tmp_path / "static"
    env = app_env(
        database_url=_database_url(),
        redis_url=own_redis_database(REDIS_DB),
        DJANGO_STATIC_ROOT=str(static_root),
        # Plain http in this test: cookies without the Secure flag.
        DJANGO_SECURE_COOKIES="0",
    )
    assert env["DJANGO_DEBUG"] == ""
    manage(env, "collectstatic", "--noinput")
    # With the deployment's password hashers (the tests' are faster ones).
    manage(env, "shell", "-c", ADMIN)
    assert (static_root / "staticfiles.json").exists()
    processes = Processes(env=env, folder=tmp_path)
    try:
        base = processes.web(workers=1)
        with httpx.Client(base_url=base, timeout=20) as browser:
            login = browser.get("/login/")
            assert login.status_code == 200, processes.logs()
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
            assert token is not None
            signed_in = browser.post(
                "/login/",
                data={
                    "username": "operator",
                    "password": "operator-password-1",
                    "csrfmiddlewaretoken": token.group(1),
                },
                headers={"Referer": f"{base}/login/"},
            )
            assert signed_in.status_code == 302, signed_in.text
            dashboard = browser.get("/teams/acme/")
            assert dashboard.status_code == 200, processes.logs()

            assets = _assets(login.text) + _assets(dashboard.text)
            # Hashed names from the manifest collectstatic wrote.
            assert any(re.search(r"/static/css/app\.[0-9a-f]{12}\.css$", a) for a in assets)
            assert any(
                re.search(r"/static/vendor/chart\.umd\.min\.[0-9a-f]{12}\.js$", a) for a in assets
            )
            assert any(re.search(r"/static/js/dashboard\.[0-9a-f]{12}\.js$", a) for a in assets)
            for asset in assets:
                served = browser.get(asset)
                assert served.status_code == 200, asset
                kind = "text/css" if asset.endswith(".css") else "javascript"
                assert kind in served.headers["content-type"], asset
            assert browser.get("/").status_code == 200
    finally:
        processes.stop_all()


def test_the_worker_and_beat_log_one_json_object_a_line(transactional_db, tmp_path: Path):
    # As docs/deploy.md promises for every process: Celery, left to itself,
    # put handlers of its own on the root logger, and the worker's and beat's
    # lines (the app's warnings among them) came out as plain text, unmasked.
    env = app_env(
        database_url=_database_url(),
        redis_url=own_redis_database(REDIS_DB),
        LOG_LEVEL="INFO",
        # Celery warns in plain text, before any logging is set up, when it
        # runs as root, as this test may (a deployment does not).
        PYTHONWARNINGS="ignore:You're running the worker with superuser privileges",
    )
    processes = Processes(env=env, folder=tmp_path)
    logs = {"worker": tmp_path / "worker.log", "beat": tmp_path / "beat.log"}
    ready = {"worker": " ready.", "beat": "beat: Starting"}
    try:
        processes.procfile("worker", WORKER_CONCURRENCY="1")
        processes.procfile("beat", CELERY_BEAT_SCHEDULE_FILE=str(tmp_path / "schedule"))
        for name, log in logs.items():
            wait_for(
                lambda log=log, name=name: log.exists() and ready[name] in log.read_text(),
                timeout=60,
                what=f"the {name} to start",
            )
        # Read before they stop: Celery says its goodbye on stderr, outside logging.
        lines = {name: log.read_text().splitlines() for name, log in logs.items()}
    finally:
        processes.stop_all()
    for name, found in lines.items():
        assert found, name
        for line in found:
            event = json.loads(line)  # a plain line fails here
            assert {"event", "level", "logger", "timestamp"} <= event.keys(), line
