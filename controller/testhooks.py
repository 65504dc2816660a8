"""Where the shipped code meets test-only support (the `stackop_testing` package).

That package is not installed with stackop nor copied into the image: it is imported
only when one of its variables is set, and a set variable without it is a one-line
error rather than a silent no-op.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

FAULTS = "STACKOP_FAULTS"
CLOCK_SKEW = "STACKOP_CLOCK_SKEW_SECONDS"


def _support(module: str, variable: str) -> ModuleType:
    try:
        return importlib.import_module(f"stackop_testing.{module}")
    except ImportError:
        raise SystemExit(
            f"{variable} is test-only and its support (stackop_testing) is not installed: "
            f"unset {variable}"
        ) from None


def fault_injector() -> Any | None:
    """The STACKOP_FAULTS injector for AwsClients, or None when it is not set."""
    if not os.environ.get(FAULTS, "").strip():
        return None
    faults = _support("faults", FAULTS)
    return faults.FaultInjector(faults.FaultPlan.from_env())


def clock_skew() -> float:
    """Seconds STACKOP_CLOCK_SKEW_SECONDS adds to the wall clock (0 when not set)."""
    if not os.environ.get(CLOCK_SKEW, "").strip():
        return 0.0
    skew: float = _support("clock", CLOCK_SKEW).skew_from_env()
    return skew
