"""Celery tasks of the notifications: thin, they call services; each owns its retries.

Services queue these by name (`apps.common.scheduling`); none imports this module."""

from __future__ import annotations
