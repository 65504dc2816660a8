"""Settings of one bootstrap run and the names it derives from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

BOOTSTRAP_TAG = "stackop:bootstrap"
"""Marks what bootstrap made. Deliberately not the ownership tag: the operator's
tag-scoped policy must never let it modify its own roles or service."""


@dataclass(frozen=True)
class BootstrapConfig:
    bucket: str
    prefix: str = "specs/"
    name: str = "stackop"
    region: str = "us-east-1"
    endpoint_url: str | None = None
    dry_run: bool = False
    events: bool = False
    image: str | None = None
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    assign_public_ip: bool = True
    desired_count: int = 1
    specs_dir: Path = field(default_factory=lambda: Path("specs"))
    log_retention_days: int = 30
    noncurrent_days: int = 7
    tls_only: str = "auto"
    """on, off, or auto: on unless the endpoint is plain HTTP (an emulator)."""
    cpu: str = "512"
    memory: str = "1024"

    @property
    def norm_prefix(self) -> str:
        p = self.prefix.strip("/")
        return f"{p}/" if p else ""

    @property
    def enforce_tls(self) -> bool:
        if self.tls_only == "auto":
            return not (self.endpoint_url or "").startswith("http://")
        return self.tls_only == "on"

    @property
    def execution_role(self) -> str:
        return f"{self.name}-execution"

    @property
    def task_role(self) -> str:
        return f"{self.name}-operator"

    @property
    def log_group(self) -> str:
        return f"/ecs/{self.name}"

    @property
    def repository(self) -> str:
        return self.name

    @property
    def cluster(self) -> str:
        return self.name

    @property
    def family(self) -> str:
        return self.name

    @property
    def service(self) -> str:
        return self.name

    @property
    def security_group(self) -> str:
        return f"{self.name}-operator"

    @property
    def queue(self) -> str:
        return f"{self.name}-spec-events"

    def tags(self) -> dict[str, str]:
        return {BOOTSTRAP_TAG: self.name}


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
