"""`stackop plan SPEC -out FILE`, then `stackop apply FILE`: exactly that plan, or nothing
when the live state or the spec changed since (issue 10, item 3)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.apply_helpers import nat_gateways, net_spec, stackop, vpcs, writes
from tests.operator_harness import has_ingress_port, open_port_out_of_band, owned_groups

PLANNED_WRITES = {"ec2:DeleteNatGateway", "ec2:ReleaseAddress", "ec2:DeleteRoute"}
"""Removing the NAT gateway: its route, the gateway, its address."""


def build(endpoint: str, tmp_path: Path, stack: str) -> Path:
    """The stack built, and a spec that removes its NAT gateway (2 deletions)."""
    log = tmp_path / "build.calls.jsonl"
    built = stackop(endpoint, "apply", "--no-lease", str(net_spec(tmp_path, stack)), log=log)
    assert built.returncode == 0, built.stdout + built.stderr
    return net_spec(tmp_path, stack, nat=False)


def save_plan(endpoint: str, spec: Path, out: Path) -> dict[str, object]:
    log = out.with_suffix(".calls.jsonl")
    planned = stackop(endpoint, "plan", str(spec), "-out", str(out), log=log)
    assert planned.returncode == 2, planned.stdout + planned.stderr  # changes pending
    assert writes(log) == []
    doc: dict[str, object] = json.loads(out.read_text())
    return doc


def test_apply_of_a_saved_plan_applies_exactly_it(endpoint: str, tmp_path: Path) -> None:
    spec = build(endpoint, tmp_path, "saved")
    saved = tmp_path / "nat-removal"  # no extension: a plan file is known by its content
    doc = save_plan(endpoint, spec, saved)
    assert doc["format"] == "stackop-plan/v1"
    assert doc["destructive"] == ["elastic_ip/nat-a", "nat_gateway/a"]
    assert doc["spec"] == {"path": str(spec.resolve()), "text": spec.read_text()}

    log = tmp_path / "apply.calls.jsonl"
    # no terminal and no --auto-approve: saving the plan was the approval of its deletions
    applied = stackop(endpoint, "apply", "--no-lease", str(saved), log=log)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "pass 1: Plan: 0 to create, 1 to update, 0 to replace, 2 to delete" in applied.stdout
    assert set(writes(log)) == PLANNED_WRITES, writes(log)
    assert nat_gateways(endpoint, "saved") == []


def test_apply_of_a_saved_plan_refuses_after_an_out_of_band_change(
    endpoint: str, tmp_path: Path
) -> None:
    spec = build(endpoint, tmp_path, "stale")
    saved = tmp_path / "stale.plan"
    save_plan(endpoint, spec, saved)
    open_port_out_of_band(endpoint, "stale", "alb", 2222, "203.0.113.7/32")

    log = tmp_path / "apply.calls.jsonl"
    refused = stackop(endpoint, "apply", "--no-lease", "--auto-approve", str(saved), log=log)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    (line,) = refused.stderr.strip().splitlines()
    assert "the live state of stack stale changed since the plan was made" in line, line
    assert "run stackop plan again" in line and "nothing written" in line
    assert writes(log) == []
    assert len(nat_gateways(endpoint, "stale")) == 1
    assert has_ingress_port(owned_groups(endpoint, "stale", "alb")[0], 2222)


def test_apply_of_a_saved_plan_refuses_when_its_spec_changed(endpoint: str, tmp_path: Path) -> None:
    spec = net_spec(tmp_path, "edited")
    saved = tmp_path / "edited.plan"
    save_plan(endpoint, spec, saved)

    # the spec file it was made from now says something else
    original = spec.read_text()
    spec.write_text(original.replace("Environment: production", "Environment: staging"))
    log = tmp_path / "edited.calls.jsonl"
    refused = stackop(endpoint, "apply", "--no-lease", str(saved), log=log)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    (line,) = refused.stderr.strip().splitlines()
    assert f"{spec.resolve()} changed since the plan was made" in line, line
    assert writes(log) == [] and vpcs(endpoint, "edited") == []

    # the saved spec text itself edited (the plan's actions no longer match it)
    spec.write_text(original)
    doc = json.loads(saved.read_text())
    doc["spec"]["text"] = original.replace("Environment: production", "Environment: tampered")
    tampered = tmp_path / "tampered.plan"
    tampered.write_text(json.dumps(doc))
    spec.unlink()  # a plan file is self-contained: it needs no spec file
    log = tmp_path / "tampered.calls.jsonl"
    refused = stackop(endpoint, "apply", "--no-lease", str(tampered), log=log)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    (line,) = refused.stderr.strip().splitlines()
    assert "would now get other actions than the saved plan" in line, line
    assert writes(log) == [] and vpcs(endpoint, "edited") == []

    # and the untouched plan file, without its spec file, still applies
    log = tmp_path / "apply.calls.jsonl"
    applied = stackop(endpoint, "apply", "--no-lease", str(saved), log=log)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert len(vpcs(endpoint, "edited")) == 1
