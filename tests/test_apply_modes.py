"""`stackop apply` honours `spec.mode: observe` and `spec.paused: true`: it plans, says
why it writes nothing, and writes nothing (issue 10, item 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.apply_helpers import calls, net_spec, vpcs, writes
from tests.conftest import run_stackop
from tests.operator_harness import has_ingress_port, open_port_out_of_band, owned_groups

READ_ONLY = [
    pytest.param({"mode": "observe"}, "spec.mode is observe", id="observe"),
    pytest.param({"paused": True}, "spec.paused is true", id="paused"),
]


@pytest.mark.parametrize(("body", "reason"), READ_ONLY)
def test_apply_of_a_read_only_spec_prints_the_plan_and_creates_nothing(
    endpoint: str, tmp_path: Path, body: dict[str, Any], reason: str
) -> None:
    spec = net_spec(tmp_path, "ro-new", **body)
    log = tmp_path / "calls.jsonl"
    # no bucket and no --no-lease: a run that writes nothing needs no lease either
    out = run_stackop("apply", str(spec), endpoint=endpoint, env={"STACKOP_CALL_LOG": str(log)})
    assert out.returncode == 2, out.stdout + out.stderr  # changes pending
    assert "+ vpc/main: create" in out.stdout
    assert f"Not applied: {reason}" in out.stdout
    assert calls(log), "the plan observed nothing"
    assert writes(log) == []
    assert vpcs(endpoint, "ro-new") == []


@pytest.mark.parametrize(("body", "reason"), READ_ONLY)
def test_apply_of_a_read_only_spec_leaves_drift_alone(
    endpoint: str, tmp_path: Path, body: dict[str, Any], reason: str
) -> None:
    applied = run_stackop("apply", "--no-lease", str(net_spec(tmp_path, "ro")), endpoint=endpoint)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    spec = net_spec(tmp_path, "ro", file="ro-read-only.yaml", **body)

    in_sync = run_stackop("apply", str(spec), endpoint=endpoint)
    assert in_sync.returncode == 0, in_sync.stdout + in_sync.stderr
    assert "No changes. 16 resources in sync." in in_sync.stdout
    assert f"Not applied: {reason}" in in_sync.stdout

    open_port_out_of_band(endpoint, "ro", "alb", 2222, "203.0.113.7/32")
    log = tmp_path / "calls.jsonl"
    drifted = run_stackop("apply", str(spec), endpoint=endpoint, env={"STACKOP_CALL_LOG": str(log)})
    assert drifted.returncode == 2, drifted.stdout + drifted.stderr
    assert "~ security_group/alb" in drifted.stdout
    assert writes(log) == []
    assert has_ingress_port(owned_groups(endpoint, "ro", "alb")[0], 2222)
