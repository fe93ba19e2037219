"""The manifest flow through the real URLs, with GitHub faked by respx."""

import html
import json
import logging
import re
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
import respx
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from apps.integrations.models import GitHubApp
from apps.integrations.services.app_config import github_app_config, webhook_secrets
from apps.integrations.services.encryption import decrypt_secret
from tests.github_app.conversions import conversion_answer
from tests.github_app.keys import key_body, private_key_pem
from tests.integrations.github_apps import stored_app

PAGE = "/github/manifest/"
CALLBACK = "/github/manifest/callback/"
API = "https://api.github.com"
CODE = "a1b2c3d4e5f6"
CONVERSION = f"/app-manifests/{CODE}/conversions"


@pytest.fixture(autouse=True)
def _github_settings(settings):
    settings.GITHUB_API_URL = API
    settings.GITHUB_WEB_URL = "https://github.com"
    settings.GITHUB_APP_ID = ""
    settings.PUBLIC_BASE_URL = "https://metrics.example.com"


@pytest.fixture
def operator(db, client):
    user = get_user_model().objects.create_user("olga", password="pw", is_staff=True)
    client.force_login(user)
    return user


def _start(client, **fields) -> tuple[str, dict]:
    """Post the manifest form; the action URL's state and the manifest sent."""
    data = {"base_url": "https://metrics.example.com", "organization": "", "name": "tformance"}
    data.update(fields)
    response = client.post(PAGE, data)
    assert response.status_code == 200
    content = response.content.decode()
    action = html.unescape(
        re.search(r'<form id="to-github" method="post" action="([^"]+)"', content).group(1)
    )
    manifest = html.unescape(re.search(r'name="manifest" value="([^"]+)"', content).group(1))
    return action, json.loads(manifest)


def _state(action: str) -> str:
    return parse_qs(urlsplit(action).query)["state"][0]


def test_it_is_for_staff_only(client, owner):
    client.force_login(owner)
    assert client.get(PAGE).status_code == 403
    assert client.get(CALLBACK, {"code": CODE, "state": "x"}).status_code == 403


def test_it_sends_anonymous_visitors_to_log_in(client, db):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/login")


def test_it_offers_the_public_base_url(client, operator):
    content = client.get(PAGE).content.decode()
    assert 'value="https://metrics.example.com"' in content
    assert "Prepare the manifest" in content
    # A local trial works too, as docs/development.md says.
    assert "http://127.0.0.1:8000 works" in content
    assert "github_poll" in content


def test_it_shows_which_app_is_in_use(client, operator, settings):
    stored_app()
    content = client.get(PAGE).content.decode()
    assert "tformance (Acme)" in content
    assert "in use" in content

    settings.GITHUB_APP_ID = "111"
    content = client.get(PAGE).content.decode()
    assert "GITHUB_APP_ID is set (111)" in content
    assert "in use</span>" not in content


def test_it_posts_the_filled_manifest_to_the_personal_account(client, operator):
    action, manifest = _start(client)

    assert action.startswith("https://github.com/settings/apps/new?state=")
    assert manifest["hook_attributes"]["url"] == "https://metrics.example.com/webhooks/github/"
    assert manifest["redirect_url"] == "https://metrics.example.com/github/manifest/callback/"
    assert manifest["default_permissions"] == {
        "members": "read",
        "metadata": "read",
        "pull_requests": "read",
        "deployments": "read",
        "actions": "read",
        "contents": "read",
    }


def test_it_posts_the_manifest_to_an_organisation(client, operator):
    action, manifest = _start(client, organization="acme-org", name="tformance acme")
    assert action.startswith("https://github.com/organizations/acme-org/settings/apps/new?state=")
    assert manifest["name"] == "tformance acme"


def test_it_refuses_an_organisation_name_that_cannot_be_one(client, operator):
    response = client.post(
        PAGE, {"base_url": "https://m.example.com", "organization": "../evil", "name": "t"}
    )
    assert response.status_code == 200
    assert "is not a GitHub organisation name" in response.content.decode()
    assert "Continue to GitHub" not in response.content.decode()


def test_it_creates_and_stores_the_app_encrypted(client, operator):
    action, _ = _start(client)
    with respx.mock(base_url=API) as github:
        github.post(CONVERSION).respond(201, json=conversion_answer())
        response = client.get(CALLBACK, {"code": CODE, "state": _state(action)})

    assert response.status_code == 200
    content = response.content.decode()
    assert "GitHub App created" in content
    assert "https://github.com/apps/tformance-acme/installations/new" in content

    app = GitHubApp.objects.get()
    assert (app.app_id, app.slug, app.owner_login, app.client_id) == (
        987654,
        "tformance-acme",
        "acme-org",
        "Iv23liAbCdEfGh",
    )
    assert app.created_by == operator
    stored = app.client_secret_encrypted + app.webhook_secret_encrypted + app.private_key_encrypted
    assert "client-secret-0123456789abcdef" not in stored
    assert "webhook-secret-0123456789abcdef" not in stored
    assert "PRIVATE KEY" not in stored
    assert decrypt_secret(app.webhook_secret_encrypted) == "webhook-secret-0123456789abcdef"
    assert decrypt_secret(app.private_key_encrypted) == private_key_pem()


def test_the_created_app_is_in_use_at_once(client, operator):
    assert "webhook-secret-0123456789abcdef" not in webhook_secrets()
    action, _ = _start(client)
    with respx.mock(base_url=API) as github:
        github.post(CONVERSION).respond(201, json=conversion_answer())
        client.get(CALLBACK, {"code": CODE, "state": _state(action)})

    assert "webhook-secret-0123456789abcdef" in webhook_secrets()
    assert github_app_config().app_id == "987654"


def test_it_refuses_a_replayed_state(client, operator):
    action, _ = _start(client)
    with respx.mock(base_url=API) as github:
        conversion = github.post(CONVERSION).respond(201, json=conversion_answer())
        client.get(CALLBACK, {"code": CODE, "state": _state(action)})
        replay = client.get(CALLBACK, {"code": CODE, "state": _state(action)})

    assert replay.status_code == 400
    assert "already used" in replay.content.decode()
    assert conversion.call_count == 1


@pytest.mark.parametrize("state", ["", "forged-state"])
def test_it_refuses_a_forged_or_missing_state_without_calling_github(client, operator, state):
    _start(client)
    with respx.mock(base_url=API) as github:
        response = client.get(CALLBACK, {"code": CODE, "state": state})
        assert not github.calls
    assert response.status_code == 400
    assert not GitHubApp.objects.exists()


def test_it_refuses_a_state_issued_to_another_session(client, operator):
    action, _ = _start(client)
    other = get_user_model().objects.create_user("otto", password="pw", is_staff=True)
    client.logout()
    client.force_login(other)
    with respx.mock(base_url=API) as github:
        response = client.get(CALLBACK, {"code": CODE, "state": _state(action)})
        assert not github.calls
    assert response.status_code == 400


def test_a_forged_state_uses_up_the_real_one(client, operator):
    action, _ = _start(client)
    client.get(CALLBACK, {"code": CODE, "state": "forged"})
    with respx.mock(base_url=API) as github:
        response = client.get(CALLBACK, {"code": CODE, "state": _state(action)})
        assert not github.calls
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("status", "page_status", "says"),
    [
        (404, 400, "used once and expires after an hour"),
        (422, 400, "used once and expires after an hour"),
        (401, 502, "GitHub could not complete the app"),
        (500, 502, "GitHub is failing"),
    ],
)
def test_it_explains_github_refusing_or_failing(
    client, operator, no_sleep, status, page_status, says
):
    action, _ = _start(client)
    with respx.mock(base_url=API) as github:
        conversion = github.post(CONVERSION).respond(status, json={"message": "Not Found"})
        response = client.get(CALLBACK, {"code": CODE, "state": _state(action)})

    content = response.content.decode()
    assert conversion.call_count == 1, "the one-time code is never spent twice"
    assert response.status_code == page_status
    assert says in content
    assert "Traceback" not in content
    assert CODE not in content
    assert not GitHubApp.objects.exists()


def test_it_refuses_a_malformed_code(client, operator):
    action, _ = _start(client)
    with respx.mock(base_url=API) as github:
        response = client.get(CALLBACK, {"code": "../../user", "state": _state(action)})
        assert not github.calls
    assert response.status_code == 400


def test_no_secret_reaches_the_logs_or_the_pages(client, operator, caplog, no_sleep):
    caplog.set_level(logging.DEBUG)
    pages = []
    action, _ = _start(client)
    with respx.mock(base_url=API) as github:
        github.post(CONVERSION).respond(201, json=conversion_answer())
        pages.append(client.get(CALLBACK, {"code": CODE, "state": _state(action)}))
    action, _ = _start(client)
    with respx.mock(base_url=API) as github:
        github.post(CONVERSION).respond(500, json={"message": "Server Error"})
        pages.append(client.get(CALLBACK, {"code": CODE, "state": _state(action)}))
    pages.append(client.get(PAGE))

    assert [page.status_code for page in pages] == [200, 502, 200]
    assert caplog.records, "the flow logs what it does"
    text = caplog.text + "".join(page.content.decode() for page in pages)
    for secret in (
        CODE,
        "client-secret-0123456789abcdef",
        "webhook-secret-0123456789abcdef",
        key_body(private_key_pem()),
    ):
        assert secret not in text


def test_the_command_prints_the_filled_manifest():
    out = StringIO()
    call_command("github_manifest", "--base-url", "https://example.com", stdout=out)
    manifest = json.loads(out.getvalue())
    assert manifest["hook_attributes"]["url"] == "https://example.com/webhooks/github/"
    assert manifest["setup_url"] == "https://example.com/github/install/callback/"
    assert "{BASE_URL}" not in out.getvalue()


def test_the_command_needs_a_base_url(settings):
    settings.PUBLIC_BASE_URL = ""
    with pytest.raises(CommandError, match="--base-url"):
        call_command("github_manifest", stdout=StringIO())
    with pytest.raises(CommandError, match="absolute http"):
        call_command("github_manifest", "--base-url", "example.com", stdout=StringIO())
