"""`stackop apply` takes the stack's lease, like the operator (issue 10, item 2).

Real processes: moto_server, `stackop run` holding a stack, `stackop apply` beside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.apply_helpers import calls, net_spec, vpcs, writes
from tests.aws import client
from tests.conftest import BIN, ROOT, run_stackop
from tests.operator_harness import Operator, make_bucket, push_text, wait_for

BUCKET = "stackop-specs"


def lease(endpoint: str, stack: str) -> dict[str, Any]:
    s3 = client("s3", endpoint)
    body = s3.get_object(Bucket=BUCKET, Key=f"leases/{stack}.json")["Body"].read()
    return dict(json.loads(body))


def holder(endpoint: str, stack: str) -> str:
    try:
        return str(lease(endpoint, stack).get("holder", ""))
    except Exception:  # no lease object yet
        return ""


def test_apply_refuses_while_a_running_operator_holds_the_stack(
    endpoint: str, tmp_path: Path
) -> None:
    make_bucket(endpoint, BUCKET)
    push_text(endpoint, BUCKET, "specs/held.yaml", net_spec(tmp_path, "held").read_text(), tmp_path)
    op = Operator(endpoint, BUCKET, tmp_path, "op-1").start(lease=5)
    try:
        wait_for(lambda: holder(endpoint, "held") == "op-1", 30, "op-1 to hold the lease")
        # the user's spec for the same stack says something else: it must not reach AWS
        mine = net_spec(tmp_path, "held", file="mine.yaml", tags={"Team": "apply"})
        log = tmp_path / "apply.calls.jsonl"
        out = run_stackop(
            "--bucket",
            BUCKET,
            "apply",
            str(mine),
            endpoint=endpoint,
            env={"STACKOP_CALL_LOG": str(log)},
        )
        assert out.returncode == 1, out.stdout + out.stderr
        (line,) = out.stderr.strip().splitlines()  # one line, naming the holder
        assert "stack held is locked" in line and "'op-1'" in line and "expires in" in line
        assert "Converged" not in out.stdout
        assert "s3:GetObject" in calls(log)  # the lease was read ...
        assert writes(log) == []  # ... and nothing at all written
        assert holder(endpoint, "held") == "op-1"
        for vpc in vpcs(endpoint, "held"):
            assert "Team" not in {t["Key"] for t in vpc.get("Tags", [])}
    finally:
        op.kill()


def _start_apply(
    endpoint: str, spec: Path, log: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    cli = [str(BIN / "stackop"), "--endpoint-url", endpoint, "--bucket", BUCKET]
    return subprocess.Popen(
        [*cli, "apply", *extra, str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "STACKOP_CALL_LOG": str(log), **(env or {})},
    )


def test_apply_holds_the_lease_while_it_writes_and_releases_it(
    endpoint: str, tmp_path: Path
) -> None:
    make_bucket(endpoint, BUCKET)
    log = tmp_path / "calls.jsonl"
    # a 3 s lease for an apply made longer (every AWS call 0.3 s slower): only renewals
    # keep it
    slow = {"STACKOP_FAULTS": "latency=0.3"}
    started = time.monotonic()
    proc = _start_apply(endpoint, net_spec(tmp_path, "free"), log, "--lease-seconds", "3", env=slow)
    seen = wait_for(
        lambda: holder(endpoint, "free") or proc.poll() is not None, 20, "apply's lease"
    )
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stdout + stderr
    assert time.monotonic() - started > 2 * 3
    assert isinstance(seen, str) and seen.startswith("stackop-apply:"), seen
    assert "Converged" in stdout
    ops = writes(log)
    assert ops[0] == "s3:PutObject", ops[:3]  # the lease comes before the first AWS write
    assert ops.count("s3:PutObject") >= 4, ops  # taken, renewed (twice or more), released
    after = lease(endpoint, "free")
    assert after["holder"] == "" and after["expiresAt"] == 0  # released: free at once
    assert len(vpcs(endpoint, "free")) == 1


def test_apply_that_loses_its_lease_stops_writing(endpoint: str, tmp_path: Path) -> None:
    make_bucket(endpoint, BUCKET)
    log = tmp_path / "calls.jsonl"
    # every AWS call 0.3 s slower: the writes take ~5 s, renewals every second
    slow = {"STACKOP_FAULTS": "latency=0.3"}
    spec = net_spec(tmp_path, "lost")
    proc = _start_apply(endpoint, spec, log, "--lease-seconds", "4", env=slow)
    assert proc.stdout is not None
    started = []
    for line in proc.stdout:  # the first write has started: apply holds the lease
        if line.endswith(" ...\n"):
            started.append(line)
            break
    assert started, "apply wrote nothing before it ended"
    # another writer takes the object over (as after a network partition)
    client("s3", endpoint).put_object(
        Bucket=BUCKET,
        Key="leases/lost.json",
        Body=json.dumps({"holder": "intruder", "expiresAt": time.time() + 60}).encode(),
    )
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stdout + stderr
    (line,) = stderr.strip().splitlines()
    assert "lost the lease on stack lost while writing" in line and "'intruder'" in line, line
    assert "stopped writing" in line
    assert "Converged" not in stdout
    assert holder(endpoint, "lost") == "intruder"  # its release did not clobber the taker
    plan = run_stackop("plan", str(spec), endpoint=endpoint)
    assert plan.returncode == 2, plan.stdout  # it stopped before the stack was complete


def test_apply_without_a_bucket_refuses_unless_no_lease(endpoint: str, tmp_path: Path) -> None:
    spec = net_spec(tmp_path, "nobucket")
    log = tmp_path / "calls.jsonl"
    env = {"STACKOP_CALL_LOG": str(log)}
    out = run_stackop("apply", str(spec), endpoint=endpoint, env={**env, "STACKOP_BUCKET": ""})
    assert out.returncode == 1, out.stdout + out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert "cannot check whether an operator is managing stack nobucket" in line
    assert "--no-lease" in line
    assert calls(log) == []  # refused before any AWS call
    ok = run_stackop("apply", "--no-lease", str(spec), endpoint=endpoint, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert len(vpcs(endpoint, "nobucket")) == 1
