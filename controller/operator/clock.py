"""The process's wall clock, with a test-only offset.

`STACKOP_CLOCK_SKEW_SECONDS` (test only, never set it in production) shifts what
`wall()` returns, so a test can run a process whose clock is wrong without touching
the machine's clock. It is read once, here; everything that writes or compares wall
times in the lease protocol goes through `wall()`. Durations use `time.monotonic()`,
which no skew affects.
"""

from __future__ import annotations

import os
import time


def _skew() -> float:
    text = os.environ.get("STACKOP_CLOCK_SKEW_SECONDS", "").strip()
    try:
        return float(text) if text else 0.0
    except ValueError:
        raise SystemExit(f"STACKOP_CLOCK_SKEW_SECONDS={text!r} is not a number") from None


SKEW = _skew()


def wall() -> float:
    """time.time() plus the test-only skew."""
    return time.time() + SKEW
