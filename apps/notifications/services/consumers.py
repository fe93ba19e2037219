"""The notifications' lifecycle consumers, joined to `lifecycle.CONSUMERS` at start-up."""

from __future__ import annotations


def consumers_register() -> None:
    return None
