"""A deployment as docs/deploy.md makes it: static files built by
``collectstatic`` with the production settings (DJANGO_DEBUG off), then the
Procfile's web process serving the pages with their CSS and scripts."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.integrations.conftest import own_redis_database
from tests.integrations.processes import Processes, app_env, manage
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
