"""Contract tests of the data and edge kinds, on desired resources rendered from a small
portal spec (so the kinds are tested with exactly what the renderers produce)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from controller.aws import AwsClients, classify
from controller.engine import (
    DesiredResource,
    KindContext,
    Observed,
    PlanOptions,
    plan_stack,
    reconcile_stack,
)
from controller.kinds import all_kinds
from controller.render import render
from controller.spec.model import StackSpec
from tests.aws import client
from tests.conftest import ROOT
from tests.kinds.contract import ContractCase, run_contract

STACK = "contract"


def _spec() -> StackSpec:
    doc = yaml.safe_load((ROOT / "specs" / "portal.yaml").read_text())
    doc["metadata"]["name"] = STACK
    doc["spec"]["services"] = doc["spec"]["services"][:2]
    return StackSpec.model_validate(doc, strict=False)


def _with_context_tags(d: DesiredResource) -> DesiredResource:
    """The contract's context adds user tags {"Team": "qa"}; in a real run the spec's
    tags are both the context's user tags and in every `tags` param."""
    if "tags" not in d.params:
        return d
    params = {**d.params, "tags": {**d.params["tags"], "Team": "qa"}}
    return DesiredResource(d.kind, d.logical_id, params, d.depends_on)


DESIRED = {d.key: _with_context_tags(d) for d in render(_spec())}


def closure(key: str) -> list[DesiredResource]:
    """`key` and everything it references, transitively."""
    seen: dict[str, DesiredResource] = {}
    todo = [key]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen[current] = DESIRED[current]
        todo += sorted(DESIRED[current].dependencies())
    return list(seen.values())


def _db_retention(endpoint: str, observed: Observed) -> None:
    client("rds", endpoint).modify_db_instance(
        DBInstanceIdentifier=observed.physical_id, BackupRetentionPeriod=2, ApplyImmediately=True
    )


def _subnet_group_tag(endpoint: str, observed: Observed) -> None:
    # (moto's ModifyDBSubnetGroup drops the group's tags, which AWS keeps: drift a tag.)
    client("rds", endpoint).remove_tags_from_resource(
        ResourceName=observed.outputs["arn"], TagKeys=["Team"]
    )


def _idle_timeout(endpoint: str, observed: Observed) -> None:
    client("elbv2", endpoint).modify_load_balancer_attributes(
        LoadBalancerArn=observed.physical_id,
        Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "300"}],
    )


def _health_path(endpoint: str, observed: Observed) -> None:
    client("elbv2", endpoint).modify_target_group(
        TargetGroupArn=observed.physical_id, HealthCheckPath="/other"
    )


def _listener_action(endpoint: str, observed: Observed) -> None:
    client("elbv2", endpoint).modify_listener(
        ListenerArn=observed.physical_id,
        DefaultActions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "503", "ContentType": "text/plain"},
            }
        ],
    )


def _rule_paths(endpoint: str, observed: Observed) -> None:
    client("elbv2", endpoint).modify_rule(
        RuleArn=observed.physical_id,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/x/*"]}}],
    )


def _versioning_off(endpoint: str, observed: Observed) -> None:
    client("s3", endpoint).put_bucket_versioning(
        Bucket=observed.physical_id, VersioningConfiguration={"Status": "Suspended"}
    )


def _policy_replaced(endpoint: str, observed: Observed) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Other",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:DeleteBucket",
                "Resource": f"arn:aws:s3:::{observed.physical_id}",
            }
        ],
    }
    client("s3", endpoint).put_bucket_policy(Bucket=observed.physical_id, Policy=json.dumps(policy))


def _oac_signing(endpoint: str, observed: Observed) -> None:
    cf = client("cloudfront", endpoint)
    got = cf.get_origin_access_control(Id=observed.physical_id)
    config = got["OriginAccessControl"]["OriginAccessControlConfig"]
    config["SigningBehavior"] = "no-override"
    cf.update_origin_access_control(
        Id=observed.physical_id, IfMatch=got["ETag"], OriginAccessControlConfig=config
    )


def _comment(endpoint: str, observed: Observed) -> None:
    cf = client("cloudfront", endpoint)
    got = cf.get_distribution_config(Id=observed.physical_id)
    got["DistributionConfig"]["Comment"] = "by hand"
    cf.update_distribution(
        Id=observed.physical_id, IfMatch=got["ETag"], DistributionConfig=got["DistributionConfig"]
    )


CASES: dict[str, tuple[Callable[[str, Observed], None], str]] = {
    "db_subnet_group/main": (_subnet_group_tag, "tags"),
    "db_instance/main": (_db_retention, "backup_retention_days"),
    "load_balancer/main": (_idle_timeout, "idle_timeout"),
    "target_group/gateway": (_health_path, "health_check"),
    "listener/http": (_listener_action, "default_action"),
    "listener_rule/order": (_rule_paths, "paths"),
    "frontend_bucket/main": (_versioning_off, "versioning"),
    "bucket_policy/frontend": (_policy_replaced, "policy"),
    "origin_access_control/main": (_oac_signing, "signing_behavior"),
    "distribution/main": (_comment, "comment"),
}


@pytest.mark.parametrize("key", sorted(CASES))
def test_contract(endpoint: str, key: str) -> None:
    drift, field = CASES[key]
    run_contract(endpoint, ContractCase(closure(key), key, drift, field, stack=STACK))
    if key == "load_balancer/main":
        # moto makes a second load balancer when one is created twice with the same
        # name (AWS returns the first): the contract's second create must not have
        # sent CreateLoadBalancer, so exactly one was ever made.
        assert client("elbv2", endpoint).describe_load_balancers()["LoadBalancers"] == []
    if key == "db_instance/main":
        snapshots = client("rds", endpoint).describe_db_snapshots(SnapshotType="manual")
        names = [s["DBSnapshotIdentifier"] for s in snapshots["DBSnapshots"]]
        assert len(names) == 1 and names[0].startswith(f"{STACK}-db-final-"), names


# ------------------------------------------------ requests moto cannot show the effect of


async def _capture_cloudfront(endpoint: str) -> dict[str, list[dict[str, Any]]]:
    sent: dict[str, list[dict[str, Any]]] = {}
    kinds = all_kinds()
    desired = closure("distribution/main")
    async with AwsClients(endpoint_url=endpoint) as clients:
        cf = await clients.client("cloudfront")

        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            sent.setdefault(model.name, []).append(json.loads(json.dumps(params, default=str)))

        def etag(parsed: dict[str, Any], model: Any, **_: Any) -> None:
            sent.setdefault("etags", []).append({"ETag": parsed.get("ETag")})

        cf.meta.events.register("provide-client-params.cloudfront.*", record)
        cf.meta.events.register("after-call.cloudfront.GetDistributionConfig", etag)
        cf.meta.events.register("after-call.cloudfront.GetDistribution", etag)
        ctx = KindContext(stack=STACK, spec_version="v1", clients=clients)
        opts = PlanOptions(guard_deletions=False)
        res = await reconcile_stack(kinds, ctx, desired, opts, write=True, classify=classify)
        assert res.execution is not None and res.execution.converged
        dist_id = client("cloudfront", endpoint).list_distributions()["DistributionList"]["Items"][
            0
        ]["Id"]
        _comment(endpoint, Observed("main", dist_id, {}))
        res = await reconcile_stack(kinds, ctx, desired, opts, write=True, classify=classify)
        assert res.execution is not None and res.execution.converged
        await reconcile_stack(kinds, ctx, [], opts, write=True, classify=classify)
    return sent


def test_distribution_requests_carry_oac_if_match_and_caller_reference(endpoint: str) -> None:
    sent = asyncio.run(_capture_cloudfront(endpoint))
    (create,) = sent["CreateDistributionWithTags"]
    config = create["DistributionConfigWithTags"]["DistributionConfig"]
    tags = {t["Key"]: t["Value"] for t in create["DistributionConfigWithTags"]["Tags"]["Items"]}
    assert tags["stackop:logical-id"] == "distribution/main"
    # moto drops OriginAccessControlId from the stored config; check what we sent.
    (oac_create,) = sent["CreateOriginAccessControl"]
    s3_origin = next(o for o in config["Origins"]["Items"] if o["Id"] == "frontend")
    assert s3_origin["OriginAccessControlId"]
    assert oac_create["OriginAccessControlConfig"]["Name"].startswith(STACK)
    assert len(config["CallerReference"]) == 64
    # moto ignores If-Match (and never changes the ETag): check that every update and
    # the delete sent the ETag of the config they read just before.
    updates = sent["UpdateDistribution"]
    assert len(updates) >= 2  # the drift correction, then disabling before delete
    etags = {e["ETag"] for e in sent["etags"]}
    assert all(u["IfMatch"] in etags for u in updates)
    assert updates[-1]["DistributionConfig"]["Enabled"] is False
    (delete,) = sent["DeleteDistribution"]
    assert delete["IfMatch"] in etags
    assert (
        client("cloudfront", endpoint).list_distributions()["DistributionList"].get("Items", [])
        == []
    )


# ------------------------------------------------ batched reads


async def _observe_many(endpoint: str) -> tuple[list[int], dict[str, int]]:
    from controller.render.edge import render_load_balancer
    from controller.render.network import render_network

    doc = yaml.safe_load((ROOT / "specs" / "portal.yaml").read_text())
    doc["metadata"]["name"] = STACK
    template = doc["spec"]["services"][1]
    doc["spec"]["services"] = [doc["spec"]["services"][0]] + [
        {
            **template,
            "name": f"svc{i:02d}",
            "port": 9000 + i,
            "routing": {"paths": [f"/api/s{i}/*"], "priority": 200 + i},
        }
        for i in range(24)
    ]
    spec = StackSpec.model_validate(doc, strict=False)
    desired = render_network(spec) + render_load_balancer(spec)
    kinds = all_kinds()
    batches: list[int] = []
    async with AwsClients(endpoint_url=endpoint) as clients:
        ctx = KindContext(
            stack=STACK, spec_version="v1", clients=clients, user_tags=dict(spec.spec.tags)
        )
        opts = PlanOptions(guard_deletions=False)
        res = await reconcile_stack(kinds, ctx, desired, opts, write=True, classify=classify)
        assert res.execution is not None and res.execution.converged
        elb = await clients.client("elbv2")

        def record(params: dict[str, Any], **_: Any) -> None:
            batches.append(len(params["ResourceArns"]))

        elb.meta.events.register(
            "provide-client-params.elastic-load-balancing-v2.DescribeTags", record
        )
        mark = clients.recorder.mark()
        plan = await plan_stack(kinds, ctx, desired, opts)
        assert plan.in_sync, [(a.key, a.delta) for a in plan.changes]
        counts = {
            op: n for op, n in clients.recorder.counts(mark).items() if op.startswith("elbv2:")
        }
    return batches, counts


def test_load_balancing_observe_reads_tags_in_batches_of_20(endpoint: str) -> None:
    """25 target groups and 25 rules: tags come in batches of at most 20 ARNs, and the
    number of calls grows by pages, not by resources (except the target groups'
    attributes: one call per group, on a rotation: a tenth of them each warm pass)."""
    batches, counts = asyncio.run(_observe_many(endpoint))
    assert max(batches) == 20 and all(b <= 20 for b in batches), batches
    assert sum(batches) == 1 + 25 + 1 + 25  # load balancer, target groups, listener, rules
    assert counts == {
        "elbv2:DescribeLoadBalancers": 1,
        "elbv2:DescribeLoadBalancerAttributes": 1,
        "elbv2:DescribeTargetGroups": 1,
        "elbv2:DescribeListeners": 1,
        "elbv2:DescribeRules": 1,
        # The four kinds share one packed read: 52 ARNs in batches of 20.
        "elbv2:DescribeTags": 3,
        # ELB has no batched attribute read: one per group, a tenth of the groups (the
        # oldest readings) each warm pass (engine.memory.Readings).
        "elbv2:DescribeTargetGroupAttributes": 3,
    }, counts


# ------------------------------------------------ pure helpers


def test_engine_version_matching_allows_automatic_minor_upgrades() -> None:
    from controller.kinds.db_instance import same_engine_version

    assert same_engine_version("15.4", "15.4")
    assert same_engine_version("15.4", "15.7")  # AutoMinorVersionUpgrade moved it on
    assert same_engine_version("15", "15.4")
    assert not same_engine_version("15.4", "15.2")
    assert not same_engine_version("15.4", "16.1")


def test_final_snapshot_name_is_a_valid_identifier() -> None:
    from controller.kinds.db_instance import final_snapshot_name

    name = final_snapshot_name("portal--db", "2026-11-26 18:56:53.021680+00:00")
    assert name == "portal-db-final-20261126-185653"


def test_equivalent_policies_compare_equal() -> None:
    from controller.kinds.bucket_policy import canonical_policy

    a = {"Statement": [{"Sid": "B", "Action": ["s3:GetObject"]}, {"Sid": "A", "Action": "x"}]}
    b = json.dumps(
        {"Statement": [{"Sid": "A", "Action": ["x"]}, {"Sid": "B", "Action": "s3:GetObject"}]}
    )
    assert canonical_policy(a) == canonical_policy(b)


def test_rule_priorities_do_not_depend_on_service_order() -> None:
    from controller.render.edge import rule_priorities

    doc = yaml.safe_load((ROOT / "specs" / "portal.yaml").read_text())
    for svc in doc["spec"]["services"][1:]:
        svc["routing"].pop("priority")
    forward = rule_priorities(StackSpec.model_validate(doc, strict=False))
    doc["spec"]["services"].reverse()
    backward = rule_priorities(StackSpec.model_validate(doc, strict=False))
    assert forward == backward and len(set(forward.values())) == len(forward)
    # Explicit priorities are kept; derived ones put longer literal paths first.
    assert forward["gateway"] == 1000 and all(p <= 50000 for p in forward.values())
    doc["spec"]["services"][-1]["routing"].pop("priority")  # the gateway, now derived
    derived = rule_priorities(StackSpec.model_validate(doc, strict=False))
    assert derived["gateway"] > max(v for k, v in derived.items() if k != "gateway")
