"""Two spec objects naming one stack: neither is applied, loudly, in every process.

Real processes: moto_server, two `stackop run`, the AWS CLI for pushes and reads.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_stackop
from tests.identity_harness import condition_true, conditions, owner_tag, tiny
from tests.operator_harness import (
    Operator,
    aws,
    converged,
    make_bucket,
    push_text,
    series,
    stop_all,
    value,
    wait_for,
)

BUCKET = "stackop-specs"
STACK = "idc-shop"
FIRST, SECOND = "specs/first.yaml", "specs/second.yaml"


def test_two_objects_with_one_name_apply_neither_until_one_is_deleted(
    endpoint: str, tmp_path: Path
) -> None:
    make_bucket(endpoint, BUCKET)
    first = Operator(endpoint, BUCKET, tmp_path, "first").start(resync=1, poll=0.5, lease=3)
    ops = [first]
    try:
        push_text(endpoint, BUCKET, FIRST, tiny(STACK, owner="first"), tmp_path)
        m = wait_for(lambda: converged(first, STACK), 60, "the first object applied")
        (applied,) = [s["version"] for s in series(m, "stackop_spec_info", stack=STACK)]
        assert owner_tag(endpoint, STACK) == "first"

        push_text(endpoint, BUCKET, SECOND, tiny(STACK, owner="second"), tmp_path)
        doc = wait_for(lambda: condition_true(first, STACK, "Conflict"), 15, "Conflict")
        conflict = conditions(doc)["Conflict"]
        assert conflict["reason"] == "DuplicateName"
        assert FIRST in conflict["message"] and SECOND in conflict["message"]
        assert doc["conflict"] == conflict["message"]
        assert doc["specVersion"] == applied, "the last applied spec is kept"
        assert value(first.metrics(), "stackop_spec_invalid", stack=STACK) == 1
        assert any(e.get("event") == "spec_conflict" for e in first.logs())
        runs = value(first.metrics(), "stackop_reconcile_total", stack=STACK)
        wait_for(
            lambda: value(first.metrics(), "stackop_reconcile_total", stack=STACK) >= runs + 2,
            15,
            "two more reconciles of the last applied spec",
        )
        assert owner_tag(endpoint, STACK) == "first", "the second object was not applied"

        out = run_stackop("--bucket", BUCKET, "status", STACK, endpoint=endpoint, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "conflict:" in out.stdout and SECOND in out.stdout

        # an edit of either object is not applied either while both exist
        push_text(endpoint, BUCKET, FIRST, tiny(STACK, owner="first-edited"), tmp_path)
        wait_for(lambda: len([e for e in first.logs() if e.get("event") == "spec_conflict"]) > 1,
                 10, "conflict reported again")  # fmt: skip
        runs = value(first.metrics(), "stackop_reconcile_total", stack=STACK)
        wait_for(
            lambda: value(first.metrics(), "stackop_reconcile_total", stack=STACK) >= runs + 2,
            15,
            "two more reconciles",
        )
        assert owner_tag(endpoint, STACK) == "first"
        assert first.status(STACK)["specVersion"] == applied

        # a fresh standby, started while both exist, reaches the same decision: neither
        # object is applied; it keeps the spec status/<stack>.json says was last applied
        # (read back from the versioned bucket)
        standby = Operator(endpoint, BUCKET, tmp_path, "standby").start(resync=1, poll=0.5, lease=3)
        ops.append(standby)
        doc = wait_for(lambda: condition_true(standby, STACK, "Conflict"), 15, "standby sees it")
        assert doc["specVersion"] == applied, "the last applied version, not either object"
        # ...and keeps to it once it holds the stack: nothing to change, nothing written
        first.kill()
        wait_for(lambda: standby.status(STACK).get("holder") == "standby", 20, "lease taken")
        stored = wait_for(
            lambda: (
                (d := aws(endpoint, "s3", "cp", f"s3://{BUCKET}/status/{STACK}.json", "-"))
                and d.get("holder") == "standby"
                and d
            ),
            15,
            "the standby's status document",
        )
        assert stored["conflict"] and stored["specVersion"] == applied
        m = wait_for(lambda: converged(standby, STACK), 20, "the standby enforces it")
        assert value(m, "stackop_spec_invalid", stack=STACK) == 1
        assert value(m, "stackop_actions_total", stack=STACK) == 0
        assert not [e for e in standby.logs() if e.get("event") == "action_started"]
        assert owner_tag(endpoint, STACK) == "first"

        # deleting one object resolves it: the remaining one is applied
        aws(endpoint, "s3", "rm", f"s3://{BUCKET}/{FIRST}")
        wait_for(lambda: owner_tag(endpoint, STACK) == "second", 30, "the second object applied")
        doc = wait_for(
            lambda: (d := standby.status(STACK)) and d.get("specKey") == SECOND and d, 10, "key"
        )
        assert conditions(doc)["Conflict"]["status"] == "False" and doc["conflict"] is None
        m = wait_for(lambda: converged(standby, STACK), 30, "converged on the second object")
        assert value(m, "stackop_spec_invalid", stack=STACK) == 0
        assert value(m, "stackop_actions_total", stack=STACK, action="delete") == 0
    finally:
        stop_all(ops)
