"""Issue 12 item 1: a fresh `stackop plan` reads tags by the page, not one resource at a time.

The Resource Groups Tagging API (`tag:GetResources`, filtered by the stack tag and the
resource types of kinds that list without tags) answers for log groups, task
definitions, alarms, ECR repositories and Cloud Map. moto 5.2.5 answers only for the
first three: for ECR and Cloud Map our kinds fall back to one ListTagsForResource per
resource, and the tests below say so and count those calls; on AWS they are zero.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

from controller.aws import AwsClients
from controller.engine import KindContext
from controller.engine.resource import STACK_TAG
from controller.kinds.stack_tags import CLIENT, RESOURCE_TYPES, resource_types, stack_tags
from controller.kinds.task_definition import DEFINITION_TAG
from controller.spec import load_spec_file
from controller.stack import StackRunner
from tests.aws import client
from tests.conftest import run_stackop
from tests.test_compute import SERVICES, SPEC, STACK, apply, changes, plan_json

MOTO_HAS_NO_TAGGING_API_FOR = ("ecr", "servicediscovery")


def _calls(log: Path) -> Counter[str]:
    return Counter(
        f"{c['service']}:{c['operation']}"
        for c in map(json.loads, log.read_text().splitlines())
        if c.get("operation")
    )


def _tag_reads(calls: Counter[str]) -> dict[str, int]:
    return {op: n for op, n in calls.items() if op.endswith(":ListTagsForResource")}


def test_fresh_plan_reads_tags_by_the_page(endpoint: str, tmp_path: Path) -> None:
    apply(endpoint)
    log = tmp_path / "calls.jsonl"
    proc = run_stackop("plan", str(SPEC), endpoint=endpoint, env={"STACKOP_CALL_LOG": str(log)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = _calls(log)
    # one page: 9 log groups, 9 task definitions and 18 alarms, under 100 resources
    assert calls["resourcegroupstaggingapi:GetResources"] == 1, calls
    # Where the tagging API answers (in moto too), no resource's tags are read alone.
    reads = _tag_reads(calls)
    for op in ("logs:ListTagsForResource", "ecs:ListTagsForResource"):
        assert op not in reads, reads
    assert "cloudwatch:ListTagsForResource" not in reads, reads
    # A revision we registered is not described again: its definition tag vouches for it.
    assert "ecs:DescribeTaskDefinition" not in calls, calls
    # moto 5.2.5's GetResources returns no ECR repository and no Cloud Map resource:
    # those kinds fall back to one read per repository / namespace and service.
    assert reads == {
        "ecr:ListTagsForResource": len(SERVICES),
        "servicediscovery:ListTagsForResource": len(SERVICES) + 1,
    }


def test_steady_cycle_reads_no_tags_one_by_one(endpoint: str) -> None:
    """The operator's warm cycle: the task definitions' tags (drift of hand-edited tags)
    come from the shared GetResources page, not one ListTagsForResource per family."""
    apply(endpoint)
    loaded = load_spec_file(SPEC)

    async def run() -> tuple[Counter[str], bool]:
        async with AwsClients(endpoint_url=endpoint) as clients:
            runner = StackRunner(clients)
            await runner.plan(loaded)  # the fresh pass fills the caches
            mark = clients.recorder.mark()
            plan = await runner.plan(loaded)
            return clients.recorder.counts(mark), plan.in_sync

    counts, in_sync = asyncio.run(run())
    assert in_sync
    assert counts["resourcegroupstaggingapi:GetResources"] == 1, counts
    assert not _tag_reads(counts), counts


def test_hand_edited_task_definition_tag_is_seen_through_the_tagging_api(
    endpoint: str,
) -> None:
    """The steady cycle still sees a tag edited by hand on a task definition (the drift
    the per-family read used to find), now in the one shared page."""
    apply(endpoint)
    loaded = load_spec_file(SPEC)
    ecs = client("ecs", endpoint)

    async def run() -> list[str]:
        async with AwsClients(endpoint_url=endpoint) as clients:
            runner = StackRunner(clients)
            assert (await runner.plan(loaded)).in_sync
            arn = ecs.describe_services(cluster=STACK, services=["order"])["services"][0][
                "taskDefinition"
            ]
            ecs.tag_resource(resourceArn=arn, tags=[{"key": "Name", "value": "by-hand"}])
            mark = clients.recorder.mark()
            plan = await runner.plan(loaded)
            assert not _tag_reads(clients.recorder.counts(mark))
            return [a.key for a in plan.actions if a.delta]

    assert sorted(asyncio.run(run())) == ["task_definition/order"]


def test_get_resources_request_filters_by_stack_and_types(endpoint: str) -> None:
    """The request we send (AWS's paging is not moto's): the stack tag, every type whose
    kind lists without tags, AWS's largest page. No type the tagging API misses."""
    sent: list[dict[str, Any]] = []

    async def run() -> None:
        async with AwsClients(endpoint_url=endpoint) as clients:
            tagging = await clients.client(CLIENT)
            tagging.meta.events.register(
                "provide-client-params.resource-groups-tagging-api.GetResources",
                lambda params, **_: sent.append(dict(params)),
            )
            ctx = KindContext(stack=STACK, spec_version="v1", clients=clients)
            assert await stack_tags(ctx) == {}

    asyncio.run(run())
    assert sent == [
        {
            "TagFilters": [{"Key": STACK_TAG, "Values": [STACK]}],
            "ResourceTypeFilters": list(resource_types("us-east-1")),
            "ResourcesPerPage": 100,
            "TagsPerPage": 500,
        }
    ]
    services = {t.partition(":")[0] for t in resource_types("us-east-1")}
    assert services == {"ecr", "logs", "servicediscovery", "ecs", "cloudwatch", "s3", "cloudfront"}
    assert "cloudfront" not in {t.partition(":")[0] for t in RESOURCE_TYPES}  # us-east-1 only
    # DESIGN.md: the tagging API misses Elastic IPs, listeners, rules, DB subnet groups.
    assert not {"ec2", "elasticloadbalancing", "rds"} & services
    assert set(MOTO_HAS_NO_TAGGING_API_FOR) <= services


def test_fresh_plan_describes_a_revision_registered_by_hand(endpoint: str) -> None:
    """Someone registers a revision with our tags copied (definition tag included) and
    another CPU: its tag names the revision before it, so a fresh plan describes it and
    shows the drift."""
    apply(endpoint)
    ecs = client("ecs", endpoint)
    arn = ecs.describe_services(cluster=STACK, services=["order"])["services"][0]["taskDefinition"]
    resp = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
    td = resp["taskDefinition"]
    assert any(t["key"] == DEFINITION_TAG for t in resp["tags"])
    ecs.register_task_definition(
        family=td["family"],
        taskRoleArn=td["taskRoleArn"],
        executionRoleArn=td["executionRoleArn"],
        networkMode=td["networkMode"],
        requiresCompatibilities=td["requiresCompatibilities"],
        cpu="1024",
        memory="2048",
        containerDefinitions=td["containerDefinitions"],
        tags=resp["tags"],
    )
    code, plan = plan_json(endpoint)
    assert code == 2
    order = changes(plan)["task_definition/order"]
    assert {"field": "cpu", "old": "1024", "new": td["cpu"]} in order, order
