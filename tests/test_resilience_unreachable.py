"""AWS unreachable mid-run: /readyz fails while it is down, the operator recovers on its
own, nothing is deleted or duplicated, and a cut-off lease holder never writes again once
a standby has taken its stacks over.

"Unreachable" is a TCP proxy (tests/tcp_proxy.py) between the operator and moto that is
cut: new connections refused, open ones reset. That is what a stopped server looks like
at the TCP level, without stopping moto, which keeps every resource in memory and would
come back empty. (SIGSTOP of moto would model a hung server instead: connections
accepted and never answered; /readyz covers that case the same way, by the age of the
last successful spec listing, since a hung listing never fails before its timeouts.)
Everything the operator does goes through the proxy: the kinds' calls, the spec
listing, the leases and the status objects. The test's own reads go straight to moto.
"""

from __future__ import annotations

import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.operator_harness import (
    PORTAL_NAME,
    Operator,
    converged,
    make_bucket,
    push_text,
    spec_text,
    value,
    wait_for,
)
from tests.resilience_harness import (
    Lookalikes,
    check_new_resources,
    expected_counts,
    ids_by_type,
    inventory,
)
from tests.tcp_proxy import TcpProxy

BUCKET = "stackop-unreachable-specs"
KEY = "specs/portal.yaml"
OUTAGE = 30.0


@pytest.fixture
def proxy(moto: Any) -> Iterator[TcpProxy]:
    px = TcpProxy(moto.port).start()
    yield px
    px.stop()


def eight_services(spec: dict[str, Any]) -> None:
    spec["services"] = spec["services"][:8]


def http_status(op: Operator, path: str) -> int:
    try:
        op.get(path)
        return 200
    except urllib.error.HTTPError as exc:
        return exc.code


def first_action_after(op: Operator, mark: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if '"event": "action_started"' in op.log_path.read_text()[mark:]:
            return
        time.sleep(0.005)
    raise AssertionError("no action started after the spec change")


def successes(op: Operator) -> float:
    return value(op.metrics(), "stackop_reconcile_total", stack=PORTAL_NAME, result="success")


def test_aws_unreachable_for_30s_readyz_fails_and_operator_recovers(
    endpoint: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    make_bucket(endpoint, BUCKET)
    lookalikes = Lookalikes(endpoint, PORTAL_NAME).create()
    baseline = inventory(endpoint)
    op = Operator(proxy.url, BUCKET, tmp_path, "cut").start(resync=2, poll=1, lease=5)
    try:
        push_text(endpoint, BUCKET, KEY, spec_text(PORTAL_NAME, eight_services), tmp_path)
        wait_for(lambda: converged(op, PORTAL_NAME), 120, "8 services converged")
        before = ids_by_type(inventory(endpoint))
        assert http_status(op, "/readyz") == 200

        # a ninth service: cut AWS off as its first create starts, so writes are in flight
        mark = len(op.log_path.read_text())
        full = spec_text(PORTAL_NAME)
        push_text(endpoint, BUCKET, KEY, full, tmp_path)
        first_action_after(op, mark, 30)
        proxy.cut()
        cut_at = time.monotonic()
        wait_for(lambda: http_status(op, "/readyz") == 503, 15, "/readyz failing while down")
        failed_after = time.monotonic() - cut_at
        reason = ""
        while time.monotonic() - cut_at < OUTAGE:
            assert http_status(op, "/healthz") == 200, "the process stays alive while AWS is down"
            time.sleep(1.0)
            try:
                op.get("/readyz")
                reason = "ready"
            except urllib.error.HTTPError as exc:
                reason = exc.read().decode()
        assert "AWS not reachable" in reason, f"/readyz at the end of the outage: {reason!r}"
        counted = successes(op)
        proxy.restore()
        back_at = time.monotonic()

        wait_for(lambda: http_status(op, "/readyz") == 200, 60, "/readyz recovers")
        ready_after = time.monotonic() - back_at
        wait_for(lambda: successes(op) > counted, 90, "a successful reconcile after the outage")
        wait_for(lambda: converged(op, PORTAL_NAME), 60, "converged after the outage")
        recovered_after = time.monotonic() - back_at
        print(
            f"/readyz failed {failed_after:.1f}s after the cut; after {OUTAGE:.0f}s restored: "
            f"ready again in {ready_after:.1f}s, converged in {recovered_after:.1f}s"
        )

        after = inventory(endpoint)
        now = ids_by_type(after)
        gone = {kind: sorted(ids - now.get(kind, set())) for kind, ids in before.items()}
        assert not any(gone.values()), f"deleted during the outage: {gone}"
        check_new_resources(baseline, after, PORTAL_NAME, expected_counts(full))
        deletes = [e for e in op.logs() if e.get("action") == "delete"]
        assert deletes == [], deletes
        assert not [e for e in op.logs() if e.get("event") == "stack_orphaned"]
        assert value(op.metrics(), "stackop_lease_held", stack=PORTAL_NAME) == 1
        lookalikes.assert_untouched()
    finally:
        op.kill()


def test_cut_off_holder_yields_to_a_standby_and_never_writes_again(
    endpoint: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    """Two operators: the holder reaches AWS through the proxy, the standby directly.
    While the holder is cut off its lease runs out and the standby takes the stack; once
    reachable again the old holder finds the lease taken and makes no write call."""
    make_bucket(endpoint, BUCKET)
    lookalikes = Lookalikes(endpoint, PORTAL_NAME).create()
    baseline = inventory(endpoint)
    lease = 4.0
    holder = Operator(proxy.url, BUCKET, tmp_path, "holder").start(resync=2, poll=1, lease=lease)
    standby = None
    try:
        push_text(endpoint, BUCKET, KEY, spec_text(PORTAL_NAME, eight_services), tmp_path)
        wait_for(lambda: converged(holder, PORTAL_NAME), 120, "converged by the holder")
        standby = Operator(endpoint, BUCKET, tmp_path, "standby").start(
            resync=2, poll=1, lease=lease
        )
        wait_for(lambda: standby.status(PORTAL_NAME), 15, "the standby sees the stack")
        assert value(standby.metrics(), "stackop_lease_held", stack=PORTAL_NAME) == 0

        proxy.cut()
        push_text(endpoint, BUCKET, KEY, spec_text(PORTAL_NAME), tmp_path)  # work to do
        wait_for(
            lambda: value(standby.metrics(), "stackop_lease_held", stack=PORTAL_NAME) == 1,
            3 * lease,
            "the standby took the lease over",
        )
        wait_for(lambda: converged(standby, PORTAL_NAME), 60, "converged by the standby")
        calls_before = len(holder.calls())
        proxy.restore()
        wait_for(lambda: http_status(holder, "/readyz") == 200, 60, "the old holder is ready")
        time.sleep(3 * lease)  # several resyncs and lease rounds of the old holder
        late = [
            c
            for c in holder.calls()[calls_before:]
            if c["outcome"] == "ok"
            and not c["operation"].startswith(("Describe", "List", "Get", "Head"))
        ]
        assert late == [], f"the cut-off holder wrote after losing its lease: {late}"
        assert value(holder.metrics(), "stackop_lease_held", stack=PORTAL_NAME) == 0
        assert value(standby.metrics(), "stackop_lease_held", stack=PORTAL_NAME) == 1
        full = spec_text(PORTAL_NAME)
        check_new_resources(baseline, inventory(endpoint), PORTAL_NAME, expected_counts(full))
        lookalikes.assert_untouched()
    finally:
        holder.kill()
        if standby is not None:
            standby.kill()
