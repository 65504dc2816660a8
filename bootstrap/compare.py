"""Does the live value already hold everything we want? (AWS adds defaults we ignore.)"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote


def covers(live: Any, want: Any) -> bool:
    """True if `live` has every key and value of `want` (dicts compared on want's keys)."""
    if isinstance(want, dict):
        return isinstance(live, dict) and all(covers(live.get(k), v) for k, v in want.items())
    if isinstance(want, list):
        return (
            isinstance(live, list)
            and len(live) == len(want)
            and all(covers(a, b) for a, b in zip(live, want, strict=True))
        )
    return bool(live == want)


def as_json(value: Any) -> Any:
    """A policy as AWS returns it (a JSON string, URL-decoded by botocore, or a dict)."""
    if isinstance(value, str):
        try:
            return json.loads(unquote(value) if value.startswith("%7B") else value)
        except ValueError:
            return value
    return value
