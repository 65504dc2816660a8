"""What the resilience tests check after every ordeal, read with an independent boto3 client.

- `inventory`: every live resource of the types the portal uses, whoever made it, with its
  tags. Compared with a baseline taken before the operator started, the new ones are the
  operator's: each must carry our three ownership tags (an untagged one is a create that
  lost its tags) and their number per type must be exactly what the spec renders (one more
  is a duplicate).
- `Lookalikes`: resources that look like ours (our name pattern, the same CIDR, some of our
  tags but not all) and another stack's fully tagged resources, made before a test and
  compared byte for byte after it.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from controller.render import render
from controller.spec import load_spec
from tests.aws import client

OWNER = ("stackop:managed-by", "stack-operator")
STACK_TAG = "stackop:stack"
LOGICAL_TAG = "stackop:logical-id"
OTHER_STACK = "someone-elses-stack"

# kind -> inventory type (the kinds whose resources are counted; see `inventory`)
COUNTED = (
    "vpc",
    "subnet",
    "internet_gateway",
    "nat_gateway",
    "elastic_ip",
    "route_table",
    "security_group",
    "load_balancer",
    "target_group",
    "listener",
    "listener_rule",
    "db_subnet_group",
    "db_instance",
    "distribution",
    "frontend_bucket",
    "ecs_cluster",
    "ecs_service",
    "task_definition",
    "iam_role",
    "log_group",
    "ecr_repository",
    "service_discovery_namespace",
    "service_discovery_service",
    "scaling_target",
    "scaling_policy",
)
UNTAGGABLE = frozenset({"scaling_target", "scaling_policy"})
"""moto keeps no tags on scalable targets (and policies take none): ownership is the ECS
service they scale, which must be one of ours. The kind sends Tags at registration for
AWS (tests/kinds/test_scaling_target.py checks the request)."""


@dataclass(frozen=True)
class Item:
    type: str
    id: str
    tags: dict[str, str] = field(compare=False, hash=False)


def _tags(pairs: Any, key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {t[key]: t[value] for t in pairs or []}


def expected_counts(spec_text: str) -> dict[str, int]:
    """Resources per counted kind that the spec renders."""
    rendered = Counter(d.kind for d in render(load_spec("spec.yaml", spec_text.encode()).spec))
    return {kind: rendered.get(kind, 0) for kind in COUNTED}


def _ec2(endpoint: str) -> list[Item]:
    ec2 = client("ec2", endpoint)
    out = [Item("vpc", v["VpcId"], _tags(v.get("Tags"))) for v in ec2.describe_vpcs()["Vpcs"]]
    out += [
        Item("subnet", s["SubnetId"], _tags(s.get("Tags")))
        for s in ec2.describe_subnets()["Subnets"]
    ]
    out += [
        Item("internet_gateway", g["InternetGatewayId"], _tags(g.get("Tags")))
        for g in ec2.describe_internet_gateways()["InternetGateways"]
    ]
    out += [
        Item("nat_gateway", n["NatGatewayId"], _tags(n.get("Tags")))
        for n in ec2.describe_nat_gateways()["NatGateways"]
        if n["State"] not in ("deleted", "deleting", "failed")
    ]
    out += [
        Item("elastic_ip", a["AllocationId"], _tags(a.get("Tags")))
        for a in ec2.describe_addresses()["Addresses"]
    ]
    out += [  # a VPC's main route table and default group come with the VPC, made by AWS
        Item("route_table", t["RouteTableId"], _tags(t.get("Tags")))
        for t in ec2.describe_route_tables()["RouteTables"]
        if not any(a.get("Main") for a in t.get("Associations", []))
    ]
    out += [
        Item("security_group", g["GroupId"], _tags(g.get("Tags")))
        for g in ec2.describe_security_groups()["SecurityGroups"]
        if g["GroupName"] != "default"
    ]
    return out


def _elbv2(endpoint: str) -> list[Item]:
    elb = client("elbv2", endpoint)
    arns: list[tuple[str, str]] = []
    lbs = elb.describe_load_balancers()["LoadBalancers"]
    arns += [("load_balancer", lb["LoadBalancerArn"]) for lb in lbs]
    arns += [
        ("target_group", t["TargetGroupArn"]) for t in elb.describe_target_groups()["TargetGroups"]
    ]
    for lb in lbs:
        for listener in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]:
            arns.append(("listener", listener["ListenerArn"]))
            rules = elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
            arns += [("listener_rule", r["RuleArn"]) for r in rules if not r.get("IsDefault")]
    tags: dict[str, dict[str, str]] = {}
    for i in range(0, len(arns), 20):
        batch = [arn for _, arn in arns[i : i + 20]]
        for d in elb.describe_tags(ResourceArns=batch)["TagDescriptions"]:
            tags[d["ResourceArn"]] = _tags(d.get("Tags"))
    return [Item(kind, arn, tags.get(arn, {})) for kind, arn in arns]


def _rds(endpoint: str) -> list[Item]:
    rds = client("rds", endpoint)
    out = [
        Item("db_instance", d["DBInstanceIdentifier"], _tags(d.get("TagList")))
        for d in rds.describe_db_instances()["DBInstances"]
        if d.get("DBInstanceStatus") != "deleting"
    ]
    for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]:
        tags = rds.list_tags_for_resource(ResourceName=g["DBSubnetGroupArn"])["TagList"]
        out.append(Item("db_subnet_group", g["DBSubnetGroupName"], _tags(tags)))
    return out


def _edge(endpoint: str) -> list[Item]:
    cf, s3 = client("cloudfront", endpoint), client("s3", endpoint)
    out = []
    for d in cf.list_distributions()["DistributionList"].get("Items", []):
        tags = cf.list_tags_for_resource(Resource=d["ARN"])["Tags"].get("Items", [])
        out.append(Item("distribution", d["Id"], _tags(tags)))
    for b in s3.list_buckets()["Buckets"]:
        try:
            tags = s3.get_bucket_tagging(Bucket=b["Name"])["TagSet"]
        except s3.exceptions.ClientError:
            tags = []
        out.append(Item("frontend_bucket", b["Name"], _tags(tags)))
    return out


def _ecs(endpoint: str) -> list[Item]:
    ecs = client("ecs", endpoint)
    out = []
    cluster_arns = ecs.list_clusters()["clusterArns"]
    clusters = ecs.describe_clusters(clusters=cluster_arns, include=["TAGS"])["clusters"]
    for c in clusters:
        out.append(Item("ecs_cluster", c["clusterArn"], _tags(c.get("tags"), "key", "value")))
        arns = ecs.list_services(cluster=c["clusterArn"], maxResults=100)["serviceArns"]
        for i in range(0, len(arns), 10):
            described = ecs.describe_services(
                cluster=c["clusterArn"], services=arns[i : i + 10], include=["TAGS"]
            )["services"]
            out += [
                Item("ecs_service", s["serviceArn"], _tags(s.get("tags"), "key", "value"))
                for s in described
                if s["status"] == "ACTIVE"
            ]
    for family in ecs.list_task_definition_families(status="ACTIVE")["families"]:
        revisions = ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")
        for arn in revisions["taskDefinitionArns"]:
            if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] != family:
                continue  # familyPrefix is a prefix
            tags = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"]).get("tags")
            out.append(Item("task_definition", arn, _tags(tags, "key", "value")))
    return out


def _compute(endpoint: str) -> list[Item]:
    iam, logs, ecr = client("iam", endpoint), client("logs", endpoint), client("ecr", endpoint)
    out = []
    for role in iam.list_roles()["Roles"]:
        tags = iam.list_role_tags(RoleName=role["RoleName"])["Tags"]
        out.append(Item("iam_role", role["RoleName"], _tags(tags)))
    for g in logs.describe_log_groups()["logGroups"]:
        tags = logs.list_tags_for_resource(resourceArn=g["arn"].removesuffix(":*"))["tags"]
        out.append(Item("log_group", g["logGroupName"], dict(tags)))
    for r in ecr.describe_repositories()["repositories"]:
        tags = ecr.list_tags_for_resource(resourceArn=r["repositoryArn"])["tags"]
        out.append(Item("ecr_repository", r["repositoryName"], _tags(tags)))
    sd = client("servicediscovery", endpoint)
    for n in sd.list_namespaces()["Namespaces"]:
        tags = sd.list_tags_for_resource(ResourceARN=n["Arn"])["Tags"]
        out.append(Item("service_discovery_namespace", n["Id"], _tags(tags)))
    for s in sd.list_services()["Services"]:
        tags = sd.list_tags_for_resource(ResourceARN=s["Arn"])["Tags"]
        out.append(Item("service_discovery_service", s["Id"], _tags(tags)))
    return out


def _scaling(endpoint: str, services: dict[str, dict[str, str]]) -> list[Item]:
    """Targets and policies carry the tags of the ECS service they scale (see UNTAGGABLE)."""
    aas = client("application-autoscaling", endpoint)
    out = []
    for t in aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]:
        out.append(Item("scaling_target", t["ResourceId"], services.get(t["ResourceId"], {})))
    for p in aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]:
        out.append(Item("scaling_policy", p["PolicyARN"], services.get(p["ResourceId"], {})))
    return out


def inventory(endpoint: str) -> list[Item]:
    items = _ec2(endpoint) + _elbv2(endpoint) + _rds(endpoint) + _edge(endpoint)
    items += _ecs(endpoint) + _compute(endpoint)
    by_resource_id = {}  # "service/<cluster name>/<service name>" -> the service's tags
    for i in items:
        if i.type == "ecs_service":
            _, _, rest = i.id.partition(":service/")
            by_resource_id[f"service/{rest}"] = i.tags
    return items + _scaling(endpoint, by_resource_id)


def is_ours(item: Item, stack: str) -> bool:
    tags = item.tags
    return (
        tags.get(OWNER[0]) == OWNER[1]
        and tags.get(STACK_TAG) == stack
        and (item.type in UNTAGGABLE or tags.get(LOGICAL_TAG, "").startswith(f"{item.type}/"))
    )


def check_new_resources(
    baseline: list[Item], now: list[Item], stack: str, expected: dict[str, int]
) -> dict[str, int]:
    """Assert the resources made since `baseline` are exactly the stack's, all tagged, one
    per logical id; returns the counts per type."""
    before = {(i.type, i.id) for i in baseline}
    new = [i for i in now if (i.type, i.id) not in before]
    untagged = [(i.type, i.id, i.tags) for i in new if not is_ours(i, stack)]
    assert not untagged, f"resources made without our ownership tags: {untagged}"
    counts = Counter(i.type for i in new)
    got = {kind: counts.get(kind, 0) for kind in COUNTED}
    extra = {k: v for k, v in counts.items() if k not in COUNTED}
    assert got == expected and not extra, _count_diff(got, expected)
    keys = Counter((i.type, i.tags.get(LOGICAL_TAG, i.id)) for i in new if i.type not in UNTAGGABLE)
    duplicated = [k for k, n in keys.items() if n > 1]
    assert not duplicated, f"two resources for one logical id: {duplicated}"
    return got


def _count_diff(got: dict[str, int], expected: dict[str, int]) -> str:
    diff = {
        k: (got.get(k, 0), expected.get(k, 0)) for k in COUNTED if got.get(k) != expected.get(k)
    }
    return f"resource counts differ (got, expected): {diff}"


def ids_by_type(items: list[Item]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for i in items:
        out.setdefault(i.type, set()).add(i.id)
    return out


# ---------------------------------------------------------------- look-alikes


class Lookalikes:
    """Resources with our naming pattern but not our tags, and another stack's resources.

    `stack` is the name of the stack under test, so names start like its resources' do.
    """

    def __init__(self, endpoint: str, stack: str) -> None:
        self.endpoint = endpoint
        self.stack = stack
        self.ids: dict[str, str] = {}
        self.before: str = ""

    def _tags(self, name: str, **extra: str) -> list[dict[str, str]]:
        pairs = {"Name": f"{self.stack}-{name}", "Project": "lookalike", **extra}
        return [{"Key": k, "Value": v} for k, v in pairs.items()]

    def other(self, logical_id: str) -> dict[str, str]:
        """Complete ownership tags of another stack, with one of our logical ids."""
        return {
            OWNER[0]: OWNER[1],
            STACK_TAG: OTHER_STACK,
            LOGICAL_TAG: logical_id,
        }

    def create(self) -> Lookalikes:
        e, s = self.endpoint, self.stack
        ec2 = client("ec2", e)

        def spec(resource_type: str, name: str, **extra: str) -> list[dict[str, Any]]:
            return [{"ResourceType": resource_type, "Tags": self._tags(name, **extra)}]

        # the portal's own CIDR; our stack tag but no managed-by tag
        vpc = ec2.create_vpc(
            CidrBlock="10.0.0.0/16", TagSpecifications=spec("vpc", "main", **{STACK_TAG: s})
        )["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(
                VpcId=vpc,
                CidrBlock=f"10.0.{1 + i}.0/24",
                AvailabilityZone=f"us-east-1{zone}",
                TagSpecifications=spec(
                    "subnet", f"public-{zone}", **{LOGICAL_TAG: f"subnet/public-{zone}"}
                ),
            )["Subnet"]["SubnetId"]
            for i, zone in enumerate("ab")
        ]
        eip = ec2.allocate_address(Domain="vpc", TagSpecifications=spec("elastic-ip", "nat-a"))
        group = ec2.create_security_group(
            GroupName=f"{s}-legacy",
            Description="looks like ours",
            VpcId=vpc,
            TagSpecifications=spec("security-group", "alb"),
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
        other_group = ec2.create_security_group(
            GroupName=f"{s}-tasks-other",
            Description="another stack's group",
            VpcId=vpc,
            TagSpecifications=[
                {
                    "ResourceType": "security-group",
                    "Tags": [
                        {"Key": k, "Value": v}
                        for k, v in self.other("security_group/tasks").items()
                    ],
                }
            ],
        )["GroupId"]
        elb = client("elbv2", e)
        lb = elb.create_load_balancer(Name=f"{s[:25]}-000000", Subnets=subnets)
        tg = elb.create_target_group(
            Name=f"{s[:25]}-111111", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip"
        )
        iam = client("iam", e)
        trust = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        )
        iam.create_role(RoleName=f"{s}-legacy-execution", AssumeRolePolicyDocument=trust)
        iam.create_role(
            RoleName=f"{OTHER_STACK}-gateway-execution",
            AssumeRolePolicyDocument=trust,
            Tags=[
                {"Key": k, "Value": v} for k, v in self.other("iam_role/gateway-execution").items()
            ],
        )
        logs = client("logs", e)
        logs.create_log_group(logGroupName=f"/ecs/{s}/legacy")
        logs.put_retention_policy(logGroupName=f"/ecs/{s}/legacy", retentionInDays=7)
        logs.create_log_group(
            logGroupName=f"/ecs/{OTHER_STACK}/gateway", tags=self.other("log_group/gateway")
        )
        client("ecr", e).create_repository(repositoryName=f"{s}/legacy")
        ecs = client("ecs", e)
        ecs.create_cluster(
            clusterName=OTHER_STACK,
            tags=[{"key": k, "value": v} for k, v in self.other("ecs_cluster/main").items()],
        )
        family = f"{s}-legacy"
        ecs.register_task_definition(
            family=family,
            containerDefinitions=[{"name": "app", "image": "nginx", "memory": 128}],
        )
        ecs.create_service(
            cluster=OTHER_STACK,
            serviceName="gateway",
            taskDefinition=family,
            desiredCount=1,
            tags=[{"key": k, "value": v} for k, v in self.other("ecs_service/gateway").items()],
        )
        rds = client("rds", e)
        rds.create_db_instance(  # shares our identifier prefix: found by it, not ours by tags
            DBInstanceIdentifier=f"{s}-db-legacy"[:63],
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            MasterUsername="legacy",
            MasterUserPassword="legacy-password-1",
            AllocatedStorage=20,
            Tags=[{"Key": STACK_TAG, "Value": s}],
        )
        client("servicediscovery", e).create_http_namespace(Name=f"{s}-legacy")
        client("s3", e).create_bucket(Bucket=f"{s}-frontend-legacy"[:63])
        self.ids = {
            "vpc": vpc,
            "subnets": ",".join(subnets),
            "eip": eip["AllocationId"],
            "group": group,
            "other_group": other_group,
            "lb": lb["LoadBalancers"][0]["LoadBalancerArn"],
            "tg": tg["TargetGroups"][0]["TargetGroupArn"],
            "family": family,
        }
        self.before = self.snapshot()
        return self

    def snapshot(self) -> str:
        """Everything about the look-alikes as JSON (tags, rules, settings)."""
        e, s, ids = self.endpoint, self.stack, self.ids
        ec2, elb = client("ec2", e), client("elbv2", e)
        iam, logs, ecs = client("iam", e), client("logs", e), client("ecs", e)
        rds, sd = client("rds", e), client("servicediscovery", e)
        doc = {
            "vpc": ec2.describe_vpcs(VpcIds=[ids["vpc"]])["Vpcs"],
            "subnets": ec2.describe_subnets(SubnetIds=ids["subnets"].split(","))["Subnets"],
            "eip": ec2.describe_addresses(AllocationIds=[ids["eip"]])["Addresses"],
            "groups": ec2.describe_security_groups(GroupIds=[ids["group"], ids["other_group"]])[
                "SecurityGroups"
            ],
            "lb": elb.describe_load_balancers(LoadBalancerArns=[ids["lb"]])["LoadBalancers"],
            "lb_tags": elb.describe_tags(ResourceArns=[ids["lb"], ids["tg"]])["TagDescriptions"],
            "tg": elb.describe_target_groups(TargetGroupArns=[ids["tg"]])["TargetGroups"],
            "roles": [
                (iam.get_role(RoleName=n)["Role"], iam.list_role_tags(RoleName=n)["Tags"])
                for n in (f"{s}-legacy-execution", f"{OTHER_STACK}-gateway-execution")
            ],
            "logs": [
                g
                for g in logs.describe_log_groups()["logGroups"]
                if g["logGroupName"] in (f"/ecs/{s}/legacy", f"/ecs/{OTHER_STACK}/gateway")
            ],
            "repo": client("ecr", e).describe_repositories(repositoryNames=[f"{s}/legacy"])[
                "repositories"
            ],
            "cluster": ecs.describe_clusters(clusters=[OTHER_STACK], include=["TAGS"])["clusters"],
            "service": ecs.describe_services(
                cluster=OTHER_STACK, services=["gateway"], include=["TAGS"]
            )["services"],
            "family": ecs.describe_task_definition(taskDefinition=ids["family"])["taskDefinition"],
            "db": rds.describe_db_instances(DBInstanceIdentifier=f"{s}-db-legacy"[:63])[
                "DBInstances"
            ],
            "namespace": [
                n for n in sd.list_namespaces()["Namespaces"] if n["Name"] == f"{s}-legacy"
            ],
            "bucket": client("s3", e).head_bucket(Bucket=f"{s}-frontend-legacy"[:63])[
                "ResponseMetadata"
            ]["HTTPStatusCode"],
        }
        for service in doc["service"]:  # moto's ECS simulation moves these by itself
            for volatile in ("events", "deployments", "runningCount", "pendingCount"):
                service.pop(volatile, None)
        for db in doc["db"]:
            db.pop("LatestRestorableTime", None)  # moto answers "now"
        for cluster in doc["cluster"]:
            for volatile in ("runningTasksCount", "pendingTasksCount", "activeServicesCount"):
                cluster.pop(volatile, None)
        return json.dumps(doc, default=str, sort_keys=True)

    def assert_untouched(self) -> None:
        after = self.snapshot()
        if after != self.before:
            a, b = json.loads(self.before), json.loads(after)
            changed = sorted(k for k in a if a[k] != b.get(k))
            raise AssertionError(f"look-alike resources changed: {changed}\nbefore {a}\nafter {b}")
