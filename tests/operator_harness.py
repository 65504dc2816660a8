"""Real processes for the operator's end-to-end tests: `stackop run`, awscli, HTTP reads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import BIN, ROOT, free_port

T = TypeVar("T")
AWS = BIN / "aws"
PORTAL = ROOT / "specs" / "portal.yaml"
PORTAL_NAME = "customer-order-portal-production"


def wait_for(
    check: Callable[[], T | Literal[False] | None], timeout: float, what: str, every: float = 0.2
) -> T:
    """Poll `check` until it returns something truthy; fail naming `what`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, ValueError) as exc:  # the process may not listen yet
            last = exc
        if last and not isinstance(last, Exception):
            return cast(T, last)
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def aws(endpoint: str, *args: str, check: bool = True) -> Any:
    """Run awscli against moto; parsed JSON output (or text when not JSON)."""
    proc = subprocess.run(
        [str(AWS), "--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed: {proc.stderr}")
    try:
        return json.loads(proc.stdout) if proc.stdout.strip() else None
    except ValueError:
        return proc.stdout


def make_bucket(endpoint: str, bucket: str) -> None:
    aws(endpoint, "s3api", "create-bucket", "--bucket", bucket)
    aws(
        endpoint,
        "s3api",
        "put-bucket-versioning",
        "--bucket",
        bucket,
        "--versioning-configuration",
        "Status=Enabled",
    )


def push_text(endpoint: str, bucket: str, key: str, text: str, tmp: Path) -> None:
    """Upload like a user would: `aws s3 cp FILE s3://bucket/key`."""
    path = tmp / Path(key).name
    path.write_text(text)
    aws(endpoint, "s3", "cp", str(path), f"s3://{bucket}/{key}")


def spec_text(name: str = PORTAL_NAME, edit: Callable[[dict[str, Any]], None] | None = None) -> str:
    """specs/portal.yaml, renamed and edited."""
    doc = yaml.safe_load(PORTAL.read_text())
    doc["metadata"]["name"] = name
    if edit is not None:
        edit(doc["spec"])
    return yaml.safe_dump(doc, sort_keys=False)


Sample = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Operator:
    """One `stackop run` process with its own port, identity, log and call log."""

    def __init__(
        self, endpoint: str, bucket: str, workdir: Path, name: str = "op", *extra: str
    ) -> None:
        self.endpoint = endpoint
        self.bucket = bucket
        self.name = name
        self.port = free_port()
        self.log_path = workdir / f"{name}.log"
        self.err_path = workdir / f"{name}.err"
        self.call_log = workdir / f"{name}.calls.jsonl"
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.extra_env: dict[str, str] = {}
        """Set before start(): more environment (e.g. STACKOP_CLOCK_SKEW_SECONDS)."""

    def start(self, resync: float = 2, poll: float = 1, lease: float = 5) -> Operator:
        env = {
            **os.environ,
            "STACKOP_ENDPOINT_URL": self.endpoint,
            "STACKOP_BUCKET": self.bucket,
            "STACKOP_PORT": str(self.port),
            "STACKOP_IDENTITY": self.name,
            "STACKOP_RESYNC": str(resync),
            "STACKOP_POLL": str(poll),
            "STACKOP_LEASE_SECONDS": str(lease),
            "STACKOP_SCALING_INTERVAL": "2",
            "STACKOP_CALL_LOG": str(self.call_log),
            **self.extra_env,
        }
        with open(self.log_path, "ab") as out, open(self.err_path, "ab") as err:
            self.proc = subprocess.Popen(
                [str(BIN / "stackop"), "run", *self.extra],
                stdout=out,
                stderr=err,
                env=env,
                cwd=ROOT,
            )
        wait_for(lambda: self.get("/healthz"), 20, f"{self.name} /healthz")
        return self

    def get(self, path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
            return str(resp.read().decode())

    def metrics(self) -> Sample:
        out: Sample = {}
        for family in text_string_to_metric_families(self.get("/metrics")):
            for s in family.samples:
                out[(s.name, frozenset(s.labels.items()))] = s.value
        return out

    def status(self, stack: str) -> dict[str, Any]:
        docs = json.loads(self.get("/status"))["stacks"]
        found = [d for d in docs if d["stack"] == stack]
        return found[0] if found else {}

    def logs(self) -> list[dict[str, Any]]:
        events = []
        for line in self.log_path.read_text().splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
        return events

    def calls(self) -> list[dict[str, Any]]:
        if not self.call_log.exists():
            return []
        return [json.loads(line) for line in self.call_log.read_text().splitlines() if line]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> tuple[int, float]:
        """Send `sig`; return (exit code, seconds to exit)."""
        assert self.proc is not None
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def value(sample: Sample, name: str, **labels: str) -> float:
    """Sum of the series of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, lbl), v in sample.items() if n == name and want <= lbl)


def series(sample: Sample, name: str, **labels: str) -> list[dict[str, str]]:
    want = set(labels.items())
    return [dict(lbl) for (n, lbl), v in sample.items() if n == name and want <= lbl and v]


def converged(op: Operator, stack: str) -> Sample | None:
    """The metrics once every resource of `stack` is in sync (None before)."""
    m = op.metrics()
    in_sync = value(m, "stackop_resources", stack=stack, state="in_sync")
    other = sum(
        value(m, "stackop_resources", stack=stack, state=s)
        for s in ("drifted", "missing", "pending", "failed")
    )
    if in_sync > 0 and other == 0 and value(m, "stackop_drifted_resources", stack=stack) == 0:
        return m
    return None


def stop_all(ops: Iterable[Operator]) -> None:
    for op in ops:
        op.kill()


def network_only(spec: dict[str, Any]) -> None:
    """Edit for a small, fast stack: the network section only."""
    for section in ("database", "frontend", "cdn", "cluster"):
        spec.setdefault(section, {})["enabled"] = False
    spec["loadBalancer"] = {"enabled": False}
    spec["services"] = []
    spec.pop("serviceDefaults", None)


def owned_groups(endpoint: str, stack: str, role: str) -> list[dict[str, Any]]:
    reply = aws(
        endpoint,
        "ec2",
        "describe-security-groups",
        "--filters",
        f"Name=tag:stackop:stack,Values={stack}",
        f"Name=tag:stackop:logical-id,Values=security_group/{role}",
    )
    return list(reply["SecurityGroups"])


def open_port_out_of_band(endpoint: str, stack: str, role: str, port: int, cidr: str) -> str:
    """Drift as a user makes it: an extra ingress rule on the stack's `role` group, added
    with the AWS CLI. Returns the group id."""
    (group,) = owned_groups(endpoint, stack, role)
    aws(endpoint, "ec2", "authorize-security-group-ingress", "--group-id", group["GroupId"],
        "--protocol", "tcp", "--port", str(port), "--cidr", cidr)  # fmt: skip
    return str(group["GroupId"])


def has_ingress_port(group: dict[str, Any], port: int) -> bool:
    return any(p.get("FromPort") == port for p in group.get("IpPermissions", []))


def holds_lease(op: Operator, stack: str) -> bool:
    """`stackop_lease_held` of `stack` on `op` is 1."""
    return value(op.metrics(), "stackop_lease_held", stack=stack) == 1


def read_object(endpoint: str, bucket: str, key: str) -> Any:
    """An object's JSON body, read with awscli (None when it does not exist)."""
    listed = aws(endpoint, "s3api", "list-objects-v2", "--bucket", bucket, "--prefix", key)
    if not any(o["Key"] == key for o in (listed or {}).get("Contents", [])):
        return None
    return aws(endpoint, "s3", "cp", f"s3://{bucket}/{key}", "-")


def paused_small(spec: dict[str, Any]) -> None:
    """Edit for a stack that costs almost nothing to reconcile: network only, paused."""
    network_only(spec)
    spec["paused"] = True
