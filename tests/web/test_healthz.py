from unittest import mock

import pytest
from django.db import OperationalError, connection


@pytest.mark.django_db
def test_it_reports_database_up_and_in_process_broker(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up", "broker": "in-process"}


@pytest.mark.django_db
def test_it_answers_503_when_the_database_is_down(client, settings):
    settings.REDIS_URL = ""
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("boom")):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "down"


@pytest.mark.django_db
def test_it_reports_an_unreachable_broker_as_down_but_stays_up(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["broker"] == "down"


@pytest.mark.redis
@pytest.mark.django_db
def test_it_reports_a_reachable_broker_as_up(client, settings):
    import os

    settings.REDIS_URL = os.environ["REDIS_URL"]
    assert client.get("/healthz").json()["broker"] == "up"


def test_it_refuses_post(client):
    assert client.post("/healthz").status_code == 405
