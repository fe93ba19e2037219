"""POST /webhooks/github/: verify, store once, answer, queue after commit."""

from __future__ import annotations

import json

import pytest

from apps.integrations.models import WebhookDelivery
from apps.integrations.views.webhooks import MAX_BODY_BYTES
from tests.integrations.conftest import SECRET, WEBHOOK_URL, signed_headers
from tests.payloads.installations import installation_event, ping_event
from tests.sessions import drop_connection_from_the_server_side

pytestmark = pytest.mark.django_db


def _post(client, body: bytes, **headers):
    return client.post(WEBHOOK_URL, body, content_type="application/json", **headers)


def test_it_stores_a_signed_delivery_and_answers_202(deliver):
    payload = installation_event(action="created", installation_id=77)

    response = deliver("installation", payload, delivery_id="d-1")

    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get(delivery_id="d-1")
    assert (delivery.event, delivery.action, delivery.installation_id) == (
        "installation",
        "created",
        77,
    )
    assert delivery.hook_id == 424242
    assert delivery.payload == json.dumps(payload)


def test_it_keeps_the_raw_body_exactly_as_signed(client):
    body = b'{"zen": "Keep it logically awesome.",   "hook_id": 1,\n "caf\\u00e9": "\xc3\xa9"}'

    response = _post(client, body, **signed_headers(body, event="ping", delivery_id="raw"))

    assert response.status_code == 202
    assert WebhookDelivery.objects.get(delivery_id="raw").payload == body.decode()


def test_it_queues_processing_once_the_delivery_is_committed(
    client, django_capture_on_commit_callbacks
):
    body = json.dumps(ping_event()).encode()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _post(client, body, **signed_headers(body, event="ping", delivery_id="p-1"))

    assert len(callbacks) == 1
    delivery = WebhookDelivery.objects.get(delivery_id="p-1")
    assert delivery.status == WebhookDelivery.Status.IGNORED


def test_it_answers_200_to_a_repeated_delivery_and_changes_nothing(
    client, deliver, django_capture_on_commit_callbacks
):
    deliver("ping", ping_event(), delivery_id="same")
    before = WebhookDelivery.objects.get(delivery_id="same")
    body = json.dumps(ping_event(hook_id=1)).encode()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _post(
            client, body, **signed_headers(body, event="pull_request", delivery_id="same")
        )

    assert response.status_code == 200
    assert callbacks == []
    after = WebhookDelivery.objects.get(delivery_id="same")
    assert (after.event, after.payload, after.status, after.attempts, after.received_at) == (
        before.event,
        before.payload,
        before.status,
        before.attempts,
        before.received_at,
    )


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=" + "0" * 64,
        "sha256=not-hex",
        "sha1=0123456789abcdef0123456789abcdef01234567",
    ],
    ids=["missing", "empty", "wrong", "malformed", "sha1"],
)
def test_it_answers_401_and_stores_nothing_without_a_valid_signature(client, signature):
    body = json.dumps(ping_event()).encode()
    headers = signed_headers(body, event="ping")
    headers.pop("HTTP_X_HUB_SIGNATURE_256")
    if signature is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature

    response = _post(client, body, **headers)

    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists()


def test_it_rejects_a_body_signed_with_another_secret(client):
    body = json.dumps(ping_event()).encode()

    response = _post(client, body, **signed_headers(body, event="ping", secret="not-the-secret"))

    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists()


def test_it_rejects_a_body_altered_after_signing(client):
    body = json.dumps(ping_event()).encode()
    headers = signed_headers(body, event="ping")

    response = _post(client, body.replace(b"dilutes", b"improves"), **headers)

    assert response.status_code == 401


def test_it_accepts_any_secret_of_a_rotation(client, settings):
    settings.GITHUB_WEBHOOK_SECRETS = ["new-secret", SECRET]
    body = json.dumps(ping_event()).encode()

    response = _post(client, body, **signed_headers(body, event="ping", secret="new-secret"))

    assert response.status_code == 202


@pytest.mark.parametrize(
    ("missing", "reason"),
    [
        ("HTTP_X_GITHUB_DELIVERY", b"missing X-GitHub-Delivery header"),
        ("HTTP_X_GITHUB_EVENT", b"missing X-GitHub-Event header"),
    ],
)
def test_it_answers_400_with_the_reason_when_a_header_is_missing(client, missing, reason):
    body = json.dumps(ping_event()).encode()
    headers = signed_headers(body, event="ping")
    del headers[missing]

    response = _post(client, body, **headers)

    assert response.status_code == 400
    assert reason in response.content
    assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", b"body is not JSON"),
        (b"\xff\xfe{}", b"body is not JSON"),
        # Nested deeper than any parser should follow: a 400, not a crash.
        (b'{"a": ' * 100_000 + b"1" + b"}" * 100_000, b"body is not JSON"),
        # Outside JSON's grammar (RFC 8259), though Python's json module reads it.
        (b'{"a": NaN}', b"body is not JSON"),
        (b"[1, 2]", b"body is not a JSON object"),
        (b'"text"', b"body is not a JSON object"),
    ],
)
def test_it_answers_400_to_a_signed_body_that_is_not_a_json_object(client, body, reason):
    response = _post(client, body, **signed_headers(body, event="ping"))

    assert response.status_code == 400
    assert reason in response.content
    assert not WebhookDelivery.objects.exists()


def test_it_accepts_a_body_larger_than_djangos_default_upload_limit(client, settings):
    filler = "x" * (3 * 1024 * 1024)
    assert len(filler) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = json.dumps({**ping_event(), "filler": filler}).encode()

    response = _post(client, body, **signed_headers(body, event="ping", delivery_id="big"))

    assert response.status_code == 202
    assert len(WebhookDelivery.objects.get(delivery_id="big").payload) == len(body)


def test_it_answers_413_to_a_body_over_githubs_25_mb_cap(client):
    body = b'{"filler": "' + b"x" * MAX_BODY_BYTES + b'"}'

    response = _post(client, body, **signed_headers(body, event="ping"))

    assert response.status_code == 413
    assert not WebhookDelivery.objects.exists()


def test_it_only_takes_posts(client):
    assert client.get(WEBHOOK_URL).status_code == 405


def test_it_needs_no_csrf_token(db):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    body = json.dumps(ping_event()).encode()

    response = _post(csrf_client, body, **signed_headers(body, event="ping"))

    assert response.status_code == 202


def test_it_answers_before_the_middleware_of_pages(client):
    body = json.dumps(ping_event()).encode()

    webhook = _post(client, body, **signed_headers(body, event="ping"))
    page = client.get("/login/")

    # Headers the pages' middleware sets on every response it sees.
    assert "X-Frame-Options" in page.headers
    assert "X-Content-Type-Options" in page.headers
    assert webhook.status_code == 202
    assert "X-Frame-Options" not in webhook.headers
    assert "X-Content-Type-Options" not in webhook.headers


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "earlier_delivery",
    [False, True],
    ids=["first statement reads the secrets", "first statement stores the delivery"],
)
def test_it_stores_a_delivery_arriving_on_a_connection_the_database_dropped(
    client, earlier_delivery
):
    if earlier_delivery:
        # Caches the secrets: the next request's first statement is the insert.
        body = json.dumps(ping_event()).encode()
        _post(client, body, **signed_headers(body, event="ping", delivery_id="before"))
    body = json.dumps(ping_event()).encode()
    drop_connection_from_the_server_side()

    response = _post(client, body, **signed_headers(body, event="ping", delivery_id="after"))

    assert response.status_code == 202
    assert WebhookDelivery.objects.filter(delivery_id="after").exists()


@pytest.mark.postgres
def test_it_sends_the_body_to_postgresql_apart_from_the_insert(client):
    # Quoted into the statement, a 20 KB body cost PostgreSQL more to read
    # than the rest of the insert (apps/common/connections.py).
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    body = json.dumps({**ping_event(), "zen": "a sentence only the body holds"}).encode()

    with CaptureQueriesContext(connection) as queries:
        response = _post(client, body, **signed_headers(body, event="ping", delivery_id="apart"))

    assert response.status_code == 202
    inserts = [q["sql"] for q in queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1
    assert "a sentence only the body holds" not in inserts[0]
    assert WebhookDelivery.objects.get(delivery_id="apart").payload == body.decode()


@pytest.mark.postgres
def test_it_stores_a_large_body_compressed_with_lz4(client):
    # pglz, PostgreSQL's default, cost a quarter more of the database's CPU
    # per delivery in bench/webhook_load.py (migration 0003 of integrations).
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        if not cursor.fetchone()[0]:
            pytest.skip("this PostgreSQL was built without lz4")
    # Large enough to be compressed (PostgreSQL tries from about 2 KB).
    payload = {**ping_event(), "zen": "Design for failure. " * 200}
    body = json.dumps(payload).encode()

    response = _post(client, body, **signed_headers(body, event="ping", delivery_id="lz4"))

    assert response.status_code == 202
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_compression(payload), pg_column_size(payload) "
            "FROM integrations_webhookdelivery WHERE delivery_id = 'lz4'"
        )
        compression, stored_size = cursor.fetchone()
    assert compression == "lz4"
    assert stored_size < len(body) / 4
    assert WebhookDelivery.objects.get(delivery_id="lz4").payload == body.decode()
