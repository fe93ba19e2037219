"""Log lines: one JSON object per event (or a readable line), never a secret.

Every record goes through structlog's formatter, whether it came from
``logging`` (Django, Celery, ours) or structlog. Fields given as ``extra``
(``delivery_id``, ``installation_id``, ``team``, …) become keys of the event;
so do those bound with ``structlog.contextvars``. Before a line is written,
fields whose name says secret (token, password, key, …) are masked, and so is
the value of every secret the settings hold, wherever it appears in the line."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog
from django.core.exceptions import BadRequest, PermissionDenied
from django.http.multipartparser import MultiPartParserError

from apps.common.redact import redacted_text

MASK = "[secret]"
_SECRET_NAME = re.compile(
    r"secret|token|password|passwd|private|authorization|api_key|signature|cookie", re.I
)
# Attributes every LogRecord has: anything else on a record is an ``extra`` field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "color_message",
    "_from_structlog",
    "_logger",
    "_name",
}


def _extra_fields(
    logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    record = event.get("_record")
    if record is not None:
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES and not name.startswith("_"):
                event.setdefault(name, value)
    return event


def _mask_secret_fields(
    logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for name in list(event):
        if name != "event" and _SECRET_NAME.search(name):
            event[name] = MASK
    return event


def configured_secrets() -> list[str]:
    """Every secret value the settings hold (the webhook secrets, the app's
    client secret and private key, the secret key, the metrics token), and the
    passwords in the database and Redis URLs."""
    try:
        from django.conf import settings

        values: list[Any] = [
            *getattr(settings, "GITHUB_WEBHOOK_SECRETS", []),
            getattr(settings, "GITHUB_APP_CLIENT_SECRET", ""),
            getattr(settings, "GITHUB_APP_PRIVATE_KEY", ""),
            getattr(settings, "SECRET_KEY", ""),
            getattr(settings, "METRICS_TOKEN", ""),
            getattr(settings, "FIELD_ENCRYPTION_KEY", ""),
            settings.DATABASES.get("default", {}).get("PASSWORD", ""),
        ]
        redis_password = re.search(r"://[^:/@]*:([^@]+)@", getattr(settings, "REDIS_URL", ""))
        if redis_password:
            values.append(redis_password.group(1))
    except Exception:  # settings not configured yet: nothing to mask by value
        return []
    return [value for value in values if isinstance(value, str) and len(value) >= 6]


def mask_secrets(line: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret in line:
            line = line.replace(secret, MASK)
        # A PEM key is logged line by line as often as whole.
        for part in secret.splitlines() if "\n" in secret else ():
            if len(part) >= 16 and part in line:
                line = line.replace(part, MASK)
    return line


class RefusalsWithoutTraceback(logging.Filter):
    """django.request logs each 403 with the PermissionDenied that made it,
    and each body it cannot parse with its parser's error, traceback and all
    (``Forbidden (Permission denied): <path>``, ``Bad request (Unable to parse
    request body): <path>``). Those are refusals the answer explains (a member
    on an admin's page, anyone but staff on the site's own pages, a client's
    broken form), not faults: the line stays, its traceback goes."""

    REFUSALS = (PermissionDenied, BadRequest, MultiPartParserError)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], self.REFUSALS):
            record.exc_info = None
            record.exc_text = None
        return True


class StructuredFormatter(structlog.stdlib.ProcessorFormatter):
    """The LOGGING formatter: JSON lines (``json=True``) or readable ones."""

    def __init__(self, *, json: bool = True, **kwargs: Any) -> None:
        renderer: Any = (
            structlog.processors.JSONRenderer(sort_keys=False)
            if json
            else structlog.dev.ConsoleRenderer(colors=False)
        )
        pre_chain: list[Any] = [
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _extra_fields,
        ]
        super().__init__(
            foreign_pre_chain=pre_chain,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _mask_secret_fields,
                structlog.processors.format_exc_info,
                renderer,
            ],
            **kwargs,
        )

    def format(self, record: logging.LogRecord) -> str:
        # URLs are logged by Django (django.request's "Not Found: <path>", the
        # request itself as an extra field), runserver and the access log:
        # invitation tokens and GitHub's one-time codes are taken out of all of them.
        return redacted_text(mask_secrets(super().format(record), configured_secrets()))


def configure_structlog() -> None:
    """structlog's own loggers hand their events to logging (so to the formatter above)."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
