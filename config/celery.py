"""The Celery app. Configured from Django settings (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import setup_logging, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tformance")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def close_broken_database_connections(sender: object = None, **_: object) -> None:
    """Before each task, what Django does before each request: drop a database
    connection that failed and no longer answers, or that outlived CONN_MAX_AGE.

    Connections outlive tasks (CELERY_DB_REUSE_MAX), so Celery's fixup no longer
    closes them. A task that caught a database error (a lifecycle consumer
    retrying while PostgreSQL restarts) left its dead connection to every later
    task in the process, and the worker failed them all until restarted.
    In-process tasks run inside their caller's transaction: left alone."""
    request = getattr(sender, "request", None)
    if getattr(request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@setup_logging.connect
def keep_django_logging(**_: object) -> None:
    """The worker's and beat's logs as the web's: LOGGING (config/settings.py,
    one JSON object a line with secrets masked, at LOG_LEVEL). Without a
    receiver of this signal Celery gives the root logger handlers of its own,
    and every line of those processes, the app's own warnings included, came
    out as plain text, unmasked."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
