"""A record of every AWS API call: an in-memory log, an optional file, and any counters
registered with `count_calls_with` (the operator's Prometheus counter: a one-shot command
such as `stackop plan` never imports prometheus_client).

The optional JSON-lines files let tests of real processes see which operations were
sent: `STACKOP_CALL_LOG` for one run (e.g. that a paused stack made no write call) and
`STACKOP_AUDIT_LOG` for a whole test session (the least-privilege audit); each line
names the program that made the call.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from controller.engine.origin import ACTING_KIND

THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)

READ_PREFIXES = ("Describe", "List", "Get", "Head", "Lookup", "Search", "Batch Get")


def is_write(operation: str) -> bool:
    return not operation.startswith(READ_PREFIXES)


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    outcome: str


CallCounter = Callable[[str, str, str], None]
"""Called with (service, operation, outcome) for every call of every recorder."""

_COUNTERS: list[CallCounter] = []


def count_calls_with(counter: CallCounter) -> None:
    _COUNTERS.append(counter)


PROGRAM = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"


def _log_paths_from_env() -> tuple[str, ...]:
    """STACKOP_CALL_LOG (a run's own log) and STACKOP_AUDIT_LOG (a test session's audit)."""
    paths = (os.environ.get("STACKOP_CALL_LOG"), os.environ.get("STACKOP_AUDIT_LOG"))
    return tuple(dict.fromkeys(p for p in paths if p))


KEEP_CALLS = 50_000
"""Calls kept in memory: a long-running operator makes ~40 a cycle, forever."""


@dataclass
class CallRecorder:
    """Counts every call; keeps the latest `keep` in memory for `since`/`counts`.

    Marks are positions in the whole history, so they stay valid as old calls drop out.
    """

    keep: int = KEEP_CALLS
    log_paths: tuple[str, ...] = field(default_factory=lambda: _log_paths_from_env())
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _calls: deque[Call] = field(init=False)
    _total: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._calls = deque(maxlen=self.keep)

    @property
    def calls(self) -> list[Call]:
        return list(self._calls)

    def record(self, service: str, operation: str, outcome: str) -> None:
        call = Call(service, operation, outcome)
        for counter in _COUNTERS:
            counter(service, operation, outcome)
        with self._lock:
            self._calls.append(call)
            self._total += 1
            if self.log_paths:
                line = json.dumps(
                    {
                        "service": service,
                        "operation": operation,
                        "outcome": outcome,
                        "pid": os.getpid(),
                        "program": PROGRAM,
                        "kind": ACTING_KIND.get(),
                    }
                )
                for path in self.log_paths:
                    with open(path, "a", encoding="utf-8") as fh:
                        fh.write(line + "\n")

    def mark(self) -> int:
        return self._total

    def since(self, mark: int) -> list[Call]:
        with self._lock:
            kept = list(self._calls)
            first = self._total - len(kept)
        return kept[max(0, mark - first) :]

    def counts(self, since: int = 0) -> Counter[str]:
        return Counter(f"{c.service}:{c.operation}" for c in self.since(since))

    def writes(self, since: int = 0) -> list[Call]:
        return [c for c in self.since(since) if is_write(c.operation)]


def outcome_of(parsed: Any, exception: BaseException | None) -> str:
    if exception is not None:
        return "error"
    error = (parsed or {}).get("Error") if isinstance(parsed, dict) else None
    if not error:
        return "ok"
    return "throttled" if error.get("Code") in THROTTLE_CODES else "error"
