"""A record of every AWS API call: a Prometheus counter, an in-memory log, an optional file.

The optional JSON-lines file (`STACKOP_CALL_LOG`) lets tests of real processes see
which operations were sent, e.g. that a paused stack made no write call.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
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


@dataclass
class CallRecorder:
    calls: list[Call] = field(default_factory=list)
    log_path: str | None = field(default_factory=lambda: os.environ.get("STACKOP_CALL_LOG"))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, service: str, operation: str, outcome: str) -> None:
        call = Call(service, operation, outcome)
        AWS_API_CALLS.labels(service, operation, outcome).inc()
        with self._lock:
            self.calls.append(call)
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
        return len(self.calls)

    def since(self, mark: int) -> list[Call]:
        return self.calls[mark:]

    def counts(self, since: int = 0) -> Counter[str]:
        return Counter(f"{c.service}:{c.operation}" for c in self.calls[since:])

    def writes(self, since: int = 0) -> list[Call]:
        return [c for c in self.calls[since:] if is_write(c.operation)]


def outcome_of(parsed: Any, exception: BaseException | None) -> str:
    if exception is not None:
        return "error"
    error = (parsed or {}).get("Error") if isinstance(parsed, dict) else None
    if not error:
        return "ok"
    return "throttled" if error.get("Code") in THROTTLE_CODES else "error"
