"""Settings, all read from the environment here and nowhere else.

The embedded default needs nothing: SQLite in the project folder and Celery
tasks run in-process. Set DATABASE_URL and REDIS_URL for production.
"""

from __future__ import annotations

import os
import re
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


def env_int(name: str, default: int, *, minimum: int, maximum: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not (value.isascii() and value.isdigit()) or not minimum <= int(value) <= maximum:
        raise ImproperlyConfigured(f"{name} must be a whole number from {minimum} to {maximum}")
    return int(value)


DEBUG = env_bool("DJANGO_DEBUG")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to a long random value "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or, for a local trial, set DJANGO_DEBUG=1 (as make run and make demo do)."
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
    "apps.demo",
    "apps.notifications",
]

MIDDLEWARE = [
    # First: the webhook skips the rest, which is for pages (see its docstring).
    "apps.integrations.middleware.WebhookFirstMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every page (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    # Static files from the web process itself, compressed and cached forever.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A plain 503 (not the HTML 500 page) while the database is away.
    "apps.common.middleware.DatabaseUnavailableMiddleware",
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
                "apps.web.context_processors.deployment",
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
        # more when its connection turns out dropped (apps/common/connections.py);
        # another page that finds it dropped fails once, and the next request
        # has a new connection.
        conn_health_checks=env_bool("DJANGO_CONN_HEALTH_CHECKS"),
    )
}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # GitHub gives up on a webhook after 10 s. A database that does not answer
    # a connection within CONNECT_TIMEOUT, or a statement that runs longer than
    # STATEMENT_TIMEOUT (locks held elsewhere, say), fails the request quickly
    # with a 503 instead (apps.common.middleware.py). A database frozen mid-query
    # (the server process stopped) enforces nothing: the webhook's own deadline
    # covers that (WEBHOOK_DEADLINE_SECONDS).
    # Django's backend, with connections opened within a request's deadline.
    DATABASES["default"]["ENGINE"] = "apps.common.postgresql"
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {
            "connect_timeout": int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "3")),
            # jit=off: PostgreSQL compiles a query it estimates costly (the AI
            # figures' per-row subqueries) to machine code first, which took
            # 1.0 s of a 1.2 s query at 1,000,000 pull requests
            # (bench/bench_dashboard.py); these queries run for milliseconds.
            "options": "-c statement_timeout={} -c jit=off".format(
                int(os.environ.get("DATABASE_STATEMENT_TIMEOUT_MS", "5000"))
            ),
        }
    )
# How long after its arrival the webhook answers 503 if the database has not
# answered, in seconds: under GitHub's 10 s, with room for the network
# (apps/common/deadline.py). /healthz has a shorter one of its own.
WEBHOOK_DEADLINE_SECONDS = float(env_int("WEBHOOK_DEADLINE_SECONDS", 7, minimum=3, maximum=9))
HEALTH_DEADLINE_SECONDS = float(env_int("HEALTH_DEADLINE_SECONDS", 3, minimum=2, maximum=30))
# Threads of each web process for pages, and as many again for the webhook
# (config/web.py); each keeps a database connection open once it has served.
WEB_THREADS = env_int("WEB_THREADS", 4, minimum=1, maximum=64)
# How many of a page's independent reads run at once, each on a database
# connection of its own (apps/common/side_by_side.py); 1: one after the other.
# The pool of each process (this many minus one threads, shared by its pages)
# holds that many connections more while it reads (docs/deploy.md).
PAGE_SIDE_BY_SIDE_READS = env_int("PAGE_SIDE_BY_SIDE_READS", 3, minimum=1, maximum=8)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# SQLite has no covering indexes: there `pr_team_merged_cover` is a plain index
# on its key columns, which is all the embedded default needs (the warning
# would print on every command of `make run`).
SILENCED_SYSTEM_CHECKS = ["models.W040"]

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
# Where collectstatic writes and the web process serves from (docs/deploy.md).
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", "") or BASE_DIR / "staticfiles")

# Without DEBUG, only what collectstatic wrote is served (and read once, at start).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names (cached for ever by browsers) and gzip/brotli copies, made by
    # collectstatic; WhiteNoise serves them.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- HTTPS and cookies (docs/deploy.md; `manage.py check --deploy` passes) ------
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
# Only behind a proxy that terminates TLS and sets X-Forwarded-Proto itself
# (overwriting what the client sent): otherwise a client could claim https.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("DJANGO_BEHIND_TLS_PROXY") else None
)
# How many proxies in front append the address they were connected from to
# X-Forwarded-For: the client's address is the entry the outermost of them wrote
# (apps/common/addresses.py; login throttling, logs). One by default behind a
# TLS proxy; 0 reads the connection's own address (REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env_int(
    "DJANGO_TRUSTED_PROXY_COUNT",
    1 if SECURE_PROXY_SSL_HEADER else 0,
    minimum=0,
    maximum=10,
)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", default=not DEBUG)
# /healthz and /metrics are read by monitors over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
# On by default so that check --deploy passes; set DJANGO_HSTS_PRELOAD=0 before
# the domain is served over HTTPS everywhere (docs/deploy.md).
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True

SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Shared by every process through Redis when there is one (login throttling
# counts there); in process memory otherwise.
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL_FOR_CACHE,
            "KEY_PREFIX": "tformance",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if (REDIS_URL_FOR_CACHE := os.environ.get("REDIS_URL", ""))
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- login throttling ---------------------------------------------------------------
# Failed logins per user name and per client address within the window; past
# that, the login page answers 429 until the window has passed
# (apps/teams/throttle.py). Counted in the cache: Redis when there is one, so
# every web process shares the count.
LOGIN_FAILURES_ALLOWED = int(os.environ.get("LOGIN_FAILURES_ALLOWED", "5"))
LOGIN_FAILURE_WINDOW_SECONDS = int(os.environ.get("LOGIN_FAILURE_WINDOW_SECONDS", "900"))

# --- /metrics ---------------------------------------------------------------------------
# Prometheus scrapes /metrics with "Authorization: Bearer <METRICS_TOKEN>"; or
# from an address in METRICS_ALLOWED_NETWORKS (CIDR list). Neither set: 404.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS")

# --- Celery -----------------------------------------------------------------
# Without REDIS_URL tasks run in-process (eagerly), so the embedded default
# needs no broker.
REDIS_URL = os.environ.get("REDIS_URL", "")
# In-process tasks still open a producer on the in-memory broker; naming its
# host keeps kombu from warning "No hostname was supplied" on the console.
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
if REDIS_URL.startswith("redis://"):
    # kombu's Redis transport, fixed to go on through a Redis restart (config/broker.py).
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker whose broker went away reconnects for ever (None: no limit), rather
# than exiting after 100 tries; a supervisor restarts it if it exits anyway
# (Procfile, docs/deploy.md).
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# On a lost connection, tasks still running are cancelled and their messages
# (acknowledged late) come back: a drain is idempotent, its deliveries stay
# claimable in the database.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# max_retries 0: a publish with the broker down fails at once instead of retrying
# for seconds (a webhook request would hang; its delivery is stored anyway). The
# worker reconnects under broker_connection_retry, which this does not affect.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
    "max_retries": 0,
    # Redis hands an unacknowledged message to another worker after this long.
    # Longer than the longest retry delay of a failed delivery (2 h 8 min, an
    # ETA message), so that it is not handed out twice while it waits.
    "visibility_timeout": 3 * 3600,
    # The worker notices a dead connection within this many seconds.
    "health_check_interval": 10,
    "socket_keepalive": True,
}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}
# The safety net for webhook deliveries whose wake-up was lost (broker down).
CELERY_BEAT_SCHEDULE["sweep-pending-deliveries"] = {
    "task": "apps.integrations.tasks.sweep_pending_deliveries",
    "schedule": 60.0,
}
# Reconcile: deliveries GitHub failed to make, fetched from the app's delivery
# log (docs/webhooks.md). Every 5 minutes by default; 0 turns the schedule off.
TFORMANCE_RECONCILE_INTERVAL_SECONDS = env_int(
    "TFORMANCE_RECONCILE_INTERVAL_SECONDS", 300, minimum=0, maximum=86_400
)
# Pages of 100 log entries one run reads at most; a longer walk resumes in the next run.
TFORMANCE_RECONCILE_MAX_PAGES = env_int("TFORMANCE_RECONCILE_MAX_PAGES", 10, minimum=1, maximum=100)
# How far back the first run reads (GitHub keeps 3 days; 7 on Enterprise Server).
TFORMANCE_RECONCILE_FIRST_HOURS = env_int(
    "TFORMANCE_RECONCILE_FIRST_HOURS", 72, minimum=1, maximum=24 * 7
)
if TFORMANCE_RECONCILE_INTERVAL_SECONDS:
    CELERY_BEAT_SCHEDULE["reconcile-deliveries"] = {
        "task": "apps.integrations.tasks.reconcile_deliveries",
        "schedule": float(TFORMANCE_RECONCILE_INTERVAL_SECONDS),
    }
# Continues history runs whose rate-limit wait is over, and runs a dead worker left.
CELERY_BEAT_SCHEDULE["resume-history-runs"] = {
    "task": "apps.integrations.tasks.resume_history_runs",
    "schedule": 60.0,
}
# Continues metrics recompute runs never started (queued by a migration) or left by a
# dead worker (docs/metrics.md, "Recomputing").
CELERY_BEAT_SCHEDULE["resume-recompute-runs"] = {
    "task": "apps.metrics.tasks.resume_recompute_runs",
    "schedule": 60.0,
}
# Rebuilds the day facts of days whose pull requests or reviews changed (PostgreSQL;
# docs/metrics.md, "Day facts"). The figures are exact meanwhile: they read such
# days from the rows.
CELERY_BEAT_SCHEDULE["refresh-day-facts"] = {
    "task": "apps.metrics.tasks.refresh_day_facts",
    "schedule": 30.0,
}
# Announces live lifecycle events whose on-commit announcement was lost (docs/lifecycle.md).
CELERY_BEAT_SCHEDULE["announce-lifecycle-events"] = {
    "task": "apps.metrics.tasks.announce_pending_lifecycle_events",
    "schedule": 60.0,
}
# Slack nudges and digests (docs/slack.md): pull requests waiting for a first
# review past the target, messages held for working hours or a rate limit, digests due.
CELERY_BEAT_SCHEDULE["notifications-tick"] = {
    "task": "apps.notifications.tasks.notifications_tick",
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
# Scripts, styles, images and fonts from this site only; no inline script or
# style (the pages have none: scripts are static files, data goes in
# json_script blocks, which are not run). Forms post here, or to GitHub (the
# app manifest flow). No page may be framed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'", GITHUB_WEB_URL],
        "frame-ancestors": ["'none'"],
    }
}
# Public base URL of this deployment (used to fill the app manifest's URLs).
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "").rstrip("/")
# Key for secrets stored at rest (Fernet). Derived from SECRET_KEY when unset.
FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY", "")

# --- email ------------------------------------------------------------------------
# Django's own settings, from the environment. The merge question goes by email
# (docs/merge-question.md); its links need PUBLIC_BASE_URL (with DJANGO_DEBUG, a
# local trial's http://127.0.0.1:8000 stands in). The console backend prints
# each message on standard output: nothing leaves the machine until EMAIL_BACKEND
# says otherwise.
EMAIL_BACKEND = (
    os.environ.get("EMAIL_BACKEND", "") or "django.core.mail.backends.console.EmailBackend"
)
if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+", EMAIL_BACKEND):
    raise ImproperlyConfigured(
        "EMAIL_BACKEND must be a dotted path, e.g. django.core.mail.backends.smtp.EmailBackend"
    )
# The file backend's folder (EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend).
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", "") or str(BASE_DIR / "sent-emails")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured(
        "set EMAIL_USE_TLS (STARTTLS, port 587) or EMAIL_USE_SSL (465), not both"
    )
# Seconds an SMTP server has to answer: a worker never hangs on a mail server.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1, maximum=300)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "") or "tformance <tformance@localhost>"
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Slack and outbound webhooks (docs/slack.md) -------------------------------------
# Every Slack call goes through slack_sdk at this base URL (a local fake or a proxy
# can stand in, as GITHUB_API_URL does for GitHub). "Add to Slack" sends people to
# the same host's /oauth/v2/authorize.
SLACK_API_URL = os.environ.get("SLACK_API_URL", "").strip() or "https://slack.com/api/"
if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", SLACK_API_URL):
    raise ImproperlyConfigured("SLACK_API_URL must be an http(s) URL, e.g. https://slack.com/api/")
SLACK_API_URL = SLACK_API_URL.rstrip("/") + "/"
# "Add to Slack" is a form whose answer redirects to Slack's authorize page: the
# browser checks form-action on that redirect too.
_slack_origin = re.match(r"https?://[^/]+", SLACK_API_URL)
if _slack_origin:
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"].append(_slack_origin.group(0))
# The Slack app's credentials (Basic Information in Slack's app settings).
SLACK_CLIENT_ID = os.environ.get("SLACK_CLIENT_ID", "")
SLACK_CLIENT_SECRET = os.environ.get("SLACK_CLIENT_SECRET", "")
SLACK_SIGNING_SECRET = os.environ.get("SLACK_SIGNING_SECRET", "")
# Outbound webhooks to private and loopback addresses (a tool on the same
# network): refused unless this is on; on by default only with DJANGO_DEBUG.
TFORMANCE_WEBHOOKS_ALLOW_PRIVATE = env_bool("TFORMANCE_WEBHOOKS_ALLOW_PRIVATE", DEBUG)


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

# --- logs -------------------------------------------------------------------------
# One JSON object a line (LOG_FORMAT=json, the default without DEBUG), or
# readable lines (LOG_FORMAT=console). Events carry delivery_id,
# installation_id and team where they have them (apps/common/logs.py); values
# that look like secrets are masked before a line is written.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "console" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {
            "()": "apps.common.logs.StructuredFormatter",
            "json": LOG_FORMAT == "json",
        }
    },
    "filters": {"refusals": {"()": "apps.common.logs.RefusalsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # A 403 is logged as one line, without the traceback of its PermissionDenied.
        "django.request": {"filters": ["refusals"]},
        "django.db.backends": {"level": "WARNING"},
        # httpx logs every request URL at INFO; the manifest's one-time code is in one.
        "httpx": {"level": "WARNING"},
        # runserver's access log prints whole URLs, and GitHub's callbacks carry
        # one-time codes in theirs (?code=...).
        "django.server": {"level": "WARNING"},
    },
}

from apps.common.logs import configure_structlog  # noqa: E402

configure_structlog()
