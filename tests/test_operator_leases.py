"""Leases end to end: two `stackop run` processes share four stacks; kill -9 and SIGTERM.

Real processes: moto_server, two `stackop run`, the AWS CLI (pushes and checks).
"""

from __future__ import annotations

import functools
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.operator_harness import (
    PORTAL,
    PORTAL_NAME,
    Operator,
    aws,
    converged,
    make_bucket,
    network_only,
    push_text,
    spec_text,
    stop_all,
    value,
    wait_for,
)

BUCKET = "stackop-specs"
STACKS = [f"shop-{i}" for i in range(1, 5)]
LEASE = 8.0


@pytest.fixture
def pair(endpoint: str, tmp_path: Path) -> Iterator[tuple[Operator, Operator]]:
    make_bucket(endpoint, BUCKET)
    for stack in STACKS:
        push_text(endpoint, BUCKET, f"specs/{stack}.yaml", spec_text(stack, network_only), tmp_path)
    ops = (
        Operator(endpoint, BUCKET, tmp_path, "op-a"),
        Operator(endpoint, BUCKET, tmp_path, "op-b"),
    )
    for op in ops:
        op.start(resync=2, poll=1, lease=LEASE)
    yield ops
    stop_all(ops)


def holders(ops: tuple[Operator, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {s: [] for s in STACKS}
    for op in ops:
        m = op.metrics()
        for stack in STACKS:
            if value(m, "stackop_lease_held", stack=stack) == 1:
                out[stack].append(op.name)
    return out


def one_holder_each(ops: tuple[Operator, ...]) -> dict[str, str] | None:
    found = holders(ops)
    if all(len(h) == 1 for h in found.values()):
        return {s: h[0] for s, h in found.items()}
    return None


def lease_object(endpoint: str, stack: str) -> dict[str, object]:
    return dict(aws(endpoint, "s3", "cp", f"s3://{BUCKET}/leases/{stack}.json", "-"))


def owned_count(endpoint: str, stack: str, what: str) -> int:
    call, key = {"vpc": ("describe-vpcs", "Vpcs"), "subnet": ("describe-subnets", "Subnets")}[what]
    reply = aws(endpoint, "ec2", call, "--filters", f"Name=tag:stackop:stack,Values={stack}")
    return len(reply[key])


def test_each_stack_has_one_reconciler_and_a_killed_one_is_replaced(
    pair: tuple[Operator, Operator], endpoint: str
) -> None:
    by_name = {op.name: op for op in pair}
    owner = wait_for(lambda: one_holder_each(pair), 30, "one lease holder per stack")
    for stack, name in owner.items():
        wait_for(functools.partial(converged, by_name[name], stack), 90, f"{stack} converged")
    # exactly one process reconciles (and writes for) each stack
    for stack, name in owner.items():
        other = next(op for op in pair if op.name != name)
        assert value(by_name[name].metrics(), "stackop_reconcile_total", stack=stack) >= 1
        assert value(other.metrics(), "stackop_reconcile_total", stack=stack) == 0
        assert not [e for e in other.logs() if e.get("stack") == stack and "action" in e]
        assert lease_object(endpoint, stack)["holder"] == name

    victim = by_name[max(set(owner.values()), key=list(owner.values()).count)]
    survivor = next(op for op in pair if op is not victim)
    victim.stop(signal.SIGKILL)
    killed_at = time.monotonic()
    wait_for(
        lambda: all(h == [survivor.name] for h in holders((survivor,)).values()),
        3 * LEASE,
        "the survivor holds every stack",
        every=0.1,
    )
    takeover = time.monotonic() - killed_at
    print(f"takeover after kill -9: {takeover:.1f}s (lease {LEASE}s)")
    # expiry of the dead process' lease (at most one lease period) plus the next look
    assert takeover <= LEASE * 1.5
    for stack in STACKS:
        wait_for(
            functools.partial(converged, survivor, stack), 30, f"{stack} reconciled by survivor"
        )
        assert owned_count(endpoint, stack, "vpc") == 1, "no duplicate resource"
        assert owned_count(endpoint, stack, "subnet") == 6

    code, took = survivor.stop(signal.SIGTERM)
    assert code == 0 and took < 20
    for stack in STACKS:
        lease = lease_object(endpoint, stack)
        assert lease["holder"] == "" and lease["expiresAt"] == 0, "released on SIGTERM"
    assert any(e.get("event") == "shutdown_done" for e in survivor.logs())


def test_sigterm_mid_reconcile_releases_the_lease_and_exits_0(
    endpoint: str, tmp_path: Path
) -> None:
    make_bucket(endpoint, BUCKET)
    op = Operator(endpoint, BUCKET, tmp_path, "op-term").start(resync=2, poll=1, lease=30)
    try:
        aws(endpoint, "s3", "cp", str(PORTAL), f"s3://{BUCKET}/specs/portal.yaml")
        wait_for(
            lambda: any(e.get("event") == "action_started" for e in op.logs()),
            60,
            "the portal's first write in flight",
            every=0.05,
        )
        code, took = op.stop(signal.SIGTERM)
    finally:
        op.kill()
    assert code == 0
    assert took < 20, f"took {took:.1f}s to exit after SIGTERM"
    lease = lease_object(endpoint, PORTAL_NAME)
    assert lease["holder"] == "" and lease["expiresAt"] == 0
    done = [e for e in op.logs() if e.get("event") == "shutdown_done"]
    assert done and PORTAL_NAME in done[0]["released"]
