"""What we enforce is read, not remembered: out-of-band changes of a target group's
deregistration delay (an attribute, formerly compared against a tag we wrote) and of a
task definition's tags (formerly cached for the process) are planned and corrected.
"""

from __future__ import annotations

import asyncio

from controller.aws import AwsClients, classify
from controller.engine import ActionType, KindContext, PlanOptions, plan_stack, reconcile_stack
from controller.kinds.task_definition import TaskDefinition
from tests.aws import client
from tests.kinds.compute_desired import STACK as COMPUTE_STACK
from tests.kinds.compute_desired import TASK_DEFINITION
from tests.kinds.drift import drift_and_correct
from tests.kinds.test_data_edge_kinds import DESIRED, STACK, closure


def test_deregistration_delay_changed_out_of_band_is_set_back(endpoint: str) -> None:
    def longer(arn: str) -> None:
        client("elbv2", endpoint).modify_target_group_attributes(
            TargetGroupArn=arn,
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "120"}],
        )

    fix = asyncio.run(
        drift_and_correct(
            endpoint,
            STACK,
            closure("target_group/order"),
            "target_group/order",
            "deregistration_delay",
            longer,
        )
    )
    wanted = DESIRED["target_group/order"].params["deregistration_delay"]
    assert (fix.change.old, fix.change.new) == (120, wanted)
    assert fix.writes == ["elbv2:ModifyTargetGroupAttributes"]
    (group,) = client("elbv2", endpoint).describe_target_groups(Names=["contract-order"])[
        "TargetGroups"
    ]
    attributes = client("elbv2", endpoint).describe_target_group_attributes(
        TargetGroupArn=group["TargetGroupArn"]
    )["Attributes"]
    delay = {a["Key"]: a["Value"] for a in attributes}["deregistration_delay.timeout_seconds"]
    assert delay == str(wanted)


def test_task_definition_tag_edited_by_hand_is_seen_by_the_running_process(
    endpoint: str,
) -> None:
    """One kind instance throughout, as in a long-running operator."""
    kinds = {"task_definition": TaskDefinition()}
    desired = [TASK_DEFINITION]
    options = PlanOptions(guard_deletions=False)
    ecs = client("ecs", endpoint)

    async def run() -> None:
        async with AwsClients(endpoint_url=endpoint) as clients:
            ctx = KindContext(COMPUTE_STACK, "v1", clients, user_tags={"Team": "qa"})
            res = await reconcile_stack(kinds, ctx, desired, options, write=True, classify=classify)
            assert res.converged, res.execution
            assert (await plan_stack(kinds, ctx, desired, options)).in_sync
            (arn,) = ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"]
            ecs.tag_resource(resourceArn=arn, tags=[{"key": "Team", "value": "someone-else"}])
            plan = await plan_stack(kinds, ctx, desired, options)
            (action,) = plan.changes
            assert (action.key, action.type) == ("task_definition/web", ActionType.UPDATE)
            (change,) = action.delta.changes
            assert (change.path, change.old, change.new) == ("tags.Team", "someone-else", "qa")
            mark = clients.recorder.mark()
            res = await reconcile_stack(kinds, ctx, desired, options, write=True, classify=classify)
            assert res.converged, res.execution
            assert [c.operation for c in clients.recorder.writes(mark)] == ["TagResource"]
            assert (await plan_stack(kinds, ctx, desired, options)).in_sync
            # Still the one revision: a tag change registers nothing.
            assert ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"] == [arn]
            live = ecs.list_tags_for_resource(resourceArn=arn)["tags"]
            assert {"key": "Team", "value": "qa"} in live

    asyncio.run(run())
