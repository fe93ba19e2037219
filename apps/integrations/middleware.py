"""The webhook goes straight to its view, before the middleware of pages."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from apps.integrations.views.webhooks import github_webhook


class WebhookFirstMiddleware:
    """Hands ``/webhooks/github/`` to its view ahead of the rest of MIDDLEWARE,
    where it is listed first. Sessions, authentication, messages, CSRF and the
    security and framing headers are for browsers; GitHub posts signed bodies
    and reads only the status. Under load on a 2-core machine that middleware
    cost the webhook about 0.1 ms of CPU per request, a tenth of its web
    process's work (bench/webhook_load.py), and every installation's events
    come through this one URL. The path is the one urls.py gives the view;
    the view's own decorators (POST only, no CSRF) still apply."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        # Without a request's script prefix, reverse() gives the path_info form.
        self.webhook_path = reverse("github_webhook")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == self.webhook_path:
            return github_webhook(request)
        return self.get_response(request)
