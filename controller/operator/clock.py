"""The process's wall clock, with a test-only offset.

`STACKOP_CLOCK_SKEW_SECONDS` (test only: stackop_testing/clock.py) shifts what
`wall()` returns, so a test can run a process whose clock is wrong without touching
the machine's clock. It is read once, here; everything that writes or compares wall
times in the lease protocol goes through `wall()`. Durations use `time.monotonic()`,
which no skew affects.
"""

from __future__ import annotations

import time

from controller.testhooks import clock_skew

SKEW = clock_skew()


def wall() -> float:
    """time.time() plus the test-only skew."""
    return time.time() + SKEW
