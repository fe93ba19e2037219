import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.integrations.models import GitHubApp
from apps.integrations.services import app_config
from apps.integrations.services.app_config import github_app_config, webhook_secrets
from apps.integrations.services.encryption import decrypt_secret, encrypt_secret
from github_app.errors import NotConfigured, PrivateKeyError
from tests.github_app.keys import key_body, private_key_pem
from tests.integrations.github_apps import stored_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_environment_app(settings):
    settings.GITHUB_APP_ID = ""
    settings.GITHUB_WEBHOOK_SECRETS = ["env-secret"]


def test_it_takes_webhook_secrets_from_the_environment_first(db):
    stored_app()
    assert webhook_secrets() == ["env-secret", "stored-webhook-secret"]


def test_it_accepts_every_rotated_environment_secret(db, settings):
    settings.GITHUB_WEBHOOK_SECRETS = ["new", "old"]
    assert webhook_secrets() == ["new", "old"]


def test_it_lists_a_secret_once(db, settings):
    stored_app(webhook_secret="env-secret")
    assert webhook_secrets() == ["env-secret"]


def test_it_reads_the_stored_app_once(db, django_assert_num_queries):
    stored_app()
    with django_assert_num_queries(1):
        for _ in range(5):
            webhook_secrets()


def test_it_remembers_that_there_is_no_stored_app(db, django_assert_num_queries):
    with django_assert_num_queries(1):
        for _ in range(5):
            assert webhook_secrets() == ["env-secret"]


def test_it_sees_the_stored_app_change_at_once(db):
    app = stored_app()
    assert "stored-webhook-secret" in webhook_secrets()

    app.webhook_secret_encrypted = encrypt_secret("rotated-secret")
    app.save()
    assert webhook_secrets() == ["env-secret", "rotated-secret"]

    app.delete()
    assert webhook_secrets() == ["env-secret"]


def test_it_sees_a_change_made_by_another_process_after_a_while(db, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(app_config.time, "monotonic", lambda: clock[0])
    stored_app()
    assert "stored-webhook-secret" in webhook_secrets()

    # A queryset update sends no signal, as a save in another process would not.
    GitHubApp.objects.update(webhook_secret_encrypted=encrypt_secret("from-elsewhere"))
    assert "stored-webhook-secret" in webhook_secrets()

    clock[0] += app_config.STORED_APP_TTL
    assert webhook_secrets() == ["env-secret", "from-elsewhere"]


def test_it_acts_as_the_stored_app_without_environment_settings(db):
    stored_app()
    config = github_app_config()
    assert (config.source, config.app_id, config.slug, config.client_id) == (
        "stored app",
        "987654",
        "tformance-acme",
        "Iv23stored",
    )
    assert config.private_key == private_key_pem()
    assert config.credentials.client_secret == "stored-client-secret"


def test_the_environment_wins_over_the_stored_app(db, settings):
    stored_app()
    settings.GITHUB_APP_ID = "111"
    settings.GITHUB_APP_SLUG = "tformance-env"
    settings.GITHUB_APP_PRIVATE_KEY = private_key_pem()
    config = github_app_config()
    assert (config.source, config.app_id, config.slug) == ("environment", "111", "tformance-env")


def test_it_reads_the_environment_key_from_a_file(db, settings, tmp_path):
    path = tmp_path / "app.pem"
    path.write_text(private_key_pem())
    settings.GITHUB_APP_ID = "111"
    settings.GITHUB_APP_PRIVATE_KEY = ""
    settings.GITHUB_APP_PRIVATE_KEY_PATH = str(path)
    assert github_app_config().private_key == private_key_pem()


def test_it_explains_an_unusable_environment_key(db, settings):
    settings.GITHUB_APP_ID = "111"
    settings.GITHUB_APP_PRIVATE_KEY = "nonsense"
    with pytest.raises(PrivateKeyError, match="GITHUB_APP_PRIVATE_KEY is not a PEM"):
        github_app_config()


def test_it_says_what_to_do_when_no_app_is_configured(db):
    with pytest.raises(NotConfigured, match="/github/manifest/"):
        github_app_config()


def test_it_explains_a_stored_app_whose_secrets_no_longer_decrypt(db, settings, caplog):
    stored_app()
    settings.SECRET_KEY = "another-secret-key"
    with pytest.raises(NotConfigured, match="cannot be decrypted"):
        github_app_config()
    assert webhook_secrets() == ["env-secret"]
    assert "cannot be decrypted" in caplog.text


def test_it_keeps_secrets_out_of_the_config_repr(db):
    stored_app()
    text = repr(github_app_config())
    assert "987654" in text
    assert "stored-client-secret" not in text
    assert "stored-webhook-secret" not in text
    assert "PRIVATE" not in text


def test_it_encrypts_and_decrypts(settings):
    token = encrypt_secret("s3cret")
    assert "s3cret" not in token
    assert decrypt_secret(token) == "s3cret"


def test_it_still_decrypts_after_an_encryption_key_is_set(settings):
    before = encrypt_secret("s3cret")
    settings.FIELD_ENCRYPTION_KEY = "a-new-field-encryption-key"
    after = encrypt_secret("s3cret")
    assert decrypt_secret(before) == "s3cret"
    settings.FIELD_ENCRYPTION_KEY = "the-next-key,a-new-field-encryption-key"
    assert decrypt_secret(after) == "s3cret"


def _start_django(env_overrides: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GITHUB_"))}
    env.update({"DJANGO_SECRET_KEY": "x" * 50, "DJANGO_SETTINGS_MODULE": "config.settings"})
    env.update(env_overrides)
    code = "import django; django.setup(); print('started')"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def test_it_refuses_to_start_with_a_broken_key_without_printing_it():
    damaged = private_key_pem().replace(key_body(private_key_pem()), "Q" * 64)
    result = _start_django({"GITHUB_APP_PRIVATE_KEY": damaged})
    assert result.returncode != 0
    assert "GITHUB_APP_PRIVATE_KEY is not a PEM private key" in result.stderr
    assert "QQQQ" not in result.stderr + result.stdout
    assert key_body(private_key_pem()) not in result.stderr


def test_it_starts_with_a_key_file(tmp_path):
    path = tmp_path / "app.pem"
    path.write_text(private_key_pem())
    result = _start_django({"GITHUB_APP_PRIVATE_KEY_PATH": str(path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started"
