"""Small specs and reads shared by the stack identity tests (tests/test_identity_*.py)."""

from __future__ import annotations

from typing import Any

import yaml

from tests.operator_harness import Operator, aws


def tiny(name: str, owner: str = "first", **body: Any) -> str:
    """A one-AZ network without NAT: a handful of resources, converged in seconds.
    `owner` goes into the stack's tags, so which file is applied shows on the VPC."""
    doc: dict[str, Any] = {
        "apiVersion": "stackop/v1",
        "kind": "Stack",
        "metadata": {"name": name},
        "spec": {
            **body,
            "tags": {"Owner": owner},
            "network": {
                "cidr": "10.30.0.0/16",
                "availabilityZones": ["us-east-1a"],
                "publicSubnets": ["10.30.1.0/24"],
                "privateAppSubnets": ["10.30.11.0/24"],
                "privateDataSubnets": ["10.30.21.0/24"],
                "natGateways": "none",
            },
            **{s: {"enabled": False} for s in ("database", "loadBalancer", "frontend", "cdn")},
            "cluster": {"enabled": False},
            "services": [],
        },
    }
    return yaml.safe_dump(doc, sort_keys=False)


def vpcs(endpoint: str, stack: str) -> list[dict[str, Any]]:
    reply = aws(
        endpoint, "ec2", "describe-vpcs", "--filters", f"Name=tag:stackop:stack,Values={stack}"
    )
    return list(reply["Vpcs"])


def owner_tag(endpoint: str, stack: str) -> str | None:
    (vpc,) = vpcs(endpoint, stack)
    return {t["Key"]: t["Value"] for t in vpc.get("Tags", [])}.get("Owner")


def conditions(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in doc.get("conditions", [])}


def condition_true(op: Operator, stack: str, name: str) -> dict[str, Any] | None:
    """The stack's /status document once condition `name` is True."""
    doc = op.status(stack)
    return doc if conditions(doc).get(name, {}).get("status") == "True" else None


def s3_json(endpoint: str, bucket: str, key: str) -> Any:
    """The object parsed, or None when it does not exist."""
    out = aws(endpoint, "s3", "cp", f"s3://{bucket}/{key}", "-", check=False)
    return out if isinstance(out, dict) else None
