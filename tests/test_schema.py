"""The JSON Schema stays in step with the model, and specs/portal.yaml is the seed's stack."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from controller.spec import load_spec_file
from controller.spec.model import StackSpec
from controller.spec.yamlsafe import load_yaml
from tests.conftest import ROOT, run_stackop

PORTAL = ROOT / "specs" / "portal.yaml"
SCHEMA = ROOT / "specs" / "stack.schema.json"
SEED_DOC = Path(os.environ.get("STACKOP_SEED_DOC", "/work/shared/seed/ECS_COMPLETE.md"))

# The stack as the seed (ECS_COMPLETE.md) describes it; test_seed_table_matches_the_seed
# re-reads the document to prove this table was copied faithfully.
SEED_SERVICES = {
    "gateway": (8000, 256, 512),
    "order": (8001, 512, 1024),
    "customer": (8002, 512, 1024),
    "inventory": (8003, 512, 1024),
    "returns": (8004, 512, 1024),
    "chatbot": (8005, 1024, 2048),
    "notification": (8006, 256, 512),
    "analytics": (8007, 512, 1024),
    "salesforce": (8008, 256, 512),
}
SEED = {
    "azs": 2,
    "public_subnets": 2,
    "private_subnets": 4,
    "nat": "single",
    "instance_class": "db.t4g.micro",
    "min_capacity": 1,
    "max_capacity": 10,
    "cpu_target": 70,
    "scale_out_cooldown": 60,
    "scale_in_cooldown": 300,
    "log_retention_days": 7,
}


def test_schema_file_is_current() -> None:
    proc = run_stackop("schema")
    assert proc.returncode == 0, proc.stderr
    assert SCHEMA.read_text(encoding="utf-8") == proc.stdout, (
        "specs/stack.schema.json is stale: run `stackop schema > specs/stack.schema.json`"
    )
    schema = json.loads(proc.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False  # editors flag unknown fields too
    assert set(schema["required"]) == {"apiVersion", "kind", "metadata", "spec"}


def test_portal_points_editors_at_the_schema() -> None:
    first = PORTAL.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=./stack.schema.json"
    target = first.split("$schema=", 1)[1]
    assert (PORTAL.parent / target).resolve() == SCHEMA.resolve()


def test_portal_validates() -> None:
    proc = run_stackop("validate", "specs/portal.yaml")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(
        "specs/portal.yaml: ok (stack customer-order-portal-production, version "
    )
    assert proc.stderr == ""


def _schema_validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def test_schema_agrees_with_the_loader_on_portal_and_typos() -> None:
    """What an editor sees through the schema: portal is clean, a typo is flagged."""
    validator = _schema_validator()
    data = load_yaml("portal.yaml", PORTAL.read_bytes()).data
    assert list(validator.iter_errors(data)) == []
    data["spec"]["services"][0]["memroy"] = 512
    data["spec"]["network"]["natGateways"] = "perAZ"
    messages = sorted(e.message for e in validator.iter_errors(data))
    assert any("'memroy' was unexpected" in m for m in messages), messages
    assert any("'perAZ' is not one of" in m for m in messages), messages


def test_portal_is_the_seed_stack() -> None:
    spec = load_spec_file(PORTAL).spec
    assert isinstance(spec, StackSpec)
    body = spec.spec
    got = {s.name: (s.port, s.cpu, s.memory) for s in body.services}
    assert got == SEED_SERVICES
    assert [s.name for s in body.services] == list(SEED_SERVICES)  # seed order
    net = body.network
    assert len(net.availability_zones) == SEED["azs"]
    assert len(net.public_subnets) == SEED["public_subnets"]
    assert len(net.private_app_subnets) + len(net.private_data_subnets) == SEED["private_subnets"]
    assert net.nat_gateways == SEED["nat"]
    assert body.database.enabled and body.database.engine == "postgres"
    assert body.database.instance_class == SEED["instance_class"]
    for svc in body.services:
        scaling = svc.autoscaling or body.service_defaults.autoscaling
        assert scaling.enabled
        assert (scaling.min_capacity, scaling.max_capacity) == (
            SEED["min_capacity"],
            SEED["max_capacity"],
        )
        assert scaling.cpu_target == SEED["cpu_target"]
        assert scaling.scale_out_cooldown == SEED["scale_out_cooldown"]
        assert scaling.scale_in_cooldown == SEED["scale_in_cooldown"]
        retention = svc.log_retention_days or body.service_defaults.log_retention_days
        assert retention == SEED["log_retention_days"]
        assert svc.routing is not None  # the seed has one target group per service


def _one(pattern: str, text: str) -> tuple[str, ...]:
    m = re.search(pattern, text)
    assert m, f"seed document no longer says {pattern!r}"
    return m.groups()


def test_seed_table_matches_the_seed() -> None:
    if not SEED_DOC.exists():
        pytest.skip(f"seed document not present at {SEED_DOC} (set STACKOP_SEED_DOC)")
    text = SEED_DOC.read_text(encoding="utf-8")
    rows = re.findall(r"\*\*(\w+) Service\*\* \(Port (\d+)\) - [^,]+, (\d+) CPU, (\d+) MB", text)
    services = {name.lower(): (int(p), int(c), int(m)) for name, p, c, m in rows}
    assert services == SEED_SERVICES
    assert int(_one(r"across (\d+) AZs", text)[0]) == SEED["azs"]
    total, public, private = _one(r"\| Subnets \| (\d+) \| (\d+) public \+ (\d+) private", text)
    assert (int(public), int(private)) == (SEED["public_subnets"], SEED["private_subnets"])
    assert int(total) == int(public) + int(private)
    assert _one(r"NAT Gateway \((\w+)\)", text)[0] == SEED["nat"]
    assert _one(r"RDS PostgreSQL \((db\.[\w.]+)\)", text)[0] == SEED["instance_class"]
    assert int(_one(r"\*\*Min Capacity\*\*: (\d+)", text)[0]) == SEED["min_capacity"]
    assert int(_one(r"\*\*Max Capacity\*\*: (\d+)", text)[0]) == SEED["max_capacity"]
    assert int(_one(r"\*\*CPU Target\*\*: (\d+)%", text)[0]) == SEED["cpu_target"]
    out = _one(r"\*\*Scale Out Cooldown\*\*: (\d+) seconds", text)[0]
    assert int(out) == SEED["scale_out_cooldown"]
    scale_in = _one(r"\*\*Scale In Cooldown\*\*: (\d+) seconds", text)[0]
    assert int(scale_in) == SEED["scale_in_cooldown"]
    assert int(_one(r"\((\d+)-day retention\)", text)[0]) == SEED["log_retention_days"]


def test_allow_replace_example_is_a_key_the_portal_has() -> None:
    """The editor hint for allowReplace names a resource key `stackop plan` really shows."""
    from controller.render import render

    schema = json.loads(SCHEMA.read_text())
    described = schema["$defs"]["Safety"]["properties"]["allowReplace"]["description"]
    examples = re.findall(r"e\.g\. ([a-z_]+/[a-z0-9-]+)", described)
    assert examples, described
    keys = {d.key for d in render(load_spec_file(PORTAL).spec)}
    assert set(examples) <= keys, (examples, "not in the portal's resources")


def test_every_field_is_described_for_editors() -> None:
    """yaml-language-server shows a field's description as its help: every field has one."""
    schema = json.loads(SCHEMA.read_text())
    models = [("Stack", schema), *schema["$defs"].items()]
    fields = [
        (model, name, prop)
        for model, body in models
        for name, prop in body.get("properties", {}).items()
    ]
    assert len(fields) > 100
    undescribed = [f"{model}.{name}" for model, name, prop in fields if not prop.get("description")]
    assert undescribed == []


def test_field_docstrings_follow_pydantics_rule() -> None:
    """The schema's descriptions come from field docstrings read only by `stackop schema`
    (pydantic's use_attribute_docstrings costs every command ~15 ms): the same rule."""
    from controller.spec.schema import attribute_docstrings

    source = '''
class A:
    x: int = 1
    """  The x.

    Second line.
    """
    y = 2
    """not a field: no annotation"""
    z: str
    w: str
    """The w."""

    class Inner:
        q: int
        """inner, not A's"""

def f() -> None:
    v: int = 1
    """in a function"""
'''
    assert attribute_docstrings(source) == {"A": {"x": "The x.\n\nSecond line.", "w": "The w."}}
