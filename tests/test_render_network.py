"""The tasks security group: service ports folded into ranges, under AWS's 60-rule limit."""

from __future__ import annotations

from pathlib import Path

from bench.common import portal_data, with_services, write_spec
from controller.render import render
from controller.render.network import port_ranges
from controller.spec import load_spec_file

INGRESS_RULE_LIMIT = 60  # AWS's default quota of inbound rules per security group


def test_port_ranges_fold_consecutive_ports_only() -> None:
    assert port_ranges({8003, 8001, 8002, 8010, 9000, 9001}) == [
        (8001, 8003),
        (8010, 8010),
        (9000, 9001),
    ]
    assert port_ranges(set()) == []


def test_every_service_port_is_open_from_the_alb_and_the_tasks(tmp_path: Path) -> None:
    for count in (9, 90):
        data = with_services(portal_data(), count)
        loaded = load_spec_file(write_spec(data, tmp_path / f"s{count}.yaml"))
        (tasks,) = [
            d for d in render(loaded.spec) if (d.kind, d.logical_id) == ("security_group", "tasks")
        ]
        rules = tasks.params["ingress"]
        assert len(rules) <= INGRESS_RULE_LIMIT
        for svc in data["spec"]["services"]:
            peers = {
                "self" if r["source_group"] == "self" else r["source_group"].logical_id
                for r in rules
                if r["from_port"] <= svc["port"] <= r["to_port"]
            }
            assert peers == {"self", "alb"}, (count, svc["port"])
