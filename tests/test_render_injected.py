"""Validation's list of operator-set variables is exactly what render injects."""

from __future__ import annotations

from pathlib import Path

from bench.common import portal_data, write_spec
from controller.render import render
from controller.spec import load_spec_file
from controller.spec.injected import DATABASE_VARIABLES


def test_validation_knows_every_variable_render_injects(tmp_path: Path) -> None:
    data = portal_data()
    data["spec"]["serviceDefaults"]["environment"] = {}
    for svc in data["spec"]["services"]:
        svc["environment"], svc["secrets"] = {}, {}
    loaded = load_spec_file(write_spec(data, tmp_path / "portal.yaml"))
    users = {s.name for s in loaded.spec.spec.services if s.uses_database}
    assert users
    for d in render(loaded.spec):
        if d.kind != "task_definition":
            continue
        container = d.params["container"]
        injected = set(container["environment"]) | set(container["secrets"])
        expected = set(DATABASE_VARIABLES) if d.logical_id in users else set()
        assert injected == expected, d.logical_id
