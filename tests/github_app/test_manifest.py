import json
from pathlib import Path

import pytest
import respx

from github_app.errors import NotFound, ValidationFailed
from github_app.manifest import (
    ManifestError,
    convert_manifest_code,
    creation_url,
    fill_manifest,
)
from tests.github_app.conversions import conversion_answer
from tests.github_app.keys import private_key_pem

API = "https://api.github.com"
MANIFEST = json.loads((Path(__file__).parents[2] / "app-manifest.json").read_text())


def test_the_manifest_asks_for_the_least_the_metrics_need():
    assert MANIFEST["default_permissions"] == {
        "members": "read",
        "metadata": "read",
        "pull_requests": "read",
        # Deployments, their workflow runs, and the commits they shipped (compare).
        "deployments": "read",
        "actions": "read",
        "contents": "read",
    }
    # The events are checked against the routing table in tests/test_layout.py.
    assert MANIFEST["request_oauth_on_install"] is True
    assert MANIFEST["public"] is False
    assert MANIFEST["hook_attributes"]["active"] is True


def test_it_fills_every_url_with_the_base_url():
    manifest = fill_manifest(template=MANIFEST, base_url="https://metrics.example.com/")

    assert "{BASE_URL}" not in json.dumps(manifest)
    assert manifest["url"] == "https://metrics.example.com/"
    assert manifest["hook_attributes"]["url"] == "https://metrics.example.com/webhooks/github/"
    assert manifest["redirect_url"] == "https://metrics.example.com/github/manifest/callback/"
    assert manifest["callback_urls"] == [
        "https://metrics.example.com/github/install/callback/",
        "https://metrics.example.com/github/sign-in/callback/",
    ]
    assert manifest["setup_url"] == "https://metrics.example.com/github/install/callback/"
    assert MANIFEST["url"] == "{BASE_URL}/"


def test_it_names_the_app_when_asked():
    manifest = fill_manifest(template=MANIFEST, base_url="https://m.example.com", name=" Acme ")
    assert manifest["name"] == "Acme"


@pytest.mark.parametrize(
    "base_url", ["", "metrics.example.com", "ftp://m.example.com", "https://m.example.com/?a=1"]
)
def test_it_refuses_a_base_url_that_is_not_one(base_url):
    with pytest.raises(ManifestError):
        fill_manifest(template=MANIFEST, base_url=base_url)


def test_it_sends_the_manifest_to_the_personal_account_or_an_organisation():
    assert (
        creation_url(web_url="https://github.com", state="abc")
        == "https://github.com/settings/apps/new?state=abc"
    )
    assert (
        creation_url(web_url="https://github.com/", state="a b", organization="acme-org")
        == "https://github.com/organizations/acme-org/settings/apps/new?state=a+b"
    )


@pytest.mark.parametrize("organization", ["acme/../x", "-acme", "acme org", "a" * 40])
def test_it_refuses_an_organisation_name_github_would_not_have(organization):
    with pytest.raises(ManifestError):
        creation_url(web_url="https://github.com", state="s", organization=organization)


def test_it_exchanges_the_code_for_the_new_app():
    with respx.mock(base_url=API) as github:
        route = github.post("/app-manifests/code-abc_123/conversions").respond(
            201, json=conversion_answer()
        )
        created = convert_manifest_code(code="code-abc_123", api_url=API)

    assert "Authorization" not in route.calls.last.request.headers
    assert created.app_id == 987654
    assert created.slug == "tformance-acme"
    assert created.owner_login == "acme-org"
    assert created.client_id == "Iv23liAbCdEfGh"
    assert created.client_secret == "client-secret-0123456789abcdef"
    assert created.webhook_secret == "webhook-secret-0123456789abcdef"
    assert created.private_key == private_key_pem()
    for secret in ("client-secret-", "webhook-secret-", "PRIVATE KEY"):
        assert secret not in repr(created)


@pytest.mark.parametrize("code", ["", "../../user", "abc/def", "a" * 101, "abc?x=1"])
def test_it_refuses_a_malformed_code_without_calling_github(code):
    with respx.mock(base_url=API) as github:
        with pytest.raises(ManifestError):
            convert_manifest_code(code=code, api_url=API)
        assert not github.calls


@pytest.mark.parametrize(("status", "error"), [(404, NotFound), (422, ValidationFailed)])
def test_it_explains_a_used_or_expired_code(status, error):
    with respx.mock(base_url=API) as github:
        github.post("/app-manifests/used/conversions").respond(
            status, json={"message": "Not Found"}
        )
        with pytest.raises(error):
            convert_manifest_code(code="used", api_url=API)


def test_it_refuses_an_answer_without_a_usable_key():
    answer = conversion_answer() | {"pem": "garbage"}
    with respx.mock(base_url=API) as github:
        github.post("/app-manifests/c/conversions").respond(201, json=answer)
        with pytest.raises(ValidationFailed, match="no usable private key"):
            convert_manifest_code(code="c", api_url=API)


def test_it_refuses_an_incomplete_answer():
    answer = conversion_answer()
    del answer["client_secret"]
    with respx.mock(base_url=API) as github:
        github.post("/app-manifests/c/conversions").respond(201, json=answer)
        with pytest.raises(ValidationFailed, match="incomplete"):
            convert_manifest_code(code="c", api_url=API)
