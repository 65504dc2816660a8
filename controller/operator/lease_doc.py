"""Reading a lease object: what it says, and how old it is by S3's own clock.

A lease another process wrote is judged only by what S3 shows: its version (ETag and
Last-Modified, changed by every write) and its age (S3's `Date` minus `Last-Modified`,
both stamped by S3, so no client clock is involved). The holder's `expiresAt` is never
compared with the reader's clock: a reader whose clock runs fast would take a live lease.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

MAX_LEASE_BYTES = 64 * 1024
"""Anything longer is not a lease (and is not read further)."""
AGE_SLACK = 2.0
"""Date and Last-Modified have a one-second resolution: the age is at least age - this."""


@dataclass(frozen=True)
class LeaseRead:
    etag: str
    version: str
    """ETag and Last-Modified together: changes whenever anyone writes the object."""
    holder: str | None
    """The holder named by the document; "" for a released lease; None if unreadable."""
    problem: str
    """Why the document is not a lease ("" when it is one)."""
    lease_seconds: float
    """The holder's lease period as the document states it (0 when unknown)."""
    age: float
    """A lower bound of the seconds since the object was written, by S3's clock."""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    names = {list: "array", str: "string", int: "number", float: "number"}
    return names.get(type(value), type(value).__name__)


def parse(raw: bytes) -> tuple[str | None, str, float]:
    """(holder, problem, lease seconds) of a lease document; holder None if unreadable."""
    if len(raw) > MAX_LEASE_BYTES:
        return None, f"{len(raw)}+ bytes, not a lease", 0.0
    try:
        data = json.loads(raw)
    except ValueError:
        return None, "not JSON", 0.0
    if not isinstance(data, dict):
        return None, f"a JSON {_json_type(data)}, not an object", 0.0
    holder = data.get("holder")
    if not isinstance(holder, str):
        return None, "no holder string", 0.0
    if _number(data.get("expiresAt")) is None:
        return None, "expiresAt is not a number", 0.0
    seconds = _number(data.get("leaseSeconds", 0))
    if seconds is None or seconds < 0:
        return None, "leaseSeconds is not a number >= 0", 0.0
    return holder, "", seconds


def s3_age(reply: dict[str, Any]) -> float:
    """Seconds since the object was written, at least, by S3's clock (0 if unknown)."""
    modified = reply.get("LastModified")
    date = reply.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if not isinstance(modified, datetime) or not date:
        return 0.0
    try:
        now = parsedate_to_datetime(str(date))
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, (now - modified).total_seconds() - AGE_SLACK)


def lease_read(reply: dict[str, Any], raw: bytes) -> LeaseRead:
    holder, problem, seconds = parse(raw)
    etag = str(reply.get("ETag", ""))
    version = f"{etag}@{reply.get('LastModified', '')}"
    return LeaseRead(etag, version, holder, problem, seconds, s3_age(reply))


def describe(holder: str) -> str:
    """A holder for messages and logs, cut to a sane length (it is foreign input)."""
    return holder if len(holder) <= 120 else holder[:117] + "..."
