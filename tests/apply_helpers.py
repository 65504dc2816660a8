"""What the `stackop apply` tests share: a small network-only stack and call-log reads."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from controller.aws import is_write
from tests.aws import client
from tests.conftest import BIN, ROOT
from tests.operator_harness import network_only, spec_text

MAX_DELETIONS = 5
"""Removing the NAT gateway deletes 2 of the 16 resources: over the default guard of 1."""


def net_spec(tmp_path: Path, name: str, file: str = "", nat: bool = True, **body: Any) -> Path:
    """The portal's network section only (16 resources, ~5 s to create) with `body` set;
    without the NAT gateway (`nat=False`) it is 2 deletions (NAT, EIP) and 1 update."""

    def edit(spec: dict[str, Any]) -> None:
        network_only(spec)
        spec.update(body)
        if not nat:
            spec["network"]["natGateways"] = "none"
            spec["safety"] = {"maxDeletions": MAX_DELETIONS}

    path = tmp_path / (file or f"{name}{'' if nat else '-no-nat'}.yaml")
    path.write_text(spec_text(name, edit))
    return path


def calls(log: Path) -> list[str]:
    """service:Operation of every AWS call in a STACKOP_CALL_LOG file."""
    if not log.exists():
        return []
    rows = [json.loads(line) for line in log.read_text().splitlines() if line]
    return [f"{r['service']}:{r['operation']}" for r in rows]


def writes(log: Path) -> list[str]:
    return [c for c in calls(log) if is_write(c.split(":", 1)[1])]


def vpcs(endpoint: str, stack: str) -> list[dict[str, Any]]:
    reply = client("ec2", endpoint).describe_vpcs(
        Filters=[{"Name": "tag:stackop:stack", "Values": [stack]}]
    )
    return list(reply["Vpcs"])


def nat_gateways(endpoint: str, stack: str) -> list[dict[str, Any]]:
    reply = client("ec2", endpoint).describe_nat_gateways(
        Filters=[{"Name": "tag:stackop:stack", "Values": [stack]}]
    )
    return [g for g in reply["NatGateways"] if g["State"] not in ("deleted", "deleting")]


def stackop(endpoint: str, *args: str, log: Path) -> subprocess.CompletedProcess[str]:
    """`stackop` with no terminal: stdin is /dev/null."""
    return subprocess.run(
        [str(BIN / "stackop"), "--endpoint-url", endpoint, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "STACKOP_CALL_LOG": str(log)},
    )
