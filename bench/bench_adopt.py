"""Adoption of the Terraform portal (163 resources): wall time and calls.

    python -m bench.bench_adopt [--terraform-dir ../shared/terraform-portal]
        [--mirror /opt/tf-plugins] [--endpoint URL --state STATE.json] [--runs 1]

Without --endpoint: starts the Terraform README's moto shim, applies the portal with
Terraform (~100 s, not measured) and takes `terraform show -json`. Then measures
`stackop plan` before adoption (the collision pre-flight's extra calls), `stackop adopt
--from-terraform --auto-approve` (process start included: wall time, tag calls, calls by
operation) and `stackop plan` after (no taken names left: no extra calls). Budgets
(issue 11): adoption <= 60 s against moto, at most one tag call per resource.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from bench.common import BIN, print_table
from bench.terraform_portal import (
    DEFAULT_MIRROR,
    applied_portal,
    default_terraform_dir,
    managed_resources,
)

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "tests" / "specs" / "terraform-portal.yaml"
READS = ("Describe", "List", "Get", "Head")


def _stackop(endpoint: str, log: Path, *args: str) -> tuple[int, float, list[dict[str, Any]]]:
    log.unlink(missing_ok=True)
    env = {
        **os.environ,
        "STACKOP_CALL_LOG": str(log),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    started = time.perf_counter()
    proc = subprocess.run(
        [str(BIN / "stackop"), "--endpoint-url", endpoint, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    seconds = time.perf_counter() - started
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    if proc.returncode not in (0, 2):
        print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
    return proc.returncode, seconds, calls


def measure(endpoint: str, state: Path, work: Path) -> None:
    resources = managed_resources(json.loads(state.read_text()))
    secret = next(r for r in resources if r["type"] == "aws_secretsmanager_secret")
    spec_doc = yaml.safe_load(SPEC.read_text())
    for svc in spec_doc["spec"]["services"]:
        svc["secrets"] = {"DB_CREDENTIALS": secret["values"]["arn"]}
    spec = work / "cop.yaml"
    spec.write_text(yaml.safe_dump(spec_doc, sort_keys=False))
    log = work / "calls.jsonl"

    _, plan_s, plan_calls = _stackop(endpoint, log, "plan", str(spec))
    rc, adopt_s, adopt_calls = _stackop(
        endpoint, log, "adopt", str(spec), "--from-terraform", str(state), "--auto-approve"
    )
    _, after_s, after_calls = _stackop(endpoint, log, "plan", str(spec))
    writes = Counter(c["operation"] for c in adopt_calls if not c["operation"].startswith(READS))
    tagged = sum(writes.values())
    print(f"Terraform state: {len(resources)} managed resources; adopt exit code {rc}")
    print_table(
        ["run", "seconds", "calls", "pre-flight/adopt calls", "writes"],
        [
            [
                "plan before",
                f"{plan_s:.2f}",
                len(plan_calls),
                sum(1 for c in plan_calls if c.get("kind") == "adopt"),
                0,
            ],
            [
                "adopt",
                f"{adopt_s:.2f}",
                len(adopt_calls),
                sum(1 for c in adopt_calls if c.get("kind") == "adopt"),
                tagged,
            ],
            [
                "plan after",
                f"{after_s:.2f}",
                len(after_calls),
                sum(1 for c in after_calls if c.get("kind") == "adopt"),
                0,
            ],
        ],
    )
    print("adoption writes by operation: " + ", ".join(f"{k} {v}" for k, v in writes.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--terraform-dir", type=Path, default=default_terraform_dir())
    parser.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR)
    parser.add_argument("--endpoint")
    parser.add_argument("--state", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-adopt-"))
    try:
        if args.endpoint and args.state:
            measure(args.endpoint, args.state, work)
            return
        with applied_portal(args.terraform_dir, args.mirror, work) as applied:
            print(f"terraform apply: {applied.apply_seconds:.0f}s (not measured)")
            measure(applied.endpoint, applied.state, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
