"""A record of every AWS API call: a Prometheus counter, an in-memory log, an optional file.

The optional JSON-lines file (`STACKOP_CALL_LOG`) lets tests of real processes see
which operations were sent, e.g. that a paused stack made no write call.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter as PromCounter

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

AWS_API_CALLS = PromCounter(
    "stackop_aws_api_calls_total",
    "AWS API calls by service, operation and outcome (each HTTP attempt counts).",
    ["service", "operation", "outcome"],
)


def is_write(operation: str) -> bool:
    return not operation.startswith(READ_PREFIXES)


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    outcome: str


KEEP_CALLS = 50_000
"""Calls kept in memory: a long-running operator makes ~40 a cycle, forever."""


@dataclass
class CallRecorder:
    """Counts every call; keeps the latest `keep` in memory for `since`/`counts`.

    Marks are positions in the whole history, so they stay valid as old calls drop out.
    """

    keep: int = KEEP_CALLS
    log_path: str | None = field(default_factory=lambda: os.environ.get("STACKOP_CALL_LOG"))
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
        AWS_API_CALLS.labels(service, operation, outcome).inc()
        with self._lock:
            self._calls.append(call)
            self._total += 1
            if self.log_path:
                with open(self.log_path, "a", encoding="utf-8") as fh:
                    fh.write(
                        json.dumps(
                            {
                                "service": service,
                                "operation": operation,
                                "outcome": outcome,
                                "pid": os.getpid(),
                            }
                        )
                        + "\n"
                    )

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
