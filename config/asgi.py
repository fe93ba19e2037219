"""The web process's application (Procfile: gunicorn with ``config.web.UvicornWorker``):
Django's WSGI handler behind ``config.web.BufferedWSGI``, which reads each
request whole before a thread answers it (config/web.py says why)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_wsgi_application()

from django.conf import settings  # noqa: E402
from django.urls import reverse  # noqa: E402

from config.web import application_for  # noqa: E402

application = application_for(
    django_application,
    threads=settings.WEB_THREADS,
    webhook_path=reverse("github_webhook"),
    webhook_deadline=settings.WEBHOOK_DEADLINE_SECONDS,
    health_path=reverse("healthz"),
    health_deadline=settings.HEALTH_DEADLINE_SECONDS,
)
