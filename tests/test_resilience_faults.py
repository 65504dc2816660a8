"""Throttling and server errors: with 30 % of AWS calls throttled and 5 % answered with a
500 (stackop_testing/faults.py, enabled by STACKOP_FAULTS in the operator's environment),
the full portal still converges from empty, nothing is duplicated, and the throttles show
in stackop_aws_api_calls_total{outcome="throttled"}.

The faults hit every client of the operator: the kinds, the spec listing, the leases and
the status objects. An injected fault answers before the request is sent, so it never
creates anything; an AWS 500 that follows a create which did happen is the "response
lost" case, covered by the kill -9 test (tests/test_resilience_crash.py).
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from tests.operator_harness import PORTAL, PORTAL_NAME, Operator, aws, converged, make_bucket
from tests.resilience_harness import Lookalikes, check_new_resources, expected_counts, inventory

BUCKET = "stackop-fault-specs"


def calls_by_outcome(op: Operator) -> dict[str, float]:
    out: dict[str, float] = {}
    for (name, labels), v in op.metrics().items():
        if name == "stackop_aws_api_calls_total":
            outcome = dict(labels)["outcome"]
            out[outcome] = out.get(outcome, 0.0) + v
    return out


def test_portal_converges_with_30pc_throttled_and_5pc_failing_calls(
    endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = int(os.environ.get("STACKOP_FAULT_SEED") or random.randrange(1 << 30))
    print(f"fault seed: {seed} (STACKOP_FAULT_SEED={seed} replays the fault sequence)")
    make_bucket(endpoint, BUCKET)
    lookalikes = Lookalikes(endpoint, PORTAL_NAME).create()
    baseline = inventory(endpoint)
    monkeypatch.setenv("STACKOP_FAULTS", f"throttle=0.3,error=0.05,seed={seed}")
    op = Operator(endpoint, BUCKET, tmp_path, "faulty").start(resync=2, poll=1, lease=10)
    try:
        started = time.monotonic()
        aws(endpoint, "s3", "cp", str(PORTAL), f"s3://{BUCKET}/specs/portal.yaml")
        deadline = time.monotonic() + 240
        while not converged(op, PORTAL_NAME):
            assert time.monotonic() < deadline, f"not converged in 240 s (seed {seed})"
            assert op.proc is not None and op.proc.poll() is None, "the operator died"
            time.sleep(0.5)
        took = time.monotonic() - started
        outcomes = calls_by_outcome(op)
        total = sum(outcomes.values())
        print(
            f"converged in {took:.1f}s; {total:.0f} HTTP attempts: "
            + ", ".join(f"{k} {v:.0f} ({v / total:.0%})" for k, v in sorted(outcomes.items()))
        )
        assert outcomes.get("throttled", 0) > 0.2 * total, outcomes
        assert outcomes.get("error", 0) > 0.02 * total, outcomes

        check_new_resources(
            baseline, inventory(endpoint), PORTAL_NAME, expected_counts(PORTAL.read_text())
        )
        lookalikes.assert_untouched()
        retried = [e for e in op.logs() if e.get("event") in ("action_failed", "requeued")]
        print(
            f"actions failed after botocore's retries, then retried by the operator: {len(retried)}"
        )
    finally:
        op.kill()
