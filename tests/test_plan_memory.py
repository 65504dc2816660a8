"""Issue 12 item 1: a fresh `stackop plan` as cheap as the operator's cycle.

Two parts. Target group attributes (one DescribeTargetGroupAttributes per group: ELB
has no batched read) are read on a rotation, re-read at once when a change event names
the group, and checked again before a reading that differs from the spec counts. And
the operator keeps its kinds' readings (ownership tags by ARN + creation time, target
group attributes with their ages) in status/<stack>.json, which `stackop plan --bucket`
starts from. moto 5.2.5's tagging API answers for no ECR repository or Cloud Map
resource (see test_fresh_plan): without the memory a fresh plan reads those tags one
by one; with it, it does not.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.aws import AwsClients
from controller.engine.memory import MAX_AGE, ROTATION_SHARE
from controller.kinds.target_group import DEREGISTRATION
from controller.spec import load_spec_file
from controller.stack import StackRunner
from tests.aws import client
from tests.conftest import run_stackop
from tests.operator_harness import (
    PORTAL,
    PORTAL_NAME,
    Operator,
    converged,
    make_bucket,
    push_text,
    read_object,
    spec_text,
    wait_for,
)
from tests.test_compute import SERVICES
from tests.test_compute import apply as apply_spec
from tests.test_drift_events import events_queue, put_event, sample
from tests.test_fresh_plan import MOTO_HAS_NO_TAGGING_API_FOR

ATTRS = "elbv2:DescribeTargetGroupAttributes"
ELB_ATTRS_EVENT = "provide-client-params.elastic-load-balancing-v2.DescribeTargetGroupAttributes"
BUCKET = "stackop-specs"
SPEC, STACK = PORTAL, PORTAL_NAME  # the portal: every service has a target group


def apply(endpoint: str) -> None:
    apply_spec(endpoint, SPEC)


def _calls(log: Path) -> Counter[str]:
    return Counter(
        f"{c['service']}:{c['operation']}"
        for c in map(json.loads, log.read_text().splitlines())
        if c.get("operation")
    )


def _delay(arn: str, endpoint: str) -> int:
    attrs = client("elbv2", endpoint).describe_target_group_attributes(TargetGroupArn=arn)
    return int({a["Key"]: a["Value"] for a in attrs["Attributes"]}[DEREGISTRATION])


def _set_delay(arn: str, seconds: int, endpoint: str) -> None:
    client("elbv2", endpoint).modify_target_group_attributes(
        TargetGroupArn=arn, Attributes=[{"Key": DEREGISTRATION, "Value": str(seconds)}]
    )


def _group_arns(endpoint: str, stack: str) -> dict[str, str]:
    """{service: target group ARN} of the stack's groups (by their logical-id tag)."""
    elb = client("elbv2", endpoint)
    groups = elb.describe_target_groups()["TargetGroups"]
    found: dict[str, str] = {}
    for desc in elb.describe_tags(ResourceArns=[g["TargetGroupArn"] for g in groups])[
        "TagDescriptions"
    ]:
        tags = {t["Key"]: t["Value"] for t in desc["Tags"]}
        if tags.get("stackop:stack") == stack:
            found[tags["stackop:logical-id"].partition("/")[2]] = desc["ResourceArn"]
    return found


# ---------------------------------------------------------------- the rotation, in process


def test_steady_passes_read_a_tenth_of_the_groups_and_each_in_turn(endpoint: str) -> None:
    apply(endpoint)
    loaded = load_spec_file(SPEC)
    read: list[list[str]] = []

    async def run() -> tuple[list[int], bool]:
        async with AwsClients(endpoint_url=endpoint) as clients:
            elb = await clients.client("elbv2")
            elb.meta.events.register(
                ELB_ATTRS_EVENT, lambda params, **_: read[-1].append(params["TargetGroupArn"])
            )
            runner = StackRunner(clients)
            counts, in_sync = [], True
            for _ in range(len(SERVICES) + 1):
                read.append([])
                in_sync = (await runner.plan(loaded)).in_sync and in_sync
                counts.append(len(read[-1]))
            return counts, in_sync

    counts, in_sync = asyncio.run(run())
    assert in_sync
    groups = set(_group_arns(endpoint, STACK).values())
    assert len(groups) == len(SERVICES)
    # the first pass reads every group; then a tenth (at least one) each pass, oldest first
    assert counts[0] == len(SERVICES)
    share = -(-len(SERVICES) // ROTATION_SHARE)
    assert counts[1:] == [share] * len(SERVICES)
    assert {arn for one in read[1:] for arn in one} == groups  # each re-read within 9 passes


def test_out_of_band_delay_is_seen_within_a_rotation_and_at_once_when_forgotten(
    endpoint: str,
) -> None:
    apply(endpoint)
    loaded = load_spec_file(SPEC)
    arns = _group_arns(endpoint, STACK)

    async def run() -> tuple[int, bool]:
        async with AwsClients(endpoint_url=endpoint) as clients:
            runner = StackRunner(clients)
            assert (await runner.plan(loaded)).in_sync
            _set_delay(arns["order"], 7, endpoint)
            passes = 0
            while passes < len(SERVICES) + 1:
                passes += 1
                plan = await runner.plan(loaded)
                if not plan.in_sync:
                    break
            drifted = [a.key for a in plan.actions if a.delta]
            assert drifted == ["target_group/order"], drifted
            # corrected: the written value is a reading; the next pass is in sync
            await runner.reconcile(loaded)
            assert _delay(arns["order"], endpoint) != 7
            assert (await runner.plan(loaded)).in_sync
            # a change event names the group: the very next pass reads it
            _set_delay(arns["customer"], 9, endpoint)
            runner.forget(STACK, [arns["customer"]])
            after_event = await runner.plan(loaded)
            return passes, [a.key for a in after_event.actions if a.delta] == [
                "target_group/customer"
            ]

    passes, seen_at_once = asyncio.run(run())
    assert 1 <= passes <= len(SERVICES)
    assert seen_at_once


# ---------------------------------------------------------------- memory, checked by the kinds


def _memory(endpoint: str) -> dict[str, Any]:
    """What one warm process remembers of the compute stack."""
    loaded = load_spec_file(SPEC)

    async def run() -> dict[str, Any]:
        async with AwsClients(endpoint_url=endpoint) as clients:
            runner = StackRunner(clients)
            assert (await runner.plan(loaded)).in_sync
            return runner.remember(STACK)

    return asyncio.run(run())


def _fresh_plan_with(endpoint: str, memory: Any, age_offset: float) -> tuple[Counter[str], bool]:
    """A fresh runner seeded with `memory`: (calls by operation, in sync)."""
    loaded = load_spec_file(SPEC)

    async def run() -> tuple[Counter[str], bool]:
        async with AwsClients(endpoint_url=endpoint) as clients:
            runner = StackRunner(clients)
            runner.recall(STACK, memory, age_offset)
            plan = await runner.plan(loaded)
            return clients.recorder.counts(), plan.in_sync

    return asyncio.run(run())


def test_remembered_readings_spare_a_fresh_runner_the_one_by_one_reads(endpoint: str) -> None:
    apply(endpoint)
    memory = _memory(endpoint)
    # log groups' tags come from the tagging API (in moto too): nothing read one by one
    assert set(memory) == {
        "ecr_repository",
        "service_discovery_namespace",
        "service_discovery_service",
        "target_group",
    }
    cold, cold_in_sync = _fresh_plan_with(endpoint, None, 0)
    warm, warm_in_sync = _fresh_plan_with(endpoint, json.loads(json.dumps(memory)), 1.0)
    assert cold_in_sync and warm_in_sync
    for service in MOTO_HAS_NO_TAGGING_API_FOR:  # moto's gap, see test_fresh_plan
        assert cold[f"{service}:ListTagsForResource"] > 0, cold
        assert warm[f"{service}:ListTagsForResource"] == 0, warm
    assert cold[ATTRS] == len(SERVICES)
    assert warm[ATTRS] == -(-len(SERVICES) // ROTATION_SHARE)
    # readings older than the age limit are read again
    old, _ = _fresh_plan_with(endpoint, memory, MAX_AGE + 1)
    assert old[ATTRS] == len(SERVICES)


def test_a_remembered_delay_that_differs_from_the_spec_is_checked_before_it_counts(
    endpoint: str,
) -> None:
    """A stale reading never makes a change: one saying 'drifted' is read again."""
    apply(endpoint)
    memory = _memory(endpoint)
    lied = [{**entry, "value": 123} for entry in memory["target_group"]]
    calls, in_sync = _fresh_plan_with(endpoint, {**memory, "target_group": lied}, 0)
    assert in_sync
    assert calls[ATTRS] == len(SERVICES)


GARBAGE_MEMORIES: list[Any] = [
    None,
    "memory",
    [1, 2, 3],
    {"target_group": "x", "ecr_repository": {"a": 1}},
    {"target_group": [{"id": 5, "value": 300, "age": 0}]},
    {"target_group": [{"id": "arn:x", "value": 300}]},
    {"target_group": [{"id": "arn:x", "value": 300, "age": -5}]},
    {"target_group": [{"id": "arn:x", "value": 300, "age": float("nan")}]},
    {"target_group": [{"id": "arn:x", "value": 300, "age": True}]},
    {"target_group": [{"id": "arn:x", "value": "300", "age": 0}]},
    {"target_group": [{"id": "arn:x", "value": 10**9, "age": 0}]},
    {"target_group": [{"id": "arn:x", "value": 300, "age": 0}] * 6000},
    {"ecr_repository": [{"arn": "not-an-arn", "created": "x", "tags": {}}]},
    {"ecr_repository": [{"arn": "arn:aws:ecr:x", "created": "", "tags": {}}]},
    {"ecr_repository": [{"arn": "arn:aws:ecr:x", "created": "x", "tags": {"a": 1}}]},
    {"no_such_kind": [1]},
]


@pytest.mark.parametrize("garbage", GARBAGE_MEMORIES, ids=range(len(GARBAGE_MEMORIES)))
def test_garbage_memory_is_dropped_entry_by_entry(endpoint: str, garbage: Any) -> None:
    apply(endpoint)
    calls, in_sync = _fresh_plan_with(endpoint, garbage, 0)
    assert in_sync
    assert calls[ATTRS] == len(SERVICES)  # nothing taken: every group read


def test_memory_of_another_stack_vouches_for_nothing(endpoint: str) -> None:
    """Ownership entries count only under the stack tag they carry and the exact
    (ARN, creation time): a copy for another stack, or with another time, is read afresh."""
    apply(endpoint)
    memory = _memory(endpoint)
    moved = {
        "ecr_repository": [{**e, "created": e["created"] + "0"} for e in memory["ecr_repository"]],
        "service_discovery_service": [
            {**e, "tags": {**e["tags"], "stackop:stack": "other"}}
            for e in memory["service_discovery_service"]
        ],
    }
    calls, in_sync = _fresh_plan_with(endpoint, moved, 0)
    assert in_sync
    assert calls["ecr:ListTagsForResource"] == len(SERVICES)
    assert calls["servicediscovery:ListTagsForResource"] == len(SERVICES) + 1


# ---------------------------------------------------------------- the operator, end to end


@pytest.fixture
def portal_operator(endpoint: str, tmp_path: Path) -> Iterator[Operator]:
    make_bucket(endpoint, BUCKET)
    op = Operator(endpoint, BUCKET, tmp_path).start(resync=2, poll=1, lease=5)
    push_text(endpoint, BUCKET, "specs/portal.yaml", spec_text(), tmp_path)
    wait_for(lambda: converged(op, PORTAL_NAME), 120, "portal converged")
    yield op
    op.kill()


def _status_memory(endpoint: str) -> Any:
    doc = read_object(endpoint, BUCKET, f"status/{PORTAL_NAME}.json") or {}
    memory = doc.get("memory") or {}
    return memory if memory.get("target_group") else None


def test_fresh_plan_starts_from_the_operators_memory(
    endpoint: str, portal_operator: Operator, tmp_path: Path
) -> None:
    op = portal_operator
    memory = wait_for(lambda: _status_memory(endpoint), 30, "memory in the status object")
    assert len(memory["target_group"]) == len(SERVICES)
    op.stop()  # the plan's figures alone; its memory is now only in the status object
    spec = tmp_path / "portal.yaml"
    spec.write_text(spec_text())

    def plan(*extra: str) -> tuple[Any, Counter[str]]:
        log = tmp_path / f"plan{len(extra)}.jsonl"
        log.unlink(missing_ok=True)
        proc = run_stackop(
            "--bucket",
            BUCKET,
            "plan",
            *extra,
            str(spec),
            endpoint=endpoint,
            env={"STACKOP_CALL_LOG": str(log)},
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc, _calls(log)

    warm, warm_calls = plan()
    cold, cold_calls = plan("--no-memory")
    assert warm.stdout == cold.stdout  # the same plan, whatever it started from
    assert "Started from" in warm.stderr and f"status/{PORTAL_NAME}.json" in warm.stderr
    assert "Operator memory" not in cold.stderr and "Started from" not in cold.stderr
    assert warm_calls["s3:GetObject"] == 1 and "s3:GetObject" not in cold_calls
    for service in MOTO_HAS_NO_TAGGING_API_FOR:
        assert warm_calls[f"{service}:ListTagsForResource"] == 0, warm_calls
        assert cold_calls[f"{service}:ListTagsForResource"] > 0, cold_calls
    assert warm_calls[ATTRS] <= 2 < cold_calls[ATTRS] == len(SERVICES)
    assert sum(warm_calls.values()) <= 45, warm_calls  # issue 12's budget for the portal

    # a status object that is not a stack's status: the plan reads everything, same output
    for garbage, why in (
        (b"{not json", "is not JSON"),
        (json.dumps({"stack": "someone-else", "memory": memory}).encode(), "not this stack"),
        (json.dumps({"stack": PORTAL_NAME, "memory": {"target_group": 7}}).encode(), "holds none"),
    ):
        client("s3", endpoint).put_object(
            Bucket=BUCKET, Key=f"status/{PORTAL_NAME}.json", Body=garbage
        )
        again, calls = plan()
        assert again.stdout == cold.stdout
        assert why in again.stderr, again.stderr
        assert calls[ATTRS] == len(SERVICES)
    client("s3", endpoint).delete_object(Bucket=BUCKET, Key=f"status/{PORTAL_NAME}.json")
    gone, _ = plan()
    assert gone.stdout == cold.stdout and "not found" in gone.stderr


def test_status_object_carries_fresh_memory_without_a_write_per_cycle(
    endpoint: str, portal_operator: Operator
) -> None:
    """The memory is rewritten only with a real change or every MEMORY_REFRESH seconds:
    steady cycles put no status object (the bucket is versioned: every put is a version)."""
    op = portal_operator
    wait_for(lambda: _status_memory(endpoint), 30, "memory in the status object")
    time.sleep(3)

    def versions() -> int:
        reply = client("s3", endpoint).list_object_versions(
            Bucket=BUCKET, Prefix=f"status/{PORTAL_NAME}.json"
        )
        return len(reply.get("Versions", []))

    def reconciles() -> int:
        return len([e for e in op.logs() if e.get("event") == "reconcile_done"])

    before, done = versions(), reconciles()
    time.sleep(8)  # about four 2 s resyncs
    assert reconciles() >= done + 2
    assert versions() == before, "a steady cycle rewrote the status object"


def test_modify_target_group_attributes_event_is_corrected_at_once(
    endpoint: str, tmp_path: Path
) -> None:
    """With --events the resync is long; the rotation would reach the group in up to 9
    of them. A ModifyTargetGroupAttributes event names the group: read and fixed now."""
    queue_url = events_queue(endpoint)
    op = Operator(endpoint, BUCKET, tmp_path)
    op.extra_env = {"STACKOP_QUEUE_URL": queue_url}
    op.start(resync=300, poll=1, lease=5)
    try:
        push_text(endpoint, BUCKET, "specs/portal.yaml", spec_text(), tmp_path)
        wait_for(lambda: converged(op, PORTAL_NAME), 120, "portal converged")
        arns = _group_arns(endpoint, PORTAL_NAME)
        wanted = _delay(arns["order"], endpoint)
        _set_delay(arns["order"], 5, endpoint)
        event = sample("elbv2-modify-target-group-attributes")
        event["detail"]["requestParameters"]["targetGroupArn"] = arns["order"]
        started = time.monotonic()
        put_event(endpoint, event)
        wait_for(lambda: _delay(arns["order"], endpoint) == wanted, 20, "delay corrected")
        assert time.monotonic() - started < 15
    finally:
        op.kill()
