"""Garbage spec objects are entries of their own, keyed by the object: they never mark a
real stack invalid, and deleting them leaves nothing behind (state, lease, status).

Real processes: moto_server, `stackop run`, the AWS CLI for pushes and reads.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from tests.identity_harness import conditions, s3_json, tiny
from tests.operator_harness import (
    Operator,
    aws,
    converged,
    make_bucket,
    push_text,
    series,
    value,
    wait_for,
)

BUCKET = "stackop-specs"
STACK = "idg-shop"
REAL_KEY = "specs/idg-shop-main.yaml"
SAME_STEM = "specs/idg-shop.yaml"
"""Garbage whose file stem is the real stack's name."""
JUNK = "specs/junk.yaml"
GARBAGE = "apiVersion: stackop/v1\nkind: Stack\nmetadata: {name: [not, a, name]}\n"


def absent(endpoint: str, key: str) -> bool:
    return s3_json(endpoint, BUCKET, key) is None


def test_garbage_objects_stay_apart_and_leave_nothing_when_deleted(
    endpoint: str, tmp_path: Path
) -> None:
    make_bucket(endpoint, BUCKET)
    op = Operator(endpoint, BUCKET, tmp_path, "op").start(resync=1, poll=0.5, lease=3)
    try:
        push_text(endpoint, BUCKET, REAL_KEY, tiny(STACK), tmp_path)
        wait_for(lambda: converged(op, STACK), 60, "the real stack converged")
        push_text(endpoint, BUCKET, SAME_STEM, GARBAGE, tmp_path)
        push_text(endpoint, BUCKET, JUNK, GARBAGE, tmp_path)

        # each garbage object is its own entry; the stem-named one is named by its file
        same = wait_for(lambda: op.status("idg-shop.yaml").get("specError"), 15, "entry")
        assert f"s3://{BUCKET}/{SAME_STEM}" in same
        wait_for(lambda: op.status("junk").get("specError"), 15, "junk's entry")
        real = op.status(STACK)
        assert real["specError"] is None and real["specKey"] == REAL_KEY
        assert conditions(real)["SpecInvalid"]["status"] == "False"
        m = op.metrics()
        assert value(m, "stackop_spec_invalid", stack=STACK) == 0
        assert value(m, "stackop_spec_invalid", stack="junk") == 1
        assert value(m, "stackop_spec_invalid", stack="idg-shop.yaml") == 1
        for name in ("junk", "idg-shop.yaml"):
            doc = wait_for(partial(s3_json, endpoint, BUCKET, f"status/{name}.json"), 15, name)
            assert doc["phantom"] is True and doc["specError"]
        assert s3_json(endpoint, BUCKET, "leases/junk.json")["holder"] == "op"
        stored = s3_json(endpoint, BUCKET, f"status/{STACK}.json")
        assert stored["specError"] is None and stored["phantom"] is False

        # deleted: the entries, their status documents and their leases go
        aws(endpoint, "s3", "rm", f"s3://{BUCKET}/{SAME_STEM}")
        aws(endpoint, "s3", "rm", f"s3://{BUCKET}/{JUNK}")
        wait_for(
            lambda: [d["stack"] for d in json.loads(op.get("/status"))["stacks"]] == [STACK],
            15,
            "only the real stack left in /status",
        )
        for name in ("junk", "idg-shop.yaml"):
            wait_for(partial(absent, endpoint, f"status/{name}.json"), 10, f"{name} deleted")
        released = wait_for(
            lambda: (
                (d := s3_json(endpoint, BUCKET, "leases/junk.json")) and d["holder"] == "" and d
            ),
            10,
            "junk's lease released",
        )
        renewals = op.metrics()
        wait_for(
            lambda: (
                value(op.metrics(), "stackop_reconcile_total", stack=STACK)
                >= value(renewals, "stackop_reconcile_total", stack=STACK) + 3
            ),
            15,
            "a few lease periods",
        )
        assert s3_json(endpoint, BUCKET, "leases/junk.json") == released, "not renewed"
        m = op.metrics()
        assert not series(m, "stackop_spec_invalid", stack="junk")
        assert not series(m, "stackop_lease_held", stack="junk")
        assert value(m, "stackop_spec_invalid", stack=STACK) == 0

        # the real stack is untouched by all of it
        stored = s3_json(endpoint, BUCKET, f"status/{STACK}.json")
        assert stored is not None and stored["specKey"] == REAL_KEY
        m = wait_for(lambda: converged(op, STACK), 15, "the real stack still converged")
        assert value(m, "stackop_actions_total", stack=STACK, action="delete") == 0
    finally:
        op.kill()
