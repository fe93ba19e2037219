"""Django's PostgreSQL backend (``ENGINE`` in config/settings.py), whose new
connections respect the deadline of the block that opens them
(apps/common/deadline.py): connected within the time left, or not at all.

Django opens connections wherever it needs one, Atomic's exit among them
(after a failed rollback it reconnects to restore autocommit): each of those
would otherwise wait the whole connect timeout on a frozen server."""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import base

from apps.common.deadline import connect_timeout_within_deadline


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        params["connect_timeout"] = connect_timeout_within_deadline(
            self, int(params.get("connect_timeout", 0) or 0)
        )
        return params
