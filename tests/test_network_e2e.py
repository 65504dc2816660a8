"""Issue 2, networking end to end: real `stackop` processes against moto in server mode.

Out-of-band changes are made with an independent boto3 client (tests/aws.py), the way
an operator with the AWS CLI would make them.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.aws import AwsClients, classify
from controller.engine import KindContext, PlanOptions, plan_stack, reconcile_stack
from controller.kinds import all_kinds
from controller.planview import show
from controller.render.network import render_network
from controller.spec import LoadedSpec, load_spec_file
from tests.aws import client
from tests.conftest import BIN, ROOT, run_stackop

SPEC = ROOT / "tests" / "specs" / "network-only.yaml"
STACK = "network-only"
EXPECTED = {
    "vpc": 1,
    "subnet": 6,
    "internet_gateway": 1,
    "elastic_ip": 1,
    "nat_gateway": 1,
    "route_table": 2,
    "security_group": 4,
}
ACTION_LINE = re.compile(r"^  (create|update|replace|delete) +(\S+/\S+) (\.\.\.|done|FAILED)")


# ---------------------------------------------------------------- helpers


def tags_of(item: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in item.get("Tags", [])}


def logical(item: dict[str, Any]) -> str:
    return tags_of(item).get("stackop:logical-id", "")


def owned(items: list[dict[str, Any]], stack: str) -> list[dict[str, Any]]:
    """Items carrying both ownership tags of the stack."""
    return [
        i
        for i in items
        if tags_of(i).get("stackop:stack") == stack
        and tags_of(i).get("stackop:managed-by") == "stack-operator"
    ]


def inventory(endpoint: str, stack: str = STACK) -> dict[str, list[dict[str, Any]]]:
    """Every live resource tagged as the stack's, per kind (ownership checked here, since
    moto's DescribeNatGateways ignores tag filters)."""
    ec2 = client("ec2", endpoint)
    nats = [
        n
        for n in ec2.describe_nat_gateways()["NatGateways"]
        if n["State"] not in ("deleted", "deleting", "failed")
    ]
    return {
        "vpc": owned(ec2.describe_vpcs()["Vpcs"], stack),
        "subnet": owned(ec2.describe_subnets()["Subnets"], stack),
        "internet_gateway": owned(ec2.describe_internet_gateways()["InternetGateways"], stack),
        "elastic_ip": owned(ec2.describe_addresses()["Addresses"], stack),
        "nat_gateway": owned(nats, stack),
        "route_table": owned(ec2.describe_route_tables()["RouteTables"], stack),
        "security_group": owned(ec2.describe_security_groups()["SecurityGroups"], stack),
    }


def counts(endpoint: str) -> dict[str, int]:
    return {kind: len(items) for kind, items in inventory(endpoint).items()}


def by_logical_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for item in items:
        key = logical(item)
        assert key not in found, f"duplicate {key}"
        found[key] = item
    return found


def apply(endpoint: str, spec: Path = SPEC) -> subprocess.CompletedProcess[str]:
    # no operator in these tests (no bucket); teardown and pruning delete on purpose
    result = run_stackop(
        "apply", "--no-lease", "--auto-approve", str(spec), endpoint=endpoint, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def plan(endpoint: str, *extra: str, spec: Path = SPEC) -> subprocess.CompletedProcess[str]:
    return run_stackop("plan", str(spec), *extra, endpoint=endpoint, timeout=60)


def variant(tmp_path: Path, name: str, **body: Any) -> Path:
    """The network-only spec with `spec` fields overridden (camelCase keys)."""
    doc = yaml.safe_load(SPEC.read_text())
    for key, value in body.items():
        if isinstance(value, dict):
            doc["spec"].setdefault(key, {}).update(value)
        else:
            doc["spec"][key] = value
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def canon(items: list[Any]) -> list[str]:
    """A list compared as a multiset."""
    return sorted(json.dumps(i, sort_keys=True) for i in items)


def text_blocks(text: str) -> dict[str, list[str]]:
    """Plan text: resource key -> its detail lines."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        head = re.match(r"^(?:\+|~|-/\+|-|=) (\S+/[^\s:]+)", line)
        if head:
            current = blocks.setdefault(head.group(1), [])
        elif line.startswith("      ") and current is not None:
            current.append(line.strip())
        else:
            current = None
    return blocks


@pytest.fixture
def converged(endpoint: str) -> str:
    apply(endpoint)
    assert counts(endpoint) == EXPECTED
    return endpoint


# ---------------------------------------------------------------- 1. converge, no false drift


def test_apply_from_empty_converges_and_plans_clean(endpoint: str, tmp_path: Path) -> None:
    result = apply(endpoint)
    assert "pass 1: Plan: 16 to create" in result.stdout
    assert counts(endpoint) == EXPECTED

    live = {kind: by_logical_id(items) for kind, items in inventory(endpoint).items()}
    vpc_id = live["vpc"]["vpc/main"]["VpcId"]
    subnets = live["subnet"]
    for key, subnet in subnets.items():
        assert subnet["VpcId"] == vpc_id
        assert subnet["MapPublicIpOnLaunch"] is key.startswith("subnet/public-"), key
        assert tags_of(subnet)["Name"] == f"{STACK}-{key.split('/')[1]}"
        assert tags_of(subnet)["Environment"] == "test"
    igw = live["internet_gateway"]["internet_gateway/main"]
    assert igw["Attachments"] == [{"State": "available", "VpcId": vpc_id}]
    nat = live["nat_gateway"]["nat_gateway/a"]
    eip = live["elastic_ip"]["elastic_ip/nat-a"]
    assert nat["SubnetId"] == subnets["subnet/public-a"]["SubnetId"]
    assert nat["NatGatewayAddresses"][0]["AllocationId"] == eip["AllocationId"]
    assert tags_of(nat)["Name"] == f"{STACK}-nat-a" == tags_of(eip)["Name"]
    public, private = (
        live["route_table"]["route_table/public"],
        live["route_table"]["route_table/private"],
    )
    assert {(r["DestinationCidrBlock"], r.get("GatewayId")) for r in public["Routes"]} == {
        ("10.20.0.0/16", "local"),
        ("0.0.0.0/0", igw["InternetGatewayId"]),
    }
    assert [r.get("NatGatewayId") for r in private["Routes"] if r.get("GatewayId") != "local"] == [
        nat["NatGatewayId"]
    ]
    assert {a["SubnetId"] for a in public["Associations"]} == {
        subnets[f"subnet/public-{z}"]["SubnetId"] for z in "ab"
    }
    assert {a["SubnetId"] for a in private["Associations"]} == {
        subnets[f"subnet/{g}-{z}"]["SubnetId"] for g in ("app", "data") for z in "ab"
    }
    groups = live["security_group"]
    tasks_id = groups["security_group/tasks"]["GroupId"]
    assert groups["security_group/tasks"]["IpPermissions"] == []  # no services, no ports
    (db_rule,) = groups["security_group/database"]["IpPermissions"]
    assert (db_rule["FromPort"], db_rule["UserIdGroupPairs"][0]["GroupId"]) == (5432, tasks_id)
    for group in groups.values():  # the default egress rule was described, not duplicated
        (egress,) = group["IpPermissionsEgress"]
        assert egress["IpRanges"] == [{"CidrIp": "0.0.0.0/0", "Description": "all outbound"}]

    # the VPC's default security group and main route table are not ours
    ec2 = client("ec2", endpoint)
    vpc_filter = [{"Name": "vpc-id", "Values": [vpc_id]}]
    default_sg = [
        g
        for g in ec2.describe_security_groups(Filters=vpc_filter)["SecurityGroups"]
        if g["GroupName"] == "default"
    ]
    main_rt = [
        t
        for t in ec2.describe_route_tables(Filters=vpc_filter)["RouteTables"]
        if any(a.get("Main") for a in t["Associations"])
    ]
    assert len(default_sg) == len(main_rt) == 1
    assert "stackop:stack" not in tags_of(default_sg[0]) | tags_of(main_rt[0])

    # ten plans in a row: no false drift; each observes every kind with one call
    log = tmp_path / "calls.jsonl"
    for _ in range(10):
        result = run_stackop(
            "plan", str(SPEC), endpoint=endpoint, env={"STACKOP_CALL_LOG": str(log)}
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "No changes. 16 resources in sync." in result.stdout
    records = [json.loads(line) for line in log.read_text().splitlines()]
    calls = Counter(r["operation"] for r in records if r["service"] == "ec2")
    per_plan = {op: n / 10 for op, n in calls.items()}  # other kinds' services aside
    assert per_plan == {
        "DescribeVpcs": 1,
        "DescribeVpcAttribute": 2,
        "DescribeSubnets": 1,
        "DescribeInternetGateways": 1,
        "DescribeAddresses": 1,
        "DescribeNatGateways": 1,
        "DescribeRouteTables": 1,
        "DescribeSecurityGroups": 1,
    }


def _portal(tmp_path: Path, nat_gateways: str) -> LoadedSpec:
    doc = yaml.safe_load((ROOT / "specs" / "portal.yaml").read_text())
    doc["spec"]["network"]["natGateways"] = nat_gateways
    path = tmp_path / f"portal-{nat_gateways}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_spec_file(str(path))


async def _converge_network(endpoint: str, loaded: LoadedSpec) -> None:
    """Reconcile only the network section, in-process, then plan it clean three times."""
    kinds = all_kinds()
    desired = render_network(loaded.spec)
    opts = PlanOptions(guard_deletions=False)
    async with AwsClients(endpoint_url=endpoint) as clients:
        ctx = KindContext(loaded.name, loaded.version, clients, dict(loaded.spec.spec.tags))
        result = await reconcile_stack(kinds, ctx, desired, opts, write=True, classify=classify)
        assert result.execution is not None and result.execution.converged, result.execution
        for _ in range(3):
            again = await plan_stack(kinds, ctx, desired, opts)
            assert again.in_sync, [(a.key, a.delta) for a in again.changes]


def test_portal_network_converges_and_changes_nat_layout(endpoint: str, tmp_path: Path) -> None:
    """The network section of specs/portal.yaml (9 service ports on the tasks group), in
    process so the test stays about networking whatever the other sections do; then its NAT
    layout goes single -> perAz -> single, moving the private subnets between tables."""
    for layout in ("single", "perAz", "single"):
        loaded = _portal(tmp_path, layout)
        asyncio.run(_converge_network(endpoint, loaded))
        live = inventory(endpoint, loaded.name)
        zones = 2 if layout == "perAz" else 1
        assert len(live["nat_gateway"]) == len(live["elastic_ip"]) == zones, layout
        tables = by_logical_id(live["route_table"])
        assert len(tables) == 1 + zones, layout
        associated = Counter(
            a["SubnetId"] for t in tables.values() for a in t["Associations"] if a.get("SubnetId")
        )
        assert len(associated) == 6 and set(associated.values()) == {1}, associated
        if layout == "perAz":
            for zone in "ab":
                (route,) = [
                    r
                    for r in tables[f"route_table/private-{zone}"]["Routes"]
                    if r.get("NatGatewayId")
                ]
                nat = by_logical_id(live["nat_gateway"])[f"nat_gateway/{zone}"]
                assert route["NatGatewayId"] == nat["NatGatewayId"]
                assert (
                    nat["SubnetId"]
                    == by_logical_id(live["subnet"])[f"subnet/public-{zone}"]["SubnetId"]
                )
    tasks = by_logical_id(live["security_group"])["security_group/tasks"]
    pairs = [
        (p["FromPort"], p["ToPort"], g["GroupId"])
        for p in tasks["IpPermissions"]
        for g in p["UserIdGroupPairs"]
    ]
    # The 9 consecutive service ports are one range, from the ALB group and from itself.
    alb_id = by_logical_id(live["security_group"])["security_group/alb"]["GroupId"]
    assert sorted(pairs) == sorted([(8000, 8008, alb_id), (8000, 8008, tasks["GroupId"])])


# ---------------------------------------------------------------- 2. drift of every kind


def _drift_everything(endpoint: str) -> dict[str, Any]:
    ec2 = client("ec2", endpoint)
    live = {kind: by_logical_id(items) for kind, items in inventory(endpoint).items()}
    vpc_id = live["vpc"]["vpc/main"]["VpcId"]
    subnets = {k: s["SubnetId"] for k, s in live["subnet"].items()}
    igw_id = live["internet_gateway"]["internet_gateway/main"]["InternetGatewayId"]
    public = live["route_table"]["route_table/public"]
    private = live["route_table"]["route_table/private"]
    alb = live["security_group"]["security_group/alb"]["GroupId"]

    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": False})
    ec2.modify_subnet_attribute(
        SubnetId=subnets["subnet/public-a"], MapPublicIpOnLaunch={"Value": False}
    )
    ec2.delete_tags(Resources=[subnets["subnet/data-b"]], Tags=[{"Key": "Project"}])
    ec2.detach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
    ec2.delete_route(RouteTableId=public["RouteTableId"], DestinationCidrBlock="0.0.0.0/0")
    ec2.create_route(
        RouteTableId=public["RouteTableId"], DestinationCidrBlock="192.168.0.0/16", GatewayId=igw_id
    )
    ec2.replace_route(
        RouteTableId=private["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw_id
    )
    (assoc,) = [a for a in private["Associations"] if a["SubnetId"] == subnets["subnet/app-b"]]
    ec2.disassociate_route_table(AssociationId=assoc["RouteTableAssociationId"])
    ec2.authorize_security_group_ingress(
        GroupId=alb,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    ec2.revoke_security_group_ingress(
        GroupId=alb,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    eip = live["elastic_ip"]["elastic_ip/nat-a"]["AllocationId"]
    nat = live["nat_gateway"]["nat_gateway/a"]["NatGatewayId"]
    ec2.create_tags(Resources=[eip], Tags=[{"Key": "Environment", "Value": "tampered"}])
    ec2.create_tags(Resources=[nat], Tags=[{"Key": "Name", "Value": "renamed-by-hand"}])
    return {
        "vpc_id": vpc_id,
        "igw_id": igw_id,
        "nat_id": nat,
        "subnets": subnets,
        "alb": alb,
        "public": public["RouteTableId"],
        "private": private["RouteTableId"],
    }


def _rule(port: int, description: str) -> dict[str, Any]:
    return {
        "protocol": "tcp",
        "from_port": port,
        "to_port": port,
        "cidr": "0.0.0.0/0",
        "description": description,
    }


def test_out_of_band_changes_are_reported_and_corrected(converged: str) -> None:
    endpoint = converged
    ids = _drift_everything(endpoint)
    subnets = ids["subnets"]
    private_subnets = sorted(subnets[f"subnet/{g}-{z}"] for g in ("app", "data") for z in "ab")
    expected: dict[tuple[str, str], tuple[Any, Any]] = {
        ("vpc/main", "enable_dns_hostnames"): (False, True),
        ("subnet/public-a", "map_public_ip_on_launch"): (False, True),
        ("subnet/data-b", "tags.Project"): (None, "stackop-tests"),
        ("internet_gateway/main", "vpc_id"): (None, ids["vpc_id"]),
        ("route_table/public", "routes"): (
            [{"destination": "192.168.0.0/16", "gateway_id": ids["igw_id"]}],
            [{"destination": "0.0.0.0/0", "gateway_id": ids["igw_id"]}],
        ),
        ("route_table/private", "routes"): (
            [{"destination": "0.0.0.0/0", "gateway_id": ids["igw_id"]}],
            [{"destination": "0.0.0.0/0", "nat_gateway_id": ids["nat_id"]}],
        ),
        ("route_table/private", "subnet_ids"): (
            [s for s in private_subnets if s != subnets["subnet/app-b"]],
            private_subnets,
        ),
        ("security_group/alb", "ingress"): (
            [_rule(22, ""), _rule(80, "HTTP")],
            [_rule(443, "HTTPS"), _rule(80, "HTTP")],
        ),
        ("elastic_ip/nat-a", "tags.Environment"): ("tampered", "test"),
        ("nat_gateway/a", "tags.Name"): ("renamed-by-hand", f"{STACK}-nat-a"),
    }

    as_json = plan(endpoint, "--json")
    assert as_json.returncode == 2, as_json.stdout + as_json.stderr
    doc = json.loads(as_json.stdout)
    assert doc["inSync"] is False
    found = {
        (f"{a['kind']}/{a['logicalId']}", c["field"]): (c["old"], c["new"])
        for a in doc["actions"]
        for c in a["changes"]
    }
    changed = {f"{a['kind']}/{a['logicalId']}": a["action"] for a in doc["actions"] if a["changes"]}
    assert set(changed) == {key for key, _ in expected}
    assert set(changed.values()) == {"update"}  # nothing here forces a replacement
    for (key, path), (old, new) in expected.items():
        got_old, got_new = found[(key, path)]
        if isinstance(old, list):  # unordered lists: compare as sets of canonical items
            assert canon(got_old) == canon(old) and canon(got_new) == canon(new), (key, path)
        else:
            assert (got_old, got_new) == (old, new), (key, path)
    assert len(found) == len(expected), sorted(set(found) - set(expected))

    as_text = plan(endpoint)
    assert as_text.returncode == 2, as_text.stdout + as_text.stderr
    blocks = text_blocks(as_text.stdout)
    for key, path in expected:
        old, new = found[(key, path)]
        assert f"{path}: {show(old)} -> {show(new)}" in blocks[key], (key, blocks.get(key))

    result = apply(endpoint)
    assert "pass 1: Plan: 0 to create, 9 to update" in result.stdout, result.stdout
    after = plan(endpoint)
    assert after.returncode == 0, after.stdout
    assert counts(endpoint) == EXPECTED

    ec2 = client("ec2", endpoint)
    (alb,) = ec2.describe_security_groups(GroupIds=[ids["alb"]])["SecurityGroups"]
    assert sorted(p["FromPort"] for p in alb["IpPermissions"]) == [80, 443]
    (igw,) = ec2.describe_internet_gateways(InternetGatewayIds=[ids["igw_id"]])["InternetGateways"]
    assert igw["Attachments"][0]["VpcId"] == ids["vpc_id"]
    (public,) = ec2.describe_route_tables(RouteTableIds=[ids["public"]])["RouteTables"]
    assert {r["DestinationCidrBlock"]: r["GatewayId"] for r in public["Routes"]} == {
        "10.20.0.0/16": "local",
        "0.0.0.0/0": ids["igw_id"],
    }
    (private,) = ec2.describe_route_tables(RouteTableIds=[ids["private"]])["RouteTables"]
    assert sorted(a["SubnetId"] for a in private["Associations"]) == private_subnets
    assert [r.get("NatGatewayId") for r in private["Routes"] if r.get("GatewayId") != "local"] == [
        ids["nat_id"]
    ]


def test_nat_gateway_deleted_out_of_band_is_recreated_and_routed(converged: str) -> None:
    endpoint = converged
    ec2 = client("ec2", endpoint)
    (old,) = inventory(endpoint)["nat_gateway"]
    ec2.delete_nat_gateway(NatGatewayId=old["NatGatewayId"])
    # AWS frees the Elastic IP once the gateway is deleted; moto 5.2.5 keeps it associated
    # (CreateNatGateway then answers Resource.AlreadyAssociated), so free it as AWS would.
    ec2.disassociate_address(AssociationId=old["NatGatewayAddresses"][0]["AssociationId"])
    result = plan(endpoint)
    assert result.returncode == 2
    blocks = text_blocks(result.stdout)
    assert "nat_gateway/a" in blocks and "route_table/private" in blocks
    apply(endpoint)
    assert plan(endpoint).returncode == 0
    (new,) = inventory(endpoint)["nat_gateway"]
    assert new["NatGatewayId"] != old["NatGatewayId"]
    (private,) = [t for t in inventory(endpoint)["route_table"] if logical(t).endswith("/private")]
    assert new["NatGatewayId"] in {r.get("NatGatewayId") for r in private["Routes"]}


# ---------------------------------------------------------------- 3 + 5. lookalikes, teardown


def _make_lookalikes(endpoint: str) -> dict[str, str]:
    """Resources with our names, CIDRs and group names but without our ownership tags,
    plus one fully tagged for another stack."""
    ec2 = client("ec2", endpoint)

    def tags(resource_type: str, name: str, **extra: str) -> list[dict[str, Any]]:
        pairs = {"Name": f"{STACK}-{name}", "Project": "stackop-tests", **extra}
        return [
            {
                "ResourceType": resource_type,
                "Tags": [{"Key": k, "Value": v} for k, v in pairs.items()],
            }
        ]

    vpc = ec2.create_vpc(
        CidrBlock="10.20.0.0/16",
        TagSpecifications=tags("vpc", "main", **{"stackop:stack": STACK}),  # no owner tag
    )["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(
        VpcId=vpc,
        CidrBlock="10.20.1.0/24",
        AvailabilityZone="us-east-1a",
        TagSpecifications=tags("subnet", "public-a", **{"stackop:logical-id": "subnet/public-a"}),
    )["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway(TagSpecifications=tags("internet-gateway", "main"))[
        "InternetGateway"
    ]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    eip = ec2.allocate_address(Domain="vpc", TagSpecifications=tags("elastic-ip", "nat-a"))[
        "AllocationId"
    ]
    nat = ec2.create_nat_gateway(
        SubnetId=subnet, AllocationId=eip, TagSpecifications=tags("natgateway", "nat-a")
    )["NatGateway"]["NatGatewayId"]
    table = ec2.create_route_table(VpcId=vpc, TagSpecifications=tags("route-table", "public"))[
        "RouteTable"
    ]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    group = ec2.create_security_group(
        GroupName=f"{STACK}-alb",
        Description="load balancer: HTTP and HTTPS from anywhere",
        VpcId=vpc,
        TagSpecifications=tags("security-group", "alb"),
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    other_stack = ec2.create_security_group(
        GroupName=f"{STACK}-tasks",
        Description="another stack's group",
        VpcId=vpc,
        TagSpecifications=tags(
            "security-group",
            "tasks",
            **{
                "stackop:stack": "someone-else",
                "stackop:managed-by": "stack-operator",
                "stackop:logical-id": "security_group/tasks",
            },
        ),
    )["GroupId"]
    return {
        "vpc": vpc,
        "subnet": subnet,
        "igw": igw,
        "eip": eip,
        "nat": nat,
        "table": table,
        "group": group,
        "other_stack": other_stack,
    }


def _snapshot(endpoint: str, ids: dict[str, str]) -> dict[str, Any]:
    ec2 = client("ec2", endpoint)
    return {
        "vpc": ec2.describe_vpcs(VpcIds=[ids["vpc"]])["Vpcs"],
        "dns": ec2.describe_vpc_attribute(VpcId=ids["vpc"], Attribute="enableDnsHostnames")[
            "EnableDnsHostnames"
        ],
        "subnet": ec2.describe_subnets(SubnetIds=[ids["subnet"]])["Subnets"],
        "igw": ec2.describe_internet_gateways(InternetGatewayIds=[ids["igw"]])["InternetGateways"],
        "eip": ec2.describe_addresses(AllocationIds=[ids["eip"]])["Addresses"],
        "nat": ec2.describe_nat_gateways(NatGatewayIds=[ids["nat"]])["NatGateways"],
        "table": ec2.describe_route_tables(RouteTableIds=[ids["table"]])["RouteTables"],
        "groups": ec2.describe_security_groups(GroupIds=[ids["group"], ids["other_stack"]])[
            "SecurityGroups"
        ],
    }


def test_teardown_in_reverse_order_leaves_lookalikes_alone(endpoint: str, tmp_path: Path) -> None:
    """Items 3 and 5 of issue 2 in one scenario (each real process costs seconds)."""
    ids = _make_lookalikes(endpoint)
    before = _snapshot(endpoint, ids)

    apply(endpoint)
    assert counts(endpoint) == EXPECTED
    live = {kind: by_logical_id(items) for kind, items in inventory(endpoint).items()}
    assert live["vpc"]["vpc/main"]["VpcId"] != ids["vpc"]
    assert live["nat_gateway"]["nat_gateway/a"]["NatGatewayId"] != ids["nat"]
    assert plan(endpoint).returncode == 0
    assert _snapshot(endpoint, ids) == before

    teardown = variant(tmp_path, "teardown", teardown=True)
    result = apply(endpoint, teardown)
    start: dict[str, int] = {}
    done: dict[str, int] = {}
    for index, line in enumerate(result.stdout.splitlines()):
        match = ACTION_LINE.match(line)
        if match:
            assert match.group(1) == "delete", line
            (start if match.group(3) == "..." else done)[match.group(2)] = index
    assert set(done) == set(start) and len(done) == 16, result.stdout

    def before_(first: str, then: str) -> None:
        assert done[first] < start[then], f"{first} must be gone before {then} is deleted"

    for key in done:  # everything inside the VPC goes first (an Elastic IP is not in it)
        if key not in ("vpc/main", "elastic_ip/nat-a"):
            before_(key, "vpc/main")
    for zone in "ab":
        before_("route_table/public", f"subnet/public-{zone}")
        for group in ("app", "data"):
            before_("route_table/private", f"subnet/{group}-{zone}")
    before_("route_table/public", "internet_gateway/main")
    before_("route_table/private", "nat_gateway/a")
    before_("nat_gateway/a", "elastic_ip/nat-a")
    before_("nat_gateway/a", "subnet/public-a")
    before_("security_group/database", "security_group/tasks")

    # nothing of ours is left; the lookalikes are exactly as they were
    assert counts(endpoint) == dict.fromkeys(EXPECTED, 0)
    ec2 = client("ec2", endpoint)
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.20.0.0/16"]}])["Vpcs"]
    assert [v["VpcId"] for v in vpcs] == [ids["vpc"]]
    assert _snapshot(endpoint, ids) == before
    # converged: applying the teardown again changes nothing
    again = apply(endpoint, teardown)
    assert not any(ACTION_LINE.match(line) for line in again.stdout.splitlines())
    assert "pass 1: Plan: 0 to create, 0 to update, 0 to replace, 0 to delete" in again.stdout


# ---------------------------------------------------------------- 4. killed mid-way


def _apply_killed_after(endpoint: str, lines: int) -> list[str]:
    """Run `stackop apply`, SIGKILL it after its `lines`-th action line; the lines seen."""
    proc = subprocess.Popen(
        [str(BIN / "stackop"), "--endpoint-url", endpoint, "apply", "--no-lease", str(SPEC)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        env=dict(os.environ),
    )
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        for line in proc.stdout:
            if ACTION_LINE.match(line):
                seen.append(line.rstrip())
                if len(seen) >= lines:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
    finally:
        proc.stdout.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
    return seen


@pytest.mark.parametrize("kill_points", [(5,), (1, 10, 20)])
def test_killed_apply_resumes_without_duplicates(
    endpoint: str, kill_points: tuple[int, ...]
) -> None:
    for point in kill_points:
        seen = _apply_killed_after(endpoint, point)
        assert seen, "apply printed no action before it was killed"
    apply(endpoint)
    assert counts(endpoint) == EXPECTED
    for items in inventory(endpoint).values():
        by_logical_id(items)  # one resource per logical id
    # no strays without our logical id either: everything in our VPCs is ours or AWS's
    ec2 = client("ec2", endpoint)
    assert (
        len(ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.20.0.0/16"]}])["Vpcs"]) == 1
    )
    assert plan(endpoint).returncode == 0
