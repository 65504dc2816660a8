"""Settings of one operator process (from `stackop run` flags / STACKOP_ env)."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field


def default_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class OperatorConfig:
    bucket: str
    prefix: str = "specs/"
    region: str | None = None
    endpoint_url: str | None = None
    queue_url: str | None = None
    resync: float = 30.0
    poll: float = 10.0
    port: int = 9100
    host: str = "0.0.0.0"
    lease_seconds: float = 30.0
    identity: str = field(default_factory=default_identity)
    scaling_interval: float = 60.0
    """Target health and CloudWatch utilisation are read at this slower cadence."""
    workers: int = 4
    shutdown_grace: float = 12.0
    """In-flight reconciles get this long after SIGTERM before they are cancelled."""

    @property
    def ready_stale_after(self) -> float:
        """/readyz fails when no spec listing succeeded for this long: a call stuck in
        retries against an unreachable or hung endpoint fails only after ~30 s or more."""
        return max(3 * self.poll, 5.0)

    @property
    def norm_prefix(self) -> str:
        p = self.prefix.strip("/")
        return f"{p}/" if p else ""
