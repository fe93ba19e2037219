"""A plain 503 while the database is away, instead of the HTML 500 page."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "the database is unavailable; try again shortly"


def database_unavailable() -> HttpResponse:
    response = HttpResponse(
        DATABASE_UNAVAILABLE + "\n", status=503, content_type="text/plain; charset=utf-8"
    )
    response["Retry-After"] = "10"
    return response


class DatabaseUnavailableMiddleware:
    """A request that fails because the database cannot be reached (down,
    refusing connections, past its connect or statement timeout) answers 503 in
    plain text, quickly: a monitor or a load balancer reads the status, a
    person the sentence. Any other error still goes to the 500 page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        # The type only: a connection error's message can hold the DSN.
        logger.warning(
            "database unavailable",
            extra={"path": request.path, "error": type(exception).__name__},
        )
        return database_unavailable()
