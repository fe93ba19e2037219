"""Login throttling: failed logins counted per user name and per client address.

A small limiter in the cache (Redis when there is one, so every web process
counts together). Past LOGIN_FAILURES_ALLOWED failures within
LOGIN_FAILURE_WINDOW_SECONDS, for the name or for the address, the login page
answers 429 without checking the password, until the window has passed.
A successful login clears its name's count.

The address is the client's as the trusted proxies report it
(``client_address``), not the proxy's: behind a TLS proxy every request comes
from the proxy. While the cache is unreachable the throttle lets every login
through and logs it: locking everyone out is worse than a pause in counting."""

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

from apps.common.addresses import client_address

logger = logging.getLogger(__name__)


def _keys(*, username: str, address: str) -> list[str]:
    # Hashed: a user name may hold anything, and cache keys have rules.
    def key(kind: str, value: str) -> str:
        return f"login-failures:{kind}:{hashlib.sha256(value.encode()).hexdigest()}"

    return [key("user", username.strip().lower()), key("address", address)]


def _cache_unavailable(error: Exception) -> None:
    # The type only: a connection error's message can hold the cache's URL.
    logger.warning(
        "login throttle off: the cache is unavailable", extra={"error": type(error).__name__}
    )


def login_blocked(*, username: str, address: str) -> bool:
    try:
        counts = cache.get_many(_keys(username=username, address=address))
    except Exception as error:  # any cache backend's connection error
        _cache_unavailable(error)
        return False
    return any(count >= settings.LOGIN_FAILURES_ALLOWED for count in counts.values())


def login_failed(*, username: str, address: str) -> None:
    try:
        for key in _keys(username=username, address=address):
            # add() starts the window; incr() keeps its expiry.
            if not cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS):
                try:
                    cache.incr(key)
                except ValueError:  # expired between the two calls
                    cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    except Exception as error:
        _cache_unavailable(error)


def login_succeeded(*, username: str) -> None:
    try:
        cache.delete(_keys(username=username, address="")[0])
    except Exception as error:
        _cache_unavailable(error)


class ThrottledLoginView(LoginView):
    def _identity(self) -> tuple[str, str]:
        username = str(self.request.POST.get("username", ""))[:150]
        return username, client_address(self.request)

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
