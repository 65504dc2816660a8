"""Crash anywhere: `kill -9` of `stackop run` at 20 random points of a full portal converge
from empty; after the last restart it converges with no duplicate and no untagged resource.

Each kill point is either a random delay after the process answers /healthz (start-up,
warm-up, waiting for the dead process's lease, reconciling) or the Nth `action_started`
log line of that process (creates in flight). Most restarts keep the identity (a process
restarted in place by its supervisor renews its own lease at once); every fifth takes a
new one, as a replacement ECS task would, and first waits for the killed holder's lease
to expire (--lease-seconds 3). The seed is printed; STACKOP_CRASH_SEED replays a run.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from tests.operator_harness import (
    PORTAL,
    PORTAL_NAME,
    Operator,
    aws,
    converged,
    make_bucket,
    value,
    wait_for,
)
from tests.resilience_harness import Lookalikes, check_new_resources, expected_counts, inventory

BUCKET = "stackop-crash-specs"
KILLS = 20
LEASE = 3.0


def actions_started(op: Operator) -> int:
    if not op.log_path.exists():
        return 0
    return op.log_path.read_text().count('"event": "action_started"')


def run_until_killed(op: Operator, rng: random.Random) -> str:
    """Start `op`, SIGKILL it at a random point; describe the point."""
    op.start(resync=2, poll=0.5, lease=LEASE)
    if rng.random() < 0.25:
        delay = rng.uniform(0.0, 2.0)
        time.sleep(delay)
        point = f"{delay:.2f}s after /healthz"
    else:  # small N: the 20 kills fall inside the portal's 134 creates, not after them
        nth = rng.randint(1, 6)
        deadline = time.monotonic() + 5.0
        while actions_started(op) < nth and time.monotonic() < deadline:
            time.sleep(0.01)
        point = f"action line {nth}"
        if actions_started(op) < nth:
            point += " (not reached in 5s: nothing left to do?)"
    op.kill()
    return f"{point}; {actions_started(op)} action(s) started"


def test_kill_9_at_random_points_then_converges_without_duplicates(
    endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")  # as in the image: log lines as they happen
    seed = int(os.environ.get("STACKOP_CRASH_SEED") or random.randrange(1 << 30))
    print(f"crash seed: {seed} (STACKOP_CRASH_SEED={seed} replays it)")
    rng = random.Random(seed)
    make_bucket(endpoint, BUCKET)
    lookalikes = Lookalikes(endpoint, PORTAL_NAME).create()
    baseline = inventory(endpoint)
    aws(endpoint, "s3", "cp", str(PORTAL), f"s3://{BUCKET}/specs/portal.yaml")

    started = 0
    for i in range(KILLS):
        identity = f"crash-identity-{i // 5}"
        op = Operator(endpoint, BUCKET, tmp_path, f"crash-{i}", "--identity", identity)
        try:
            point = run_until_killed(op, rng)
        finally:
            op.kill()
        started += actions_started(op)
        print(f"kill {i + 1:2} ({identity}): {point}")
    assert started > 0, "no kill point fell while actions were running"

    final = Operator(endpoint, BUCKET, tmp_path, "final").start(resync=2, poll=0.5, lease=LEASE)
    try:
        wait_for(lambda: converged(final, PORTAL_NAME), 120, f"converged (seed {seed})")
        wait_for(
            lambda: value(
                final.metrics(), "stackop_reconcile_total", stack=PORTAL_NAME, result="success"
            ),
            30,
            "a successful reconcile counted",
        )
        counts = check_new_resources(
            baseline, inventory(endpoint), PORTAL_NAME, expected_counts(PORTAL.read_text())
        )
        print(f"after {KILLS} kills ({started} actions started by killed processes): {counts}")
        lookalikes.assert_untouched()
    finally:
        final.kill()
