"""Rotating the webhook secret of an app created from the manifest: the old
secret keeps working until the new one is stored, then it is refused."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from tests.integrations.conftest import WEBHOOK_URL, signed_headers
from tests.integrations.github_apps import stored_app
from tests.payloads.installations import ping_event

pytestmark = pytest.mark.django_db

OLD = "stored-webhook-secret-old"
NEW = "a-brand-new-webhook-secret"


def post(client, secret: str) -> int:
    body = json.dumps(ping_event()).encode()
    return client.post(
        WEBHOOK_URL,
        body,
        content_type="application/json",
        **signed_headers(body, event="ping", secret=secret),
    ).status_code


def store_new_secret(monkeypatch, secret: str) -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO(secret + "\n"))
    out = io.StringIO()
    call_command("github_webhook_secret", stdout=out)
    return out.getvalue()


def test_it_retires_the_old_secret_once_the_new_one_is_stored(client, settings, monkeypatch):
    stored_app(webhook_secret=OLD)
    settings.GITHUB_WEBHOOK_SECRETS = [NEW]  # step 1: the new secret in the environment
    assert post(client, OLD) == 202
    assert post(client, NEW) == 202

    output = store_new_secret(monkeypatch, NEW)  # step 3, after GitHub signs with NEW

    assert "no longer accepted" in output
    assert NEW not in output
    assert post(client, OLD) == 401
    assert post(client, NEW) == 202


def test_it_refuses_a_short_secret(monkeypatch):
    stored_app(webhook_secret=OLD)
    with pytest.raises(CommandError, match="at least 16 characters"):
        store_new_secret(monkeypatch, "short")


def test_it_says_when_there_is_no_stored_app(monkeypatch):
    with pytest.raises(CommandError, match="no GitHub App was created"):
        store_new_secret(monkeypatch, NEW)
