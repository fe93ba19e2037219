"""What a real deployment relies on: check --deploy, /metrics for an operator
only, JSON logs without secrets, a plain 503 while the database is away,
login throttling, deliveries read-only in the admin."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import OperationalError
from django.utils import timezone

from apps.common.logs import StructuredFormatter
from apps.integrations.models import WebhookDelivery
from tests.integrations.conftest import WEBHOOK_URL, signed_headers
from tests.payloads.installations import ping_event

BASE_DIR = Path(django_settings.BASE_DIR)


def test_it_passes_the_deploy_check_with_debug_off_and_a_secret_key():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "",
        "DJANGO_SECRET_KEY": "k" * 20 + "-a-long-random-production-key-0123456789",
        "DJANGO_ALLOWED_HOSTS": "tformance.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def _delivery(status: str, *, age: timedelta = timedelta(0), **fields) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        delivery_id=f"{status}-{WebhookDelivery.objects.count()}",
        event="ping",
        payload="{}",
        received_at=timezone.now() - age,
        status=status,
        **fields,
    )


@pytest.mark.django_db
def test_it_reports_deliveries_and_the_queue_to_a_bearer_of_the_token(client, settings):
    settings.METRICS_TOKEN = "operator-token-123"
    _delivery("received", age=timedelta(minutes=5))
    _delivery("received")
    _delivery("processed")
    _delivery("ignored")
    _delivery("failed", next_attempt_at=timezone.now() - timedelta(seconds=1))
    _delivery("failed", next_attempt_at=None)

    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer operator-token-123")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    for line in [
        'tformance_webhook_deliveries{status="received"} 2.0',
        'tformance_webhook_deliveries{status="processed"} 1.0',
        'tformance_webhook_deliveries{status="ignored"} 1.0',
        'tformance_webhook_deliveries{status="failed"} 2.0',
        "tformance_webhook_deliveries_stored 6.0",
        "tformance_webhook_queue_depth 3.0",
        "tformance_webhook_retries_scheduled 1.0",
    ]:
        assert line in text.splitlines(), text
    (oldest,) = [
        line for line in text.splitlines() if line.startswith("tformance_webhook_oldest_waiting")
    ]
    assert 299 <= float(oldest.split()[1]) < 400


@pytest.mark.django_db
def test_it_reports_no_waiting_delivery_as_age_zero(client, settings):
    settings.METRICS_TOKEN = "operator-token-123"
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer operator-token-123")
    assert "tformance_webhook_oldest_waiting_seconds 0.0" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization", ["", "Bearer wrong", "Bearer operator-token-12", "Basic operator-token-123"]
)
def test_it_hides_metrics_from_anyone_else(client, settings, authorization):
    settings.METRICS_TOKEN = "operator-token-123"
    response = client.get("/metrics", HTTP_AUTHORIZATION=authorization)
    assert response.status_code == 404


@pytest.mark.django_db
def test_it_hides_metrics_when_no_token_or_network_is_set(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.django_db
def test_it_shows_metrics_to_an_allowed_network(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.1").status_code == 404
    # A forwarded-for header is the client's word: it does not count.
    assert (
        client.get("/metrics", REMOTE_ADDR="192.168.1.1", HTTP_X_FORWARDED_FOR="10.1.2.3")
    ).status_code == 404


def _formatted(record: logging.LogRecord) -> dict:
    return json.loads(StructuredFormatter(json=True).format(record))


def test_it_writes_one_json_object_per_event_with_the_delivery_fields():
    record = logging.LogRecord("apps.x", logging.INFO, __file__, 1, "delivery %s", ("d-1",), None)
    record.delivery_id, record.installation_id, record.team = "d-1", 42, "acme"

    line = _formatted(record)

    assert line["event"] == "delivery d-1"
    assert (line["delivery_id"], line["installation_id"], line["team"]) == ("d-1", 42, "acme")
    assert (line["level"], line["logger"]) == ("info", "apps.x")
    assert "timestamp" in line


def test_it_never_writes_a_secret(settings):
    settings.GITHUB_WEBHOOK_SECRETS = ["whsec-rotating-1", "whsec-rotating-2"]
    settings.GITHUB_APP_CLIENT_SECRET = "client-secret-value"
    settings.METRICS_TOKEN = "metrics-token-value"
    settings.GITHUB_APP_PRIVATE_KEY = (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
    )
    record = logging.LogRecord(
        "apps.x",
        logging.WARNING,
        __file__,
        1,
        "signed with %s, then %s; key line %s",
        ("whsec-rotating-2", "client-secret-value", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),
        None,
    )
    record.access_token = "ghs_anything"
    record.detail = "Bearer metrics-token-value"

    text = StructuredFormatter(json=True).format(record)

    for secret in [
        "whsec-rotating-2",
        "client-secret-value",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "ghs_anything",
        "metrics-token-value",
    ]:
        assert secret not in text
    assert json.loads(text)["access_token"] == "[secret]"


@pytest.mark.django_db
def test_it_logs_a_received_delivery_as_json_with_its_ids(client, caplog):
    body = json.dumps({**ping_event(), "installation": {"id": 77}}).encode()
    with caplog.at_level(logging.INFO, logger="apps.integrations.views.webhooks"):
        client.post(
            WEBHOOK_URL,
            body,
            content_type="application/json",
            **signed_headers(body, event="ping", delivery_id="logged-1"),
        )
    (record,) = [r for r in caplog.records if getattr(r, "delivery_id", None) == "logged-1"]
    line = _formatted(record)
    assert line["event"] == "webhook delivery received"
    assert (line["installation_id"], line["github_event"]) == (77, "ping")


@pytest.mark.django_db
def test_it_answers_a_plain_503_when_the_database_is_away_from_a_page(client, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("connection to server at 10.0.0.1 failed: timeout expired")

    monkeypatch.setattr("apps.web.views.teams_for_user", unreachable)

    response = client.get("/")

    assert response.status_code == 503
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content == b"the database is unavailable; try again shortly\n"
    assert "10.0.0.1" not in response.content.decode()


@pytest.mark.django_db
def test_it_answers_the_webhook_503_when_the_database_is_away(client, monkeypatch):
    def unreachable(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("apps.integrations.views.webhooks.store_delivery", unreachable)
    body = json.dumps(ping_event()).encode()

    response = client.post(
        WEBHOOK_URL, body, content_type="application/json", **signed_headers(body, event="ping")
    )

    assert response.status_code == 503
    assert response.content == b"the database is unavailable; try again shortly\n"


@pytest.mark.django_db
def test_it_does_not_store_a_delivery_too_late_to_commit_and_answers_503(client, settings):
    # Less than the commit allowance (2 s) left from the start: the insert runs,
    # the transaction is rolled back, the answer is a 503.
    settings.WEBHOOK_DEADLINE_SECONDS = 1.5
    body = json.dumps(ping_event()).encode()

    response = client.post(
        WEBHOOK_URL, body, content_type="application/json", **signed_headers(body, event="ping")
    )

    assert response.status_code == 503
    assert not WebhookDelivery.objects.exists()


@pytest.fixture
def login_user(db):
    from django.core.cache import cache

    cache.clear()
    return get_user_model().objects.create_user("dana", password="right-password-1")


def _login(client, username: str, password: str, address: str = "203.0.113.5"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_it_throttles_logins_after_repeated_failures_for_a_name(client, login_user, settings):
    settings.LOGIN_FAILURES_ALLOWED = 3
    for attempt in range(3):
        assert _login(client, "dana", "wrong", address=f"203.0.113.{attempt}").status_code == 200

    blocked = _login(client, "Dana", "right-password-1", address="198.51.100.9")

    assert blocked.status_code == 429
    assert b"Too many login attempts" in blocked.content
    assert "_auth_user_id" not in client.session


def test_it_throttles_logins_from_one_address_across_names(client, login_user, settings):
    settings.LOGIN_FAILURES_ALLOWED = 3
    for name in ["a", "b", "c"]:
        _login(client, name, "wrong")
    assert _login(client, "dana", "right-password-1").status_code == 429
    assert _login(client, "dana", "right-password-1", address="198.51.100.9").status_code == 302


def test_it_lets_a_user_in_below_the_limit_and_clears_the_count(client, login_user, settings):
    settings.LOGIN_FAILURES_ALLOWED = 3
    _login(client, "dana", "wrong", address="198.51.100.1")
    _login(client, "dana", "wrong", address="198.51.100.2")
    assert _login(client, "dana", "right-password-1", address="198.51.100.3").status_code == 302
    client.logout()
    _login(client, "dana", "wrong", address="198.51.100.4")
    _login(client, "dana", "wrong", address="198.51.100.5")
    assert _login(client, "dana", "right-password-1", address="198.51.100.6").status_code == 302


def _login_through_proxy(client, username: str, password: str, forwarded_for: str):
    # Every request comes from the proxy; it appends its client's address.
    return client.post(
        "/login/",
        {"username": username, "password": password},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


def test_it_counts_failures_by_the_address_the_trusted_proxy_reports(client, login_user, settings):
    settings.LOGIN_FAILURES_ALLOWED = 3
    settings.TRUSTED_PROXY_COUNT = 1
    # One client tries three names; what it puts in X-Forwarded-For itself is
    # left of what the proxy appended, and changes nothing.
    for attempt, name in enumerate(["a", "b", "c"]):
        _login_through_proxy(client, name, "wrong", f"192.0.2.{attempt}, 203.0.113.7")

    assert (
        _login_through_proxy(client, "dana", "right-password-1", "203.0.113.7").status_code == 429
    )
    # Everyone else behind the same proxy still logs in.
    assert (
        _login_through_proxy(client, "dana", "right-password-1", "198.51.100.8").status_code == 302
    )


def test_it_reads_the_connection_address_with_no_trusted_proxy(client, login_user, settings):
    settings.LOGIN_FAILURES_ALLOWED = 3
    settings.TRUSTED_PROXY_COUNT = 0
    for attempt, name in enumerate(["a", "b", "c"]):
        # A client cannot spread its failures over invented addresses.
        _login_through_proxy(client, name, "wrong", f"192.0.2.{attempt}")
    assert (
        _login_through_proxy(client, "dana", "right-password-1", "198.51.100.8").status_code == 429
    )


def test_it_defaults_to_one_trusted_proxy_behind_a_tls_proxy():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "1",
        "DJANGO_BEHIND_TLS_PROXY": "1",
    }
    env.pop("DJANGO_TRUSTED_PROXY_COUNT", None)
    code = "from django.conf import settings; print(settings.TRUSTED_PROXY_COUNT)"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "1", result.stderr


def test_it_lets_logins_through_and_says_so_while_the_cache_is_down(
    client, login_user, settings, caplog
):
    settings.LOGIN_FAILURES_ALLOWED = 1
    # A Redis that is not there (nothing listens on the port).
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }

    with caplog.at_level(logging.WARNING, logger="apps.teams.throttle"):
        wrong = _login(client, "dana", "wrong")
        right = _login(client, "dana", "right-password-1")

    assert wrong.status_code == 200
    assert right.status_code == 302
    assert "login throttle off: the cache is unavailable" in caplog.messages


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.django_db
def test_it_shows_stored_deliveries_read_only_in_the_admin(admin_client):
    delivery = _delivery("processed")
    url = f"/admin/integrations/webhookdelivery/{delivery.pk}/change/"

    page = admin_client.get(url)
    posted = admin_client.post(url, {"payload": '{"forged": true}', "status": "received"})

    assert page.status_code == 200
    assert b'name="payload"' not in page.content
    assert posted.status_code == 403
    delivery.refresh_from_db()
    assert (delivery.payload, delivery.status) == ("{}", "processed")
    assert admin_client.get("/admin/integrations/webhookdelivery/add/").status_code == 403
    assert (
        admin_client.post(
            f"/admin/integrations/webhookdelivery/{delivery.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert WebhookDelivery.objects.filter(pk=delivery.pk).exists()


@pytest.fixture
def json_log():
    """Every log line, as the deployment writes it (the JSON formatter), in a list."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(StructuredFormatter(json=True))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lines
    finally:
        root.removeHandler(handler)


def test_it_never_logs_an_invitation_token_or_a_github_code(owner, team, json_log):
    from django.test import Client

    from apps.teams.services.invitations import invitation_create

    _, token = invitation_create(team=team, created_by=owner)
    browser = Client(enforce_csrf_checks=True)
    # A join without its CSRF token (403, logged by django.security.csrf with
    # the path), the manifest callback with a one-time code (a refusal, logged
    # by django.request with the request and its query), a 404 under a token.
    assert browser.post(f"/teams/acme/join/{token}/").status_code == 403
    browser.get("/github/manifest/callback/?code=one-time-code-123&state=state-456")
    assert browser.get(f"/teams/nope/join/{token}/").status_code == 404

    text = "\n".join(json_log)
    assert "/teams/acme/join/[redacted]/" in text
    for secret in [token, "one-time-code-123", "state-456"]:
        assert secret not in text


def test_the_access_log_names_paths_without_their_secrets(json_log, caplog):
    from tests.test_web_server import _call, _scope

    def wsgi(environ, start_response):
        start_response("302 Found", [("Location", "/login/")])
        return [b""]

    from config.web import BufferedWSGI, Lane

    bridge = BufferedWSGI(wsgi, lanes={}, default=Lane("pages", 1))
    with caplog.at_level(logging.INFO, logger="tformance.access"):
        scope = _scope("/teams/acme/join/secret-token-1/", {}, method="GET")
        _call(bridge, scope, [b""])
        login = _scope("/login/", {}, method="GET")
        login["query_string"] = b"next=%2Fteams%2Facme%2Fjoin%2Fsecret-token-2%2F"
        _call(bridge, login, [b""])
        callback = _scope("/github/install/callback/", {}, method="GET")
        callback["query_string"] = b"installation_id=5&code=secret-code-3"
        _call(bridge, callback, [b""])

    text = "\n".join(json_log)
    assert '"GET /teams/acme/join/[redacted]/ 302"' in text
    assert "installation_id=5" in text
    for secret in ["secret-token-1", "secret-token-2", "secret-code-3"]:
        assert secret not in text
