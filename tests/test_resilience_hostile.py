"""Hostile specs put straight into the bucket (boto3, not `stackop push`, which validates
first) beside a good stack: each is rejected quickly with a clear error in /status and the
logs, the operator's memory stays bounded, /healthz stays up and the good stack keeps
being reconciled (drift injected on it is corrected).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from tests.aws import client
from tests.operator_harness import (
    PORTAL,
    Operator,
    converged,
    has_ingress_port,
    make_bucket,
    network_only,
    open_port_out_of_band,
    owned_groups,
    push_text,
    spec_text,
    value,
    wait_for,
)
from tests.resilience_harness import Lookalikes

BUCKET = "stackop-hostile-specs"
GOOD = "good-stack"
REJECT_WITHIN = 10.0
"""Seconds from the upload to the error in /status: a poll (1 s) plus the rejection."""
RSS_BOUND_MB = 200


def alias_bomb() -> bytes:
    """Billion laughs: 9 levels of 9 aliases, 9^9 values once expanded."""
    lines = [b"l0: &l0 [" + b", ".join([b"lol"] * 9) + b"]"]
    lines += [
        f"l{i}: &l{i} [".encode() + b", ".join([f"*l{i - 1}".encode()] * 9) + b"]"
        for i in range(1, 9)
    ]
    return b"\n".join(lines) + b"\n"


def many_services(n: int) -> bytes:
    """The portal with `n` plain services (written out: no YAML aliases)."""
    doc = yaml.safe_load(PORTAL.read_text())
    doc["spec"]["services"] = []
    doc["spec"]["loadBalancer"].pop("defaultService", None)
    head = yaml.safe_dump(doc, sort_keys=False).replace("services: []\n", "services:\n")
    rows = (
        f"  - name: svc{i}\n    port: {1024 + i}\n    cpu: 256\n    memory: 512\n" for i in range(n)
    )
    return (head + "".join(rows)).encode()


def lookalike_name() -> bytes:
    """The good stack's name with two Cyrillic o's (U+043E) for the Latin 'o'."""
    doc = yaml.safe_load(PORTAL.read_text())
    doc["metadata"]["name"] = GOOD.replace("o", "\u043e")
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode()


# case -> (bytes, a phrase the error must contain)
CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "alias-bomb": (alias_bomb, "alias bomb"),
    "ten-mib": (lambda: b"# padding\n" * (1024 * 1024), "the limit is 1 MiB"),
    "binary": (lambda: bytes(range(256)) * 4096, "binary data"),
    "deep-nesting": (lambda: b"spec: " + b"[" * 10_000 + b"]" * 10_000 + b"\n", "nesting deeper"),
    "five-thousand-services": (lambda: many_services(5000), "at most 500"),
    "unicode-lookalike": (lookalike_name, "CYRILLIC SMALL LETTER O"),
}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def spec_error(op: Operator, stack: str) -> str:
    return str(op.status(stack).get("specError") or "")


def test_hostile_specs_are_rejected_quickly_and_the_good_stack_keeps_reconciling(
    endpoint: str, tmp_path: Path
) -> None:
    make_bucket(endpoint, BUCKET)
    lookalikes = Lookalikes(endpoint, GOOD).create()
    op = Operator(endpoint, BUCKET, tmp_path, "hostile").start(resync=2, poll=1, lease=5)
    s3 = client("s3", endpoint)
    try:
        push_text(endpoint, BUCKET, f"specs/{GOOD}.yaml", spec_text(GOOD, network_only), tmp_path)
        wait_for(lambda: converged(op, GOOD), 60, "the good stack converged")
        assert op.proc is not None
        rss_before = rss_mb(op.proc.pid)

        rows = []
        for case, (make, phrase) in CASES.items():
            body = make()
            started = time.monotonic()
            s3.put_object(Bucket=BUCKET, Key=f"specs/{case}.yaml", Body=body)
            error = wait_for(
                functools.partial(spec_error, op, case), REJECT_WITHIN, f"{case} rejected"
            )
            took = time.monotonic() - started
            assert phrase in error, f"{case}: {error[:500]}"
            assert len(error) < 2000, f"{case}: the error is not a short, clear message"
            assert op.get("/healthz").startswith("ok")
            rows.append((case, len(body), took, rss_mb(op.proc.pid), error.splitlines()[0][:90]))
        for case, size, took, rss, first in rows:
            print(f"{case:24} {size:>9} B  rejected in {took:4.1f}s  RSS {rss:5.0f} MB  {first}")

        logged = {e.get("key") for e in op.logs() if e.get("event") == "spec_invalid"}
        assert {f"specs/{c}.yaml" for c in CASES} <= logged, logged
        m = op.metrics()
        for case in CASES:
            assert value(m, "stackop_spec_errors_total", stack=case) >= 1, case
        rss_after = rss_mb(op.proc.pid)
        print(f"operator RSS: {rss_before:.0f} MB before, {rss_after:.0f} MB after")
        assert rss_after - rss_before < RSS_BOUND_MB

        # the good stack is still enforced: drift on it is corrected
        open_port_out_of_band(endpoint, GOOD, "alb", 2222, "203.0.113.7/32")
        wait_for(
            lambda: not has_ingress_port(owned_groups(endpoint, GOOD, "alb")[0], 2222),
            20,
            "drift on the good stack corrected",
        )
        assert value(op.metrics(), "stackop_drift_corrected_total", stack=GOOD) >= 1
        assert op.get("/healthz").startswith("ok")
        assert op.get("/readyz").startswith("ok")
        lookalikes.assert_untouched()
    finally:
        op.kill()
