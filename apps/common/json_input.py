"""JSON sent to us from outside (the APIs' bodies, Slack's payloads), read by
one function that refuses whatever would otherwise end in a 500.

orjson rather than the json module, which lets two kinds of input through as
something other than a ValueError: nesting some thousands deep (RecursionError,
where a body of 10 KB is enough) and an escaped lone surrogate (``"\\ud800"``,
read as a str that no database driver can encode: UnicodeEncodeError on save).
orjson refuses both with its JSONDecodeError, a ValueError, as it refuses NaN
and Infinity, numbers too large for a double, and invalid UTF-8; it nests at
most 1,024 deep. (GitHub's deliveries are read by ``github_app.deliveries``,
with orjson too.)"""

from __future__ import annotations

from typing import Any

import orjson


def json_read(text: bytes | str) -> Any:
    """The JSON value of ``text``; ValueError when it is not JSON (as above)."""
    return orjson.loads(text)
