"""A 403 is logged as one line, without a traceback: a refusal the page
explains, not a fault (apps/common/logs.py)."""

from __future__ import annotations

import logging

import pytest


def test_it_logs_a_refusal_without_its_traceback(client, owner, caplog):
    client.force_login(owner)  # a team's admin, not staff

    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/github/manifest/")

    assert response.status_code == 403
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage() == "Forbidden (Permission denied): /github/manifest/"
    assert record.exc_info is None


@pytest.mark.django_db
def test_it_logs_a_body_it_cannot_parse_without_its_traceback(client, caplog):
    body = b"--b\r\nContent-Disposition: form-data\r\n\r\nno name\r\n"  # no closing boundary

    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.post("/signup/", body, content_type="multipart/form-data; boundary=")

    assert response.status_code == 400
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage().startswith("Bad request (Unable to parse request body)")
    assert record.exc_info is None


def test_it_keeps_the_traceback_of_an_error(client, owner, caplog, monkeypatch):
    import apps.web.views

    def broken(request):
        raise RuntimeError("a fault")

    client.raise_request_exception = False
    monkeypatch.setattr(apps.web.views, "doc_index", lambda: broken(None))
    client.force_login(owner)

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get("/docs/")

    assert response.status_code == 500
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.exc_info is not None
