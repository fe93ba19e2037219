"""What every template may ask about the deployment itself."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def deployment(request: HttpRequest) -> dict[str, Any]:
    """``local_trial``: a machine of one's own (DJANGO_DEBUG on, as `make run`
    sets it), where hints such as `make demo` apply. In production they would
    load the demo into the production database."""
    return {"local_trial": settings.DEBUG}
