"""A lease object that is not a lease (random bytes, `[]`, a text expiresAt, a JSON
string, ...) or a lease nobody renews: the stack is not locked for ever. /status says it
is not reconciled (Reconciling=False, LeaseUnreadable / LeaseHeldByOther naming the
holder, Ready=False), the problem is logged once per version of the object, and after
one lease period of no change the lease is overwritten with a proper one.

Real processes: moto_server, one `stackop run`; the garbage is put with boto3 (all of
it within a few milliseconds, so every stack sees its garbage for a full lease period).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests import aws as boto
from tests.operator_harness import (
    Operator,
    make_bucket,
    paused_small,
    spec_text,
    stop_all,
    wait_for,
)

BUCKET = "stackop-garbage-leases"
LEASE = 6.0
GARBAGE: dict[str, bytes] = {
    "bytes": bytes(range(256))[::7] + b"\xff\xfe not json",
    "list": b"[]",
    "text-expiry": b'{"expiresAt": "soon"}',
    "string": b'"held by me"',
    "number": b"42",
    "null": b"null",
    "empty": b"",
    "holder-number": b'{"holder": 7, "expiresAt": 99999999999}',
    "nan-expiry": b'{"holder": "x", "expiresAt": NaN}',
}
GHOST = "ghost"
"""A well-formed lease whose holder never renews and whose expiresAt is far away."""
GHOST_LEASE = b'{"stack": "ghost", "holder": "op-elsewhere", "expiresAt": 99999999999}'
STACKS = [f"junk-{shape}" for shape in GARBAGE] + [GHOST]


def conditions(doc: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {c["type"]: c for c in doc.get("conditions", [])}


def read_lease(s3: Any, stack: str) -> Any:
    body = s3.get_object(Bucket=BUCKET, Key=f"leases/{stack}.json")["Body"].read()
    try:
        return json.loads(body)
    except ValueError:
        return None


def lease_holder(s3: Any, stack: str) -> Any:
    lease = read_lease(s3, stack)
    return lease.get("holder") if isinstance(lease, dict) else None


def test_garbage_leases_are_reported_then_taken_over(endpoint: str, tmp_path: Path) -> None:
    make_bucket(endpoint, BUCKET)
    s3 = boto.client("s3", endpoint)
    op = Operator(endpoint, BUCKET, tmp_path, "op-garbage")
    try:
        op.start(resync=5, poll=1, lease=LEASE)
        for stack in STACKS:
            body = GHOST_LEASE if stack == GHOST else GARBAGE[stack.removeprefix("junk-")]
            s3.put_object(Bucket=BUCKET, Key=f"leases/{stack}.json", Body=body)
        for stack in STACKS:
            spec = spec_text(stack, paused_small).encode()
            s3.put_object(Bucket=BUCKET, Key=f"specs/{stack}.yaml", Body=spec)
        written = time.monotonic()

        # every stack first says why it is not reconciled, then is taken over
        seen: dict[str, dict[str, Any]] = {}
        taken: dict[str, float] = {}
        while len(taken) < len(STACKS) and time.monotonic() < written + 4 * LEASE:
            for stack in STACKS:
                doc = op.status(stack)
                reconciling = conditions(doc).get("Reconciling")
                if reconciling is None or stack in taken or reconciling["reason"] == "LeaseNotHeld":
                    continue  # LeaseNotHeld: the spec is loaded, its lease not read yet
                if reconciling["status"] == "True":
                    taken[stack] = time.monotonic() - written
                else:
                    seen.setdefault(stack, doc)
            time.sleep(0.1)
        assert sorted(taken) == sorted(STACKS), f"not taken over: {set(STACKS) - set(taken)}"
        assert sorted(seen) == sorted(STACKS), f"never reported: {set(STACKS) - set(seen)}"
        print({s: round(t, 1) for s, t in taken.items()})
        # never before a lease period of no change; the last within ~2 periods of the write
        # (ten specs are loaded one after the other: the last is first looked at later)
        assert min(taken.values()) >= LEASE and max(taken.values()) <= 2.5 * LEASE
        for stack, doc in seen.items():
            reconciling, ready = conditions(doc)["Reconciling"], conditions(doc)["Ready"]
            assert reconciling["status"] == ready["status"] == "False", stack
            if stack == GHOST:
                assert reconciling["reason"] == ready["reason"] == "LeaseHeldByOther"
                assert "op-elsewhere" in reconciling["message"]
                assert doc["holder"] == "op-elsewhere"
            else:
                assert reconciling["reason"] == ready["reason"] == "LeaseUnreadable", stack
                assert f"leases/{stack}.json is not a lease (" in reconciling["message"]
        for stack in STACKS:
            lease = read_lease(s3, stack)
            assert lease["holder"] == op.name and lease["stack"] == stack
            assert lease["expiresAt"] > 0
        logged = [e for e in op.logs() if e.get("event") == "lease_unreadable"]
        assert sorted(e["stack"] for e in logged) == sorted(STACKS[:-1]), "once per stack"
        assert all(e["problem"] for e in logged)

        # garbage written over a lease the operator holds: it stops, says so, takes it back
        victim = "junk-list"
        s3.put_object(Bucket=BUCKET, Key=f"leases/{victim}.json", Body=b"[1, 2, 3]")
        doc = wait_for(
            lambda: (
                (d := op.status(victim))
                and conditions(d)["Reconciling"]["reason"] == "LeaseUnreadable"
                and d
            ),
            LEASE,
            "the holder sees its lease overwritten",
            every=0.1,
        )
        assert conditions(doc)["Ready"]["status"] == "False"
        wait_for(
            lambda: lease_holder(s3, victim) == op.name,
            3 * LEASE,
            "the lease taken back",
            every=0.5,
        )
    finally:
        stop_all([op])
