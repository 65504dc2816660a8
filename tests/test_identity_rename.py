"""Renaming a stack (metadata.name changed in the same spec object) is held, not a
silent duplicate: until spec.safety.allowRename or the old stack is torn down.

Real processes: moto_server, `stackop run` (restarted between the pushes), the AWS CLI.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_stackop
from tests.identity_harness import condition_true, conditions, s3_json, tiny, vpcs
from tests.operator_harness import (
    Operator,
    converged,
    make_bucket,
    push_text,
    value,
    wait_for,
)

BUCKET = "stackop-specs"
KEY = "specs/shop.yaml"


def held_message(old: str, new: str, resources: int) -> str:
    return (
        f"renaming stack {old} to {new} would orphan {old}'s {resources} resources and build "
        f"a new stack; set spec.safety.allowRename: true or tear {old} down first"
    )


def test_rename_after_a_restart_is_held_until_allow_rename(endpoint: str, tmp_path: Path) -> None:
    old, new = "idr-old", "idr-new"
    make_bucket(endpoint, BUCKET)
    first = Operator(endpoint, BUCKET, tmp_path, "first").start(resync=1, poll=0.5, lease=3)
    try:
        push_text(endpoint, BUCKET, KEY, tiny(old), tmp_path)
        m = wait_for(lambda: converged(first, old), 60, "the stack converged")
        resources = int(value(m, "stackop_resources", stack=old))
        wait_for(
            lambda: (s3_json(endpoint, BUCKET, f"status/{old}.json") or {}).get("summary"),
            10,
            "status document with its resources",
        )
    finally:
        first.stop()
    # the restarted operator knows which stack the key manages from status/<stack>.json
    second = Operator(endpoint, BUCKET, tmp_path, "second").start(resync=1, poll=0.5, lease=3)
    try:
        wait_for(lambda: converged(second, old), 30, "the restarted operator converged")
        push_text(endpoint, BUCKET, KEY, tiny(new), tmp_path)
        doc = wait_for(lambda: condition_true(second, old, "Conflict"), 15, "rename held")
        held = conditions(doc)["Conflict"]
        assert held["reason"] == "RenameHeld"
        assert held["message"] == held_message(old, new, resources)
        m = second.metrics()
        assert value(m, "stackop_spec_invalid", stack=old) == 1
        runs = value(m, "stackop_reconcile_total", stack=old)
        wait_for(
            lambda: value(second.metrics(), "stackop_reconcile_total", stack=old) >= runs + 2,
            15,
            "two more reconciles of the old stack",
        )
        assert not vpcs(endpoint, new), "no duplicate stack is built"
        assert not second.status(new)
        out = run_stackop("--bucket", BUCKET, "status", old, endpoint=endpoint, timeout=60)
        assert out.returncode == 0 and held_message(old, new, resources) in out.stdout
        version = second.status(old)["specVersion"]
    finally:
        second.stop()
    # restarted while the key already names the new stack: still held, and the old stack
    # keeps its last applied spec (read back from the versioned bucket)
    third = Operator(endpoint, BUCKET, tmp_path, "third").start(resync=1, poll=0.5, lease=3)
    try:
        doc = wait_for(lambda: condition_true(third, old, "Conflict"), 15, "still held")
        assert conditions(doc)["Conflict"]["message"] == held_message(old, new, resources)
        assert doc["specVersion"] == version
        wait_for(lambda: converged(third, old), 30, "the old stack still enforced")
        assert not vpcs(endpoint, new)

        push_text(endpoint, BUCKET, KEY, tiny(new, safety={"allowRename": True}), tmp_path)
        wait_for(lambda: converged(third, new), 60, "the renamed stack built once allowed")
        doc = wait_for(lambda: (d := third.status(old)) and d.get("orphaned") and d, 10, "old")
        assert conditions(doc)["Conflict"]["status"] == "False"
        assert len(vpcs(endpoint, old)) == 1, "the old stack is orphaned: nothing deleted"
        stored = wait_for(
            lambda: (d := s3_json(endpoint, BUCKET, f"status/{old}.json")) and d["orphaned"],
            10,
            "the old stack's status says orphaned",
        )
        assert stored
        assert value(third.metrics(), "stackop_actions_total", stack=old, action="delete") == 0
    finally:
        third.kill()


def test_teardown_of_the_old_name_runs_and_then_the_rename_goes_on(
    endpoint: str, tmp_path: Path
) -> None:
    old, new = "idt-old", "idt-new"
    make_bucket(endpoint, BUCKET)
    op = Operator(endpoint, BUCKET, tmp_path, "op").start(resync=1, poll=0.5, lease=3)
    try:
        push_text(endpoint, BUCKET, KEY, tiny(old), tmp_path)
        wait_for(lambda: converged(op, old), 60, "the stack converged")
        push_text(endpoint, BUCKET, KEY, tiny(new), tmp_path)
        wait_for(lambda: condition_true(op, old, "Conflict"), 15, "rename held")

        push_text(endpoint, BUCKET, KEY, tiny(old, teardown=True), tmp_path)
        wait_for(lambda: not vpcs(endpoint, old), 60, "the old stack torn down")
        doc = op.status(old)
        assert conditions(doc)["Conflict"]["status"] == "False" and not doc["specError"]
        assert not vpcs(endpoint, new)

        push_text(endpoint, BUCKET, KEY, tiny(new), tmp_path)
        wait_for(lambda: converged(op, new), 60, "the new name built: the old one is gone")
        assert len(vpcs(endpoint, new)) == 1
        assert conditions(op.status(new))["Conflict"]["status"] == "False"
        assert value(op.metrics(), "stackop_spec_invalid", stack=new) == 0
    finally:
        op.kill()
