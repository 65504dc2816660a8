"""Physical names never collide across stacks: `shop` + service `api-task` and `shop-api` +
service `task` used to share their IAM roles, target group, task definition family and
alarms (all `shop-api-task...`)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bench.common import portal_data, write_spec
from controller.aws import AwsClients, classify
from controller.engine import (
    DesiredResource,
    KindContext,
    PlanOptions,
    Ref,
    plan_stack,
    reconcile_stack,
)
from controller.kinds import all_kinds
from controller.render import render
from controller.spec import LoadedSpec, load_spec_file
from controller.spec.naming import joined, short_name, single_hyphen_joined
from controller.stack import StackRunner
from tests.aws import client

# The param holding each kind's physical name, unique per account and region.
NAMED = {
    "security_group": "group_name",
    "ecs_cluster": "name",
    "service_discovery_namespace": "name",
    "ecr_repository": "name",
    "log_group": "name",
    "iam_role": "name",
    "task_definition": "family",
    "metric_alarm": "alarm_name",
    "db_subnet_group": "name",
    "db_instance": "identifier",
    "load_balancer": "name",
    "target_group": "name",
    "frontend_bucket": "name",
    "origin_access_control": "name",
}
# Names unique only inside a parent resource: (reference to the parent, name param).
SCOPED = {
    "ecs_service": ("cluster", "name"),
    "service_discovery_service": ("namespace_id", "name"),
    "scaling_policy": ("target", "policy_name"),
    "scaling_target": (None, "resource_id"),
}
# AWS picks these identifiers (vpc-..., ARNs with ids, distribution ids).
UNNAMED = {
    "vpc",
    "internet_gateway",
    "subnet",
    "route_table",
    "elastic_ip",
    "nat_gateway",
    "listener",
    "listener_rule",
    "bucket_policy",
    "distribution",
}
PAIRS = (("shop", "api-task"), ("shop-api", "task"))


def _stack(stack: str, service: str, *, tiny: bool = False) -> dict[str, Any]:
    data = portal_data()
    data["metadata"]["name"] = stack
    body = data["spec"]
    body["serviceDefaults"]["alarms"]["enabled"] = True
    (svc,) = [s for s in body["services"] if s["name"] == "order"]
    body["services"] = [{**svc, "name": service}]
    body["loadBalancer"]["defaultService"] = service
    if tiny:
        body["database"]["enabled"] = False
        body["frontend"]["enabled"] = body["cdn"]["enabled"] = False
        body["services"][0].pop("usesDatabase", None)
    return data


def _load(data: dict[str, Any], tmp: Path) -> LoadedSpec:
    return load_spec_file(write_spec(data, tmp / f"{data['metadata']['name']}.yaml"))


def _physical(by_key: dict[str, DesiredResource], d: DesiredResource) -> Any:
    """What AWS identifies the resource by; a reference stands for its target's identity."""
    if d.kind in NAMED:
        return (d.kind, d.params[NAMED[d.kind]])
    parent, name = SCOPED[d.kind]

    def ident(value: Any) -> Any:
        if isinstance(value, Ref):
            return _physical(by_key, by_key[value.key])
        return value

    if parent is None:
        return (d.kind, ident(d.params[name]))
    return (d.kind, ident(d.params[parent]), d.params[name])


def physical_names(loaded: LoadedSpec) -> set[Any]:
    desired = render(loaded.spec)
    by_key = {d.key: d for d in desired}
    kinds = {d.kind for d in desired}
    assert kinds <= set(NAMED) | set(SCOPED) | UNNAMED, kinds - set(NAMED) - set(SCOPED)
    return {_physical(by_key, d) for d in desired if d.kind not in UNNAMED}


def test_joined_names_are_unambiguous() -> None:
    assert joined("shop", "api-task") != joined("shop-api", "task")
    assert single_hyphen_joined("shop", "api-task", 32) != single_hyphen_joined(
        "shop-api", "task", 32
    )
    assert "--" not in single_hyphen_joined("shop", "api-task", 32)
    assert joined("customer-order-portal-production", "gateway") == (
        "customer-order-portal-production-gateway"
    )


def test_two_stacks_share_no_physical_name(tmp_path: Path) -> None:
    (a, b) = (physical_names(_load(_stack(s, svc), tmp_path)) for s, svc in PAIRS)
    assert len(a) > 20 and len(b) > 20
    assert a & b == set()


def test_portal_names_are_unchanged(tmp_path: Path) -> None:
    """Renaming replaces (an IAM role, a target group, a task definition family): the
    portal's services have no '-' in their names, so none of its names moved."""
    names = {
        d.key: d.params.get("name") or d.params.get("family")
        for d in render(load_spec_file(Path("specs/portal.yaml")).spec)
    }
    stack = "customer-order-portal-production"
    assert names["iam_role/gateway-execution"] == f"{stack}-gateway-execution"
    assert names["iam_role/notification-task"] == f"{stack}-notification-task"
    assert names["task_definition/salesforce"] == f"{stack}-salesforce"
    assert names["target_group/gateway"] == "customer-order-portal-pro-e1dba5"


@pytest.mark.timeout(180)
def test_both_stacks_converge_side_by_side(endpoint: str, tmp_path: Path) -> None:
    specs = [_load(_stack(s, svc, tiny=True), tmp_path) for s, svc in PAIRS]

    async def run() -> None:
        async with AwsClients(endpoint_url=endpoint) as clients:
            runner = StackRunner(clients)
            for loaded in specs:
                for _ in range(4):
                    result = await runner.reconcile(loaded)
                    if result.execution is None:
                        break
            for loaded in specs:
                plan = await runner.plan(loaded)
                assert plan.in_sync, [(a.key, a.delta) for a in plan.changes]

    asyncio.run(run())
    iam = client("iam", endpoint)
    roles = {r["RoleName"] for r in iam.list_roles()["Roles"]}
    assert {"shop--api-task-execution", "shop--api-task-task"} <= roles
    assert {"shop-api-task-execution", "shop-api-task-task"} <= roles
    groups = client("elbv2", endpoint).describe_target_groups()["TargetGroups"]
    # Load balancing refuses '--' in names: the pair is told apart by a hash instead.
    assert sorted(g["TargetGroupName"] for g in groups) == [
        "shop-api-task",
        "shop-api-task-1f4a6d8d",
    ]
    families = client("ecs", endpoint).list_task_definition_families(status="ACTIVE")
    assert sorted(families["families"]) == ["shop--api-task", "shop-api-task"]


def _old_name(d: DesiredResource) -> tuple[str, str] | None:
    """(param, value) of the name the old naming (plain '-' joins) gave stack `shop`."""
    if d.kind == "iam_role":
        service, role = d.logical_id.rsplit("-", 1)
        return "name", short_name("shop", service, role, limit=64)
    if d.kind == "task_definition":
        return "family", f"shop-{d.logical_id}"
    if d.kind == "metric_alarm":
        return "alarm_name", f"shop-{d.logical_id}"
    if d.kind == "target_group":
        return "name", short_name("shop", d.logical_id, limit=32)
    return None


def _named_the_old_way(desired: list[DesiredResource]) -> list[DesiredResource]:
    out = []
    for d in desired:
        params = dict(d.params)
        old = _old_name(d)
        if old is not None:
            params[old[0]] = old[1]
        out.append(DesiredResource(d.kind, d.logical_id, params, d.depends_on))
    return out


@pytest.mark.timeout(180)
def test_a_stack_named_the_old_way_converges_to_the_new_names(
    endpoint: str, tmp_path: Path
) -> None:
    """Upgrading replaces what was renamed (roles, task definition family, alarms), but
    a target group keeps its name: AWS cannot rename it, and replacing it while the
    listener rule and service use it fails (ResourceInUse) for ever."""
    loaded = _load(_stack(*PAIRS[0], tiny=True), tmp_path)
    new = render(loaded.spec)
    kinds, options = all_kinds(), PlanOptions(guard_deletions=False)

    async def run() -> None:
        async with AwsClients(endpoint_url=endpoint) as clients:
            ctx = KindContext("shop", "v1", clients, user_tags=dict(loaded.spec.spec.tags))
            for desired in (_named_the_old_way(new), new):
                for _ in range(3):
                    res = await reconcile_stack(
                        kinds, ctx, desired, options, write=True, classify=classify
                    )
                    assert res.converged, res.execution
                    if (await plan_stack(kinds, ctx, desired, options)).in_sync:
                        break
                assert (await plan_stack(kinds, ctx, desired, options)).in_sync

    asyncio.run(run())
    roles = {r["RoleName"] for r in client("iam", endpoint).list_roles()["Roles"]}
    assert roles == {"shop--api-task-execution", "shop--api-task-task"}
    groups = client("elbv2", endpoint).describe_target_groups()["TargetGroups"]
    assert [g["TargetGroupName"] for g in groups] == ["shop-api-task"]
