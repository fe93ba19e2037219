"""Hostile input at the webhook: a header at fault is a 400 with the reason; a
signed payload at fault is stored (its unusable columns left blank) and ends
failed or ignored with a reason, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from apps.integrations.models import WebhookDelivery
from github_app.webhook_payloads import pull_request_payload
from tests.integrations.conftest import WEBHOOK_URL, installation_for, signed_headers
from tests.payloads.installations import ping_event

pytestmark = pytest.mark.django_db

FINISHED = {"processed", "ignored", "failed"}


def _post(client, body: bytes, **headers: str):
    return client.post(WEBHOOK_URL, body, content_type="application/json", **headers)


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        ("HTTP_X_GITHUB_HOOK_ID", "²", b"X-GitHub-Hook-ID header is not a number"),
        ("HTTP_X_GITHUB_HOOK_ID", str(2**63), b"X-GitHub-Hook-ID header is out of range"),
        ("HTTP_X_GITHUB_HOOK_ID", "-7", b"X-GitHub-Hook-ID header is not a number"),
        (
            "HTTP_X_GITHUB_HOOK_INSTALLATION_TARGET_ID",
            str(2**64),
            b"X-GitHub-Hook-Installation-Target-ID header is out of range",
        ),
        ("HTTP_X_GITHUB_DELIVERY", "id\x00", b"X-GitHub-Delivery header holds a control character"),
        ("HTTP_X_GITHUB_EVENT", "ping\x00", b"X-GitHub-Event header holds a control character"),
    ],
)
def test_it_answers_400_with_the_reason_to_a_malformed_header(client, header, value, reason):
    body = json.dumps(ping_event()).encode()
    headers = {**signed_headers(body, event="ping"), header: value}

    response = _post(client, body, **headers)

    assert response.status_code == 400
    assert response.content.decode().strip() == reason.decode()
    assert not WebhookDelivery.objects.exists()


def _pr(**changes: Any) -> dict[str, Any]:
    payload = pull_request_payload("opened", pr_id=7, installation_id=42, repository_id=100)
    for path, value in changes.items():
        block = payload
        *parents, last = path.split("__")
        for parent in parents:
            block = block[parent]
        block[last] = value
    return payload


@pytest.mark.parametrize(
    ("payload", "columns"),
    [
        (_pr(installation__id=2**63), {"installation_id": None}),
        (_pr(installation__id=2**64 - 1), {"installation_id": None}),
        (_pr(installation__id=-42), {"installation_id": None}),
        (_pr(installation__id="42"), {"installation_id": None}),
        (_pr(repository__id=2**63), {"repository_github_id": None}),
        (_pr(repository__id=True), {"repository_github_id": None}),
        (_pr(action="opened\x00"), {"action": ""}),
        (_pr(action=["opened"]), {"action": ""}),
        (_pr(repository__full_name="acme/api\x00"), {"repository_full_name": ""}),
        (_pr(repository__full_name={"x": 1}), {"repository_full_name": ""}),
        (_pr(repository="acme/api"), {"repository_github_id": None, "repository_full_name": ""}),
        (_pr(installation=None), {"installation_id": None}),
    ],
)
def test_it_stores_a_signed_payload_at_fault_with_blank_columns(deliver, team, payload, columns):
    installation_for(team=team, installation_id=42, login="acme")

    response = deliver("pull_request", payload, delivery_id="bad")

    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get(delivery_id="bad")
    assert {name: getattr(delivery, name) for name in columns} == columns
    assert delivery.payload == json.dumps(payload)
    # The drain's part: it ends finished, with a reason, never waiting.
    assert delivery.status in FINISHED
    if delivery.status != "processed":
        assert delivery.status_reason or delivery.last_error


def test_it_stores_an_integer_beyond_64_bits_with_the_column_blank(deliver):
    # orjson reads an integer beyond 64 bits as a float: no GitHub id.
    payload: dict[str, Any] = {"installation": {"id": 10**30}, "action": "opened"}

    response = deliver("pull_request", payload, delivery_id="huge")

    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get(delivery_id="huge")
    assert (delivery.installation_id, delivery.status) == (None, "ignored")
    assert delivery.status_reason
