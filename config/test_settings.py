"""Test settings: the environment's settings with fixed, harmless test values."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production")

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
GITHUB_WEBHOOK_SECRETS = ["test-webhook-secret"]
SESSION_COOKIE_SECURE = False
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
# Each test process counts in its own memory, never in a shared Redis.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CSRF_COOKIE_SECURE = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CELERY_TASK_ALWAYS_EAGER = (
    True  # unit tests run tasks in-process; the integration test starts a real worker
)
# Tokens cached in process memory, cleared between tests, even when REDIS_URL is set.
GITHUB_TOKEN_CACHE_REDIS_URL = ""
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
