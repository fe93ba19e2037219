"""Settings, all read from the environment here and nowhere else.

The embedded default needs nothing: SQLite in the project folder and Celery
tasks run in-process. Set DATABASE_URL and REDIS_URL for production.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to a long random value "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set DJANGO_DEBUG=1 for local development."
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DJANGO_DEBUG"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "apps.teams",
    "apps.integrations",
    "apps.metrics",
    "apps.web",
]

MIDDLEWARE = [
    # First: the webhook skips the rest, which is for pages (see its docstring).
    "apps.integrations.middleware.WebhookFirstMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", "")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE", "60")),
        # Off by default: the check is a round trip (SELECT 1) at the start of
        # every request, which cost the webhook a fifth of its throughput in
        # bench/webhook_load.py. The webhook instead reconnects and stores once
        # more when its connection turns out dropped (services/deliveries.py);
        # another page that finds it dropped fails once, and the next request
        # has a new connection.
        conn_health_checks=env_bool("DJANGO_CONN_HEALTH_CHECKS"),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("DJANGO_BEHIND_TLS_PROXY") else None
)

# --- Celery -----------------------------------------------------------------
# Without REDIS_URL tasks run in-process (eagerly), so the embedded default
# needs no broker.
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# max_retries 0: a publish with the broker down fails at once instead of retrying
# for seconds (a webhook request would hang; its delivery is stored anyway). The
# worker reconnects under broker_connection_retry, which this does not affect.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
    "max_retries": 0,
}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}
# The safety net for webhook deliveries whose wake-up was lost (broker down).
CELERY_BEAT_SCHEDULE["sweep-pending-deliveries"] = {
    "task": "apps.integrations.tasks.sweep_pending_deliveries",
    "schedule": 60.0,
}
# Continues history runs whose rate-limit wait is over, and runs a dead worker left.
CELERY_BEAT_SCHEDULE["resume-history-runs"] = {
    "task": "apps.integrations.tasks.resume_history_runs",
    "schedule": 60.0,
}
# Without this, Celery's Django fixup closes the database connection around every
# task: about 1.5 ms of PostgreSQL work each, measured on the webhook drain.
CELERY_DB_REUSE_MAX = 1000

# --- GitHub App ---------------------------------------------------------------
GITHUB_APP_ID = os.environ.get("GITHUB_APP_ID", "")
GITHUB_APP_SLUG = os.environ.get("GITHUB_APP_SLUG", "")
GITHUB_APP_CLIENT_ID = os.environ.get("GITHUB_APP_CLIENT_ID", "")
GITHUB_APP_CLIENT_SECRET = os.environ.get("GITHUB_APP_CLIENT_SECRET", "")
GITHUB_APP_PRIVATE_KEY = os.environ.get("GITHUB_APP_PRIVATE_KEY", "")
GITHUB_APP_PRIVATE_KEY_PATH = os.environ.get("GITHUB_APP_PRIVATE_KEY_PATH", "")
if GITHUB_APP_PRIVATE_KEY or GITHUB_APP_PRIVATE_KEY_PATH:
    # Fail at start-up, not at the first GitHub call; the message never holds the key.
    from github_app.auth import load_private_key
    from github_app.errors import PrivateKeyError

    try:
        GITHUB_APP_PRIVATE_KEY = load_private_key(
            pem=GITHUB_APP_PRIVATE_KEY, path=GITHUB_APP_PRIVATE_KEY_PATH
        )
    except PrivateKeyError as exc:
        raise ImproperlyConfigured(str(exc)) from None
GITHUB_WEBHOOK_SECRETS = env_list("GITHUB_WEBHOOK_SECRET")
GITHUB_API_URL = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
GITHUB_WEB_URL = os.environ.get("GITHUB_WEB_URL", "https://github.com").rstrip("/")
# Public base URL of this deployment (used to fill the app manifest's URLs).
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "").rstrip("/")
# Key for secrets stored at rest (Fernet). Derived from SECRET_KEY when unset.
FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY", "")


def _history_days() -> int:
    raw = os.environ.get("TFORMANCE_HISTORY_DAYS", "").strip()
    if not raw:
        return 90
    # ASCII digits only: int() would also take "٩٠" or "1_000".
    if not raw.isascii() or not raw.isdigit() or len(raw) > 5:
        raise ImproperlyConfigured(
            "TFORMANCE_HISTORY_DAYS must be a whole number of days (0 means all history)."
        )
    return int(raw)


# How far back tracking a repository loads its pull requests (by last update); 0: all.
TFORMANCE_HISTORY_DAYS = _history_days()
# Installation tokens are shared through Redis when there is one.
GITHUB_TOKEN_CACHE_REDIS_URL = REDIS_URL

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # httpx logs every request URL at INFO; the manifest's one-time code is in one.
        "httpx": {"level": "WARNING"},
        # runserver's access log prints whole URLs, and GitHub's callbacks carry
        # one-time codes in theirs (?code=...).
        "django.server": {"level": "WARNING"},
    },
}
