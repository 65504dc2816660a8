"""The operator's own S3 objects: /readyz names a missing spec bucket, and a deleted
`status/<stack>.json` is written again (one HeadObject every few resyncs notices it).

Real processes: moto_server, `stackop run`, awscli (the user's deletions).
"""

from __future__ import annotations

import urllib.error
from pathlib import Path

from tests.operator_harness import (
    Operator,
    aws,
    make_bucket,
    paused_small,
    push_text,
    read_object,
    spec_text,
    stop_all,
    wait_for,
)

STACK = "status-shop"


def readyz(op: Operator) -> tuple[int, str]:
    try:
        return 200, op.get("/readyz")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_readyz_names_a_missing_bucket(endpoint: str, tmp_path: Path) -> None:
    """A bucket missing at start stops `stackop run` in one line (tests/test_cli_errors.py);
    one deleted under a running operator is named by /readyz until it is back."""
    bucket = "stackop-deleted-later"
    make_bucket(endpoint, bucket)
    op = Operator(endpoint, bucket, tmp_path, "op-nobucket")
    try:
        op.start(poll=1)
        wait_for(lambda: readyz(op)[0] == 200, 10, "/readyz ok with the bucket")
        aws(endpoint, "s3api", "delete-bucket", "--bucket", bucket)
        code, body = wait_for(
            lambda: (r := readyz(op)) and "NoSuchBucket" in r[1] and r, 10, "/readyz's reason"
        )
        assert code == 503
        assert body.strip() == f"spec bucket {bucket} does not exist (NoSuchBucket)"
        make_bucket(endpoint, bucket)  # back: ready on the next listing
        wait_for(lambda: readyz(op)[0] == 200, 10, "/readyz ok once the bucket exists")
    finally:
        stop_all([op])


def test_a_deleted_status_object_is_written_again(endpoint: str, tmp_path: Path) -> None:
    bucket = "stackop-status-objects"
    key = f"status/{STACK}.json"
    make_bucket(endpoint, bucket)
    push_text(endpoint, bucket, f"specs/{STACK}.yaml", spec_text(STACK, paused_small), tmp_path)
    op = Operator(endpoint, bucket, tmp_path, "op-status")
    try:
        op.start(resync=1, poll=1, lease=10)
        first = wait_for(lambda: read_object(endpoint, bucket, key), 20, "the status object")
        assert first["stack"] == STACK and first["holder"] == op.name
        aws(endpoint, "s3", "rm", f"s3://{bucket}/{key}")
        assert read_object(endpoint, bucket, key) is None
        again = wait_for(lambda: read_object(endpoint, bucket, key), 20, "the status rewritten")
        assert again["stack"] == STACK and again["specVersion"] == first["specVersion"]
        events = [e for e in op.logs() if e.get("event") == "status_rewritten"]
        assert events and events[0]["reason"] == "deleted" and events[0]["key"] == key
        # the cost: one HeadObject per stack every 5 unchanged status writes (reconciles)
        calls = op.calls()
        heads = sum(1 for c in calls if c["operation"] == "HeadObject")
        reconciles = sum(1 for e in op.logs() if e.get("event") == "reconcile_done")
        print(f"{heads} HeadObject for {reconciles} reconciles")
        assert 1 <= heads <= reconciles / 4 + 1
    finally:
        stop_all([op])
