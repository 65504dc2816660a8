"""Issue 10, items 6 and 7: a replacement replaces what is bound to it, in order, or is
held whole (naming what it would replace); a held action holds what depends on it.

The engine in-process against moto (another helper owns `stackop apply`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from controller.aws import AwsClients
from controller.engine import ActionType, Outcome
from controller.stack import StackRunner
from tests.conftest import REGION
from tests.stack_inprocess import boto, converge, operations, portal


def new_cidr(spec: dict[str, Any]) -> None:
    spec["network"].update(
        cidr="10.1.0.0/16",
        publicSubnets=["10.1.1.0/24", "10.1.2.0/24"],
        privateAppSubnets=["10.1.11.0/24", "10.1.12.0/24"],
        privateDataSubnets=["10.1.21.0/24", "10.1.22.0/24"],
    )


def order_port(spec: dict[str, Any]) -> None:
    spec["services"][1]["port"] = 8101
    # six replacements; 10 % of this small stack is 5 (the full portal allows 13)
    spec.setdefault("safety", {})["maxDeletions"] = 6


def app_subnet(spec: dict[str, Any], max_deletions: int | None = None) -> None:
    spec["network"]["privateAppSubnets"] = ["10.0.13.0/24", "10.0.12.0/24"]
    if max_deletions is not None:
        spec.setdefault("safety", {})["maxDeletions"] = max_deletions


def database_name(spec: dict[str, Any]) -> None:
    spec["database"]["databaseName"] = "portal2"


def written(result: Any) -> list[str]:
    return [k for k, r in result.execution.reports.items() if r.outcome is Outcome.DONE]


def test_vpc_cidr_change_is_held_whole_naming_what_it_would_replace(endpoint: str) -> None:
    async def scenario() -> None:
        async with AwsClients(REGION, endpoint) as clients:
            runner = StackRunner(clients)
            await converge(runner, portal())
            changed = portal(new_cidr)
            plan = await runner.plan(changed)
            vpc = plan.by_key()["vpc/main"]
            assert vpc.type is ActionType.REPLACE
            for key in ("subnet/app-a", "db_subnet_group/main", "load_balancer/main"):
                assert key in vpc.held
            assert "db_instance/main would lose its data" in vpc.held
            assert "'db_instance/main' to spec.safety.allowReplace" in vpc.held
            replacing = [a for a in plan.actions if a.type is ActionType.REPLACE]
            assert all(a.held for a in replacing), [a.key for a in replacing if not a.held]
            assert all(a.held for a in plan.changes)
            mark = clients.recorder.mark()
            result = await runner.reconcile(changed)
            assert result.execution is not None and written(result) == []
            assert operations(runner, mark) == []

    asyncio.run(scenario())
    (vpc,) = [
        v for v in boto(endpoint, "ec2").describe_vpcs()["Vpcs"] if v["CidrBlock"] == "10.0.0.0/16"
    ]
    subnets = boto(endpoint, "ec2").describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}]
    )["Subnets"]
    assert len(subnets) == 6 and all(s["CidrBlock"].startswith("10.0.") for s in subnets)


def test_target_group_port_change_replaces_what_is_bound_to_it_in_order(endpoint: str) -> None:
    async def scenario() -> None:
        async with AwsClients(REGION, endpoint) as clients:
            runner = StackRunner(clients)
            await converge(runner, portal())
            changed = portal(order_port)
            plan = await runner.plan(changed)
            replacing = sorted(a.key for a in plan.actions if a.type is ActionType.REPLACE)
            assert replacing == [
                "ecs_service/order",
                "listener_rule/order",
                "scaling_policy/order-cpu",
                "scaling_policy/order-memory",
                "scaling_target/order",
                "target_group/order",
            ]
            assert not any(a.held for a in plan.actions), [a.held for a in plan.actions if a.held]
            mark = clients.recorder.mark()
            await converge(runner, changed)
            ops = operations(runner, mark)
            assert ops.index("DeleteRule") < ops.index("DeleteTargetGroup")
            assert ops.index("DeleteService") < ops.index("DeleteTargetGroup")
            assert ops.index("DeleteTargetGroup") < ops.index("CreateTargetGroup")
            assert ops.index("CreateTargetGroup") < ops.index("CreateRule")
            assert ops.index("CreateTargetGroup") < ops.index("CreateService")
            again = await runner.plan(changed)
            assert again.in_sync, [a.key for a in again.changes]
            tg = again.by_key()["target_group/order"].observed
            rule = again.by_key()["listener_rule/order"].observed
            assert tg is not None and rule is not None and tg.fields["port"] == 8101
            assert rule.fields["target_group_arn"] == tg.outputs["arn"]

    asyncio.run(scenario())


def test_subnet_cidr_change_counts_for_the_guard_and_then_executes(endpoint: str) -> None:
    async def scenario() -> None:
        async with AwsClients(REGION, endpoint) as clients:
            runner = StackRunner(clients)
            await converge(runner, portal())
            guarded = await runner.plan(portal(app_subnet))
            assert any("deletes or replaces" in note for note in guarded.notes)
            subnet = guarded.by_key()["subnet/app-a"]
            assert subnet.type is ActionType.REPLACE and "mass-deletion guard" in subnet.held
            allowed = portal(lambda s: app_subnet(s, max_deletions=40))
            plan = await runner.plan(allowed)
            replacing = {a.key for a in plan.actions if a.type is ActionType.REPLACE}
            assert {"subnet/app-a", "ecs_service/order"} <= replacing
            assert not any(a.held for a in plan.actions)
            await converge(runner, allowed)
            again = await runner.plan(allowed)
            assert again.in_sync, [a.key for a in again.changes]
            new = again.by_key()["subnet/app-a"].observed
            service = again.by_key()["ecs_service/order"].observed
            assert new is not None and service is not None
            assert new.fields["cidr_block"] == "10.0.13.0/24"
            assert new.physical_id in str(service.fields)

    asyncio.run(scenario())


def test_held_database_replacement_changes_nothing_that_depends_on_it(endpoint: str) -> None:
    async def scenario() -> None:
        async with AwsClients(REGION, endpoint) as clients:
            runner = StackRunner(clients)
            await converge(runner, portal())
            changed = portal(database_name)
            plan = await runner.plan(changed)
            db = plan.by_key()["db_instance/main"]
            assert db.type is ActionType.REPLACE and "lose its data" in db.held
            assert [a.key for a in plan.changes] == ["db_instance/main"]
            mark = clients.recorder.mark()
            result = await runner.reconcile(changed)
            assert result.execution is not None and written(result) == []
            assert operations(runner, mark) == []

    asyncio.run(scenario())
    ecs = boto(endpoint, "ecs")
    families = ecs.list_task_definitions()["taskDefinitionArns"]
    for arn in families:
        td = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        env = {e["name"]: e["value"] for e in td["containerDefinitions"][0]["environment"]}
        assert env.get("DB_NAME", "portal") == "portal", (arn, env)
