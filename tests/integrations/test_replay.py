"""``manage.py github_replay PATH --event NAME``: payload files through the same
pipeline as the webhook."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from apps.integrations.models import Installation, WebhookDelivery
from apps.metrics.models import PullRequest
from github_app.webhook_payloads import pull_request_payload
from tests.integrations.conftest import installation_for, repository_for
from tests.payloads.installations import installation_event, repository_stub

pytestmark = pytest.mark.django_db


def _write(tmp_path, name, payload):
    path = tmp_path / name
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def test_it_replays_a_payload_file_through_the_pipeline(tmp_path, capsys):
    path = _write(
        tmp_path,
        "installation.created.json",
        installation_event(
            action="created",
            installation_id=77,
            repositories=[repository_stub(repository_id=501, full_name="acme-org/hello")],
        ),
    )

    call_command("github_replay", str(path), "--event", "installation")

    installation = Installation.objects.get(installation_id=77)
    assert installation.repositories.get().full_name == "acme-org/hello"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event, delivery.action, delivery.status) == (
        "installation",
        "created",
        "processed",
    )
    assert delivery.payload == path.read_text()
    assert delivery.source == "replay"
    assert f"{path}: {delivery.delivery_id} processed" in capsys.readouterr().out


def test_it_replays_several_files_in_order_and_says_what_became_of_each(tmp_path, team, capsys):
    installation = installation_for(team=team, installation_id=42, login="acme")
    repository_for(installation=installation, github_id=100, full_name="acme/api")
    opened = _write(
        tmp_path,
        "opened.json",
        pull_request_payload(repository_id=100, repository_full_name="acme/api"),
    )
    elsewhere = _write(
        tmp_path,
        "elsewhere.json",
        pull_request_payload(repository_id=101, repository_full_name="acme/other"),
    )

    call_command("github_replay", str(opened), str(elsewhere), "--event", "pull_request")

    out = capsys.readouterr().out
    assert "opened.json: replay-" in out
    assert "elsewhere.json: replay-" in out
    assert "ignored: acme/other is not tracked by Acme." in out
    assert PullRequest.objects.get().team == team


def test_it_refuses_a_file_that_is_not_a_json_object(tmp_path):
    path = tmp_path / "list.json"
    path.write_text("[]", encoding="utf-8")

    with pytest.raises(CommandError, match="not a JSON object"):
        call_command("github_replay", str(path), "--event", "ping")

    assert not WebhookDelivery.objects.exists()


def test_it_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("github_replay", str(tmp_path / "nope.json"), "--event", "ping")
