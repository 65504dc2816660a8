"""STACKOP_CLOCK_SKEW_SECONDS: a process whose wall clock is wrong, without touching the
machine's clock (controller/operator/clock.py adds it to every wall time it gives)."""

from __future__ import annotations

import os

VARIABLE = "STACKOP_CLOCK_SKEW_SECONDS"


def skew_from_env() -> float:
    text = os.environ.get(VARIABLE, "").strip()
    try:
        return float(text) if text else 0.0
    except ValueError:
        raise SystemExit(f"{VARIABLE}={text!r} is not a number") from None
