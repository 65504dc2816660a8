from __future__ import annotations

import asyncio

from controller.aws import AwsClients, classify
from controller.engine import (
    ActionType,
    Kind,
    KindContext,
    Observed,
    PlanOptions,
    plan_stack,
    reconcile_stack,
)
from controller.engine.resource import STACK_TAG
from controller.kinds.task_definition import TaskDefinition
from tests.aws import client
from tests.kinds.compute_desired import STACK, TASK_DEFINITION
from tests.kinds.contract import ContractCase, run_contract


def _new_revision_with_more_cpu(endpoint: str, observed: Observed) -> None:
    """Someone registers a revision by hand (keeping our tags) with another CPU size."""
    ecs = client("ecs", endpoint)
    resp = ecs.describe_task_definition(taskDefinition=observed.physical_id, include=["TAGS"])
    td = resp["taskDefinition"]
    ecs.register_task_definition(
        family=td["family"],
        taskRoleArn=td["taskRoleArn"],
        executionRoleArn=td["executionRoleArn"],
        networkMode=td["networkMode"],
        requiresCompatibilities=td["requiresCompatibilities"],
        cpu="512",
        memory=td["memory"],
        containerDefinitions=td["containerDefinitions"],
        tags=resp["tags"],
    )


def test_task_definition_contract(endpoint: str) -> None:
    run_contract(
        endpoint,
        ContractCase([TASK_DEFINITION], "task_definition/web", _new_revision_with_more_cpu, "cpu"),
    )
    ecs = client("ecs", endpoint)
    assert ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"] == []


def test_task_definition_registers_what_it_compares(endpoint: str) -> None:
    """The container we register reads back as the desired params (no false drift), with
    secrets by ARN and a JSON key, and old revisions beyond the limit deregistered."""
    run_contract(
        endpoint,
        ContractCase([TASK_DEFINITION], "task_definition/web", _new_revision_with_more_cpu, "cpu"),
    )
    ecs = client("ecs", endpoint)
    # the contract registered 1 (create) + 1 (by hand) + 1 (update) revisions, keeps 2,
    # then deregistered the family on delete
    inactive = ecs.list_task_definitions(status="INACTIVE")["taskDefinitionArns"]
    assert len(inactive) == 3
    td = ecs.describe_task_definition(taskDefinition=inactive[0])["taskDefinition"]
    container = td["containerDefinitions"][0]
    assert container["image"].endswith("/c/web:v1")
    assert {s["name"]: s["valueFrom"] for s in container["secrets"]} == {
        "API_KEY": "arn:aws:secretsmanager:us-east-1:123456789012:secret:api-AbCdEf",
        "DB_PASSWORD": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf:password::",
    }
    assert container["logConfiguration"]["logDriver"] == "awslogs"
    assert td["requiresCompatibilities"] == ["FARGATE"] and td["networkMode"] == "awsvpc"


def test_revision_the_tagging_api_does_not_return_is_asked_directly(endpoint: str) -> None:
    """The stack tag removed by hand: the tagging API no longer returns the revision, so
    the running process asks ListTagsForResource (not its cached description's tags)
    and no longer counts the revision as the stack's."""
    kinds: dict[str, Kind] = {"task_definition": TaskDefinition()}
    options = PlanOptions(guard_deletions=False)
    ecs = client("ecs", endpoint)

    async def run() -> None:
        async with AwsClients(endpoint_url=endpoint) as clients:
            ctx = KindContext(STACK, "v1", clients, user_tags={"Team": "qa"})
            res = await reconcile_stack(
                kinds, ctx, [TASK_DEFINITION], options, write=True, classify=classify
            )
            assert res.converged, res.execution
            (arn,) = ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"]
            ecs.untag_resource(resourceArn=arn, tagKeys=[STACK_TAG])
            mark = clients.recorder.mark()
            plan = await plan_stack(kinds, ctx, [TASK_DEFINITION], options)
            reads = [c.operation for c in clients.recorder.since(mark)]
            assert reads.count("ListTagsForResource") == 1, reads
            assert [(a.key, a.type) for a in plan.changes] == [
                ("task_definition/web", ActionType.CREATE)
            ]

    asyncio.run(run())
