"""The Slack settings read from the environment at start-up (README's table)."""

from __future__ import annotations

import pytest

from tests.test_settings import _settings_run

PRINT = (
    "from django.conf import settings; "
    "print(settings.SLACK_API_URL); "
    "print(settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['form-action']); "
    "print(settings.TFORMANCE_WEBHOOKS_ALLOW_PRIVATE)"
)
UNSET = ("SLACK_", "TFORMANCE_WEBHOOKS", "DJANGO_DEBUG")


def test_slack_is_reached_at_its_own_url_by_default_and_add_to_slack_may_go_there():
    result = _settings_run({}, PRINT, unset=UNSET)
    assert result.returncode == 0, result.stderr
    url, form_action, allow_private = result.stdout.splitlines()
    assert url == "https://slack.com/api/"
    assert "https://slack.com" in form_action
    assert allow_private == "False"


def test_a_local_fake_stands_in_for_slack():
    result = _settings_run({"SLACK_API_URL": "http://127.0.0.1:9000/api"}, PRINT, unset=UNSET)
    assert result.returncode == 0, result.stderr
    url, form_action, _ = result.stdout.splitlines()
    assert url == "http://127.0.0.1:9000/api/" and "http://127.0.0.1:9000" in form_action


@pytest.mark.parametrize("value", ["slack.com/api", "ftp://slack.com/api/", "https://a b/"])
def test_it_refuses_a_slack_url_it_cannot_use(value):
    result = _settings_run({"SLACK_API_URL": value}, PRINT, unset=UNSET)
    assert result.returncode != 0 and "SLACK_API_URL" in result.stderr
