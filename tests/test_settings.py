import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

ROOT = Path(__file__).resolve().parent.parent


def _django_setup(env_overrides: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(env_overrides)
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'])"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    result = _django_setup({})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_it_starts_on_sqlite_by_default():
    result = _django_setup({"DJANGO_SECRET_KEY": "x" * 50})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.sqlite3"


def test_it_uses_postgres_when_database_url_says_so():
    result = _django_setup(
        {"DJANGO_SECRET_KEY": "x" * 50, "DATABASE_URL": "postgres://u@127.0.0.1:5432/db"}
    )
    assert result.returncode == 0, result.stderr
    # Django's backend, opening connections within a request's deadline.
    assert result.stdout.strip() == "apps.common.postgresql"


@pytest.mark.django_db
def test_it_lists_every_model_in_the_admin(client):
    admin = get_user_model().objects.create_superuser("root", password="pw-root-123")
    client.force_login(admin)
    content = client.get("/admin/").content.decode()
    for path in [
        "teams/team/",
        "teams/membership/",
        "integrations/githubapp/",
        "integrations/installation/",
        "integrations/repository/",
        "integrations/webhookdelivery/",
        "integrations/reconcilerun/",
        "integrations/reconcilestate/",
        "integrations/historyrun/",
        "metrics/teammember/",
        "metrics/pullrequest/",
        "metrics/prreview/",
    ]:
        assert f"/admin/{path}" in content, path


def test_it_keeps_callback_urls_with_one_time_codes_out_of_the_access_log():
    import logging

    assert not logging.getLogger("django.server").isEnabledFor(logging.INFO)


def _settings_run(
    env: dict[str, str], code: str, *, unset: tuple[str, ...]
) -> subprocess.CompletedProcess[str]:
    """``code`` run after django.setup() with config.settings, a secret key, and
    ``env`` over this environment less the variables starting with ``unset``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(unset)}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        cwd=ROOT,
        env={
            **base,
            "DJANGO_SECRET_KEY": "x" * 50,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
    )


def _reconcile_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = (
        "from django.conf import settings; "
        "print(settings.CELERY_BEAT_SCHEDULE.get('reconcile-deliveries'), "
        "settings.TFORMANCE_RECONCILE_MAX_PAGES)"
    )
    return _settings_run(env, code, unset=("DJANGO_", "TFORMANCE_"))


def test_reconcile_runs_on_the_interval_set_and_not_at_all_with_zero():
    every_minute = _reconcile_settings({"TFORMANCE_RECONCILE_INTERVAL_SECONDS": "60"})
    assert "'schedule': 60.0" in every_minute.stdout, every_minute.stderr
    assert _reconcile_settings({"TFORMANCE_RECONCILE_INTERVAL_SECONDS": "0"}).stdout.startswith(
        "None"
    )


@pytest.mark.parametrize(
    "env",
    [
        {"TFORMANCE_RECONCILE_INTERVAL_SECONDS": "5m"},
        {"TFORMANCE_RECONCILE_MAX_PAGES": "0"},
        {"TFORMANCE_RECONCILE_MAX_PAGES": "\u0663"},
        {"TFORMANCE_RECONCILE_FIRST_HOURS": "1000"},
    ],
)
def test_it_refuses_reconcile_settings_out_of_range(env):
    result = _reconcile_settings(env)
    assert result.returncode != 0
    (name,) = env
    assert f"{name} must be a whole number" in result.stderr


@pytest.mark.parametrize("days", ["abc", "-5", "٩٠", "1e3", "999999"])
def test_it_refuses_a_history_window_that_is_not_a_number_of_days(days):
    result = _django_setup({"DJANGO_SECRET_KEY": "x" * 50, "TFORMANCE_HISTORY_DAYS": days})
    assert result.returncode != 0
    assert "TFORMANCE_HISTORY_DAYS must be a whole number of days" in result.stderr


@pytest.mark.parametrize(("days", "expected"), [("", 90), ("0", 0), (" 30 ", 30)])
def test_it_reads_the_history_window(days, expected):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(
        DJANGO_SECRET_KEY="x" * 50,
        TFORMANCE_HISTORY_DAYS=days,
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    code = "import django; django.setup(); from django.conf import settings; "
    code += "print(settings.TFORMANCE_HISTORY_DAYS)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == str(expected), result.stderr


def _variables_read_by_settings() -> set[str]:
    """Every environment variable config/settings.py reads: the first argument
    of os.environ.get / os.environ[...] / env_bool / env_list / env_int."""
    import ast

    tree = ast.parse((ROOT / "config" / "settings.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = ast.unparse(node.func)
            if func in {"os.environ.get", "os.getenv", "env_bool", "env_list", "env_int"}:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names.add(first.value)
        elif (
            isinstance(node, ast.Subscript)
            and ast.unparse(node.value) == "os.environ"
            and isinstance(node.slice, ast.Constant)
        ):
            names.add(node.slice.value)
    return names


def _readme_settings_table() -> set[str]:
    import re

    text = (ROOT / "README.md").read_text()
    table = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def test_readme_lists_every_variable_the_settings_read():
    read = _variables_read_by_settings()
    # The reader itself works: a few it must find.
    assert {"DJANGO_SECRET_KEY", "TFORMANCE_HISTORY_DAYS", "DJANGO_SSL_REDIRECT"} <= read
    assert sorted(read - _readme_settings_table()) == []


def _email_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = (
        "from django.conf import settings; from django.core.mail import send_mail; "
        "print(settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT, "
        "settings.EMAIL_USE_TLS, settings.EMAIL_TIMEOUT, settings.DEFAULT_FROM_EMAIL, sep='|'); "
        "send_mail('Subject', 'Body', None, ['bob@example.com'])"
    )
    return _settings_run(env, code, unset=("DJANGO_", "EMAIL_"))


def test_email_goes_to_the_console_by_default():
    result = _email_settings({})

    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first == (
        "django.core.mail.backends.console.EmailBackend|localhost|25|False|10|"
        "tformance <tformance@localhost>"
    )
    assert "To: bob@example.com" in result.stdout


def test_email_settings_come_from_the_environment(tmp_path):
    result = _email_settings(
        {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(tmp_path),
            "EMAIL_HOST": "smtp.example.com",
            "EMAIL_PORT": "587",
            "EMAIL_USE_TLS": "1",
            "EMAIL_TIMEOUT": "30",
            "DEFAULT_FROM_EMAIL": "Metrics <metrics@example.com>",
        }
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "django.core.mail.backends.filebased.EmailBackend|smtp.example.com|587|True|30|"
        "Metrics <metrics@example.com>"
    )
    (written,) = tmp_path.iterdir()
    assert "From: Metrics <metrics@example.com>" in written.read_text()


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"EMAIL_BACKEND": "smtp"}, "EMAIL_BACKEND must be a dotted path"),
        ({"EMAIL_PORT": "70000"}, "EMAIL_PORT must be a whole number"),
        ({"EMAIL_USE_TLS": "1", "EMAIL_USE_SSL": "1"}, "not both"),
    ],
)
def test_it_refuses_email_settings_that_cannot_work(env, said):
    result = _email_settings(env)

    assert result.returncode != 0
    assert said in result.stderr
