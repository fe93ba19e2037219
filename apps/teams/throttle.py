"""Login throttling: failed logins counted per user name and per client address.

A small limiter in the cache (Redis when there is one, so every web process
counts together). Past LOGIN_FAILURES_ALLOWED failures within
LOGIN_FAILURE_WINDOW_SECONDS, for the name or for the address, the login page
answers 429 without checking the password, until the window has passed.
A successful login clears its name's count."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

logger = logging.getLogger(__name__)


def _keys(*, username: str, address: str) -> list[str]:
    # Hashed: a user name may hold anything, and cache keys have rules.
    def key(kind: str, value: str) -> str:
        return f"login-failures:{kind}:{hashlib.sha256(value.encode()).hexdigest()}"

    return [key("user", username.strip().lower()), key("address", address)]


def login_blocked(*, username: str, address: str) -> bool:
    counts = cache.get_many(_keys(username=username, address=address))
    return any(count >= settings.LOGIN_FAILURES_ALLOWED for count in counts.values())


def login_failed(*, username: str, address: str) -> None:
    for key in _keys(username=username, address=address):
        # add() starts the window; incr() keeps its expiry.
        if not cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS):
            try:
                cache.incr(key)
            except ValueError:  # expired between the two calls
                cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def login_succeeded(*, username: str) -> None:
    cache.delete(_keys(username=username, address="")[0])


class ThrottledLoginView(LoginView):
    def _identity(self) -> tuple[str, str]:
        username = str(self.request.POST.get("username", ""))[:150]
        return username, self.request.META.get("REMOTE_ADDR", "")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username, address = self._identity()
        if login_blocked(username=username, address=address):
            logger.warning("login throttled", extra={"address": address})
            response = render(
                request,
                "registration/login_throttled.html",
                {"minutes": max(1, settings.LOGIN_FAILURE_WINDOW_SECONDS // 60)},
                status=429,
            )
            response["Retry-After"] = str(settings.LOGIN_FAILURE_WINDOW_SECONDS)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        login_failed(username=self._identity()[0], address=self._identity()[1])
        return super().form_invalid(form)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        login_succeeded(username=self._identity()[0])
        return super().form_valid(form)
