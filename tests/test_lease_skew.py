"""Lease clock skew: a standby whose wall clock runs 25 s fast never takes the lease
from a live holder, and takes it within about one lease period once the holder is
killed with SIGKILL.

Real processes: moto_server, two `stackop run` (the standby started with the test-only
STACKOP_CLOCK_SKEW_SECONDS=25, see controller/operator/clock.py), awscli.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import aws as boto
from tests.operator_harness import (
    Operator,
    holds_lease,
    make_bucket,
    paused_small,
    push_text,
    read_object,
    spec_text,
    stop_all,
    wait_for,
)

BUCKET = "stackop-skew"
STACK = "skewed-shop"
LEASE = 6.0
SKEW = 25.0


@pytest.fixture
def ops(endpoint: str, tmp_path: Path) -> Iterator[list[Operator]]:
    make_bucket(endpoint, BUCKET)
    push_text(endpoint, BUCKET, f"specs/{STACK}.yaml", spec_text(STACK, paused_small), tmp_path)
    started: list[Operator] = []
    yield started
    stop_all(started)


def test_a_fast_standby_waits_for_the_lease_to_stop_changing(
    ops: list[Operator], endpoint: str, tmp_path: Path
) -> None:
    holder = Operator(endpoint, BUCKET, tmp_path, "op-holder")
    ops.append(holder.start(lease=LEASE))
    wait_for(lambda: holds_lease(holder, STACK), 20, "the first process holds the lease")
    fast = Operator(endpoint, BUCKET, tmp_path, "op-fast")
    fast.extra_env = {"STACKOP_CLOCK_SKEW_SECONDS": str(SKEW)}
    ops.append(fast.start(lease=LEASE))

    # for 2.5 lease periods the holder renews: the standby never holds, not even briefly
    deadline = time.monotonic() + 2.5 * LEASE
    looks = 0
    while time.monotonic() < deadline:
        assert not holds_lease(fast, STACK), "the fast standby took a lease that is renewed"
        assert holds_lease(holder, STACK), "the holder lost its lease while renewing"
        looks += 1
        time.sleep(0.05)
    assert looks > 50
    assert not [e for e in fast.logs() if e.get("event") in ("lease_acquired", "lease_taken_over")]
    assert read_object(endpoint, BUCKET, f"leases/{STACK}.json")["holder"] == "op-holder"

    holder.stop(signal.SIGKILL)
    killed = time.monotonic()
    wait_for(lambda: holds_lease(fast, STACK), 3 * LEASE, "the standby takes over", every=0.1)
    took = time.monotonic() - killed
    print(f"takeover {took:.1f}s after kill -9 (lease {LEASE}s)")
    assert took <= 1.5 * LEASE
    assert read_object(endpoint, BUCKET, f"leases/{STACK}.json")["holder"] == "op-fast"


def test_a_lease_nobody_renewed_for_a_lease_period_is_taken_at_once(
    ops: list[Operator], endpoint: str, tmp_path: Path
) -> None:
    """A replacement process has never seen the dead holder's lease change, but S3 tells
    it how old the object is (its Date minus Last-Modified, both S3's clock): a lease
    left a lease period ago is taken on the first look, not a lease period later.
    Its expiresAt, by the dead holder's clock, is far in the future and ignored."""
    lease = 3.0
    s3 = boto.client("s3", endpoint)
    body = {"stack": STACK, "holder": "op-dead", "expiresAt": time.time() + 3600,
            "renewedAt": time.time(), "leaseSeconds": lease}  # fmt: skip
    s3.put_object(Bucket=BUCKET, Key=f"leases/{STACK}.json", Body=json.dumps(body).encode())
    time.sleep(lease * 1.1 + 3)  # a lease period, the take margin, S3's 1 s resolution
    late = Operator(endpoint, BUCKET, tmp_path, "op-late")
    ops.append(late.start(lease=lease))
    wait_for(lambda: holds_lease(late, STACK), 15, "the lease taken")
    states = [e for e in late.logs() if e.get("event") == "lease_state"]
    assert states[0]["held"] is True, f"not taken on the first look: {states}"
    (taken,) = [e for e in late.logs() if e.get("event") == "lease_taken_over"]
    assert taken["previous"] == "op-dead" and taken["unchanged_for"] >= lease
    assert read_object(endpoint, BUCKET, f"leases/{STACK}.json")["holder"] == "op-late"
