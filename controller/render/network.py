"""spec.network -> VPC, subnets, gateways, route tables and the four security groups."""

from __future__ import annotations

from typing import Any

from controller.engine import DesiredResource, Ref
from controller.render.common import resource_tags
from controller.spec.model import StackSpec

SUBNET_GROUPS = (
    ("public", "publicSubnets"),
    ("app", "privateAppSubnets"),
    ("data", "privateDataSubnets"),
)
ANYWHERE = "0.0.0.0/0"
HTTPS = 443


def az_suffix(az: str, index: int) -> str:
    """`us-east-1a` -> `a`; falls back to the index for unusual zone names."""
    last = az[-1:]
    return last if last.isalpha() else str(index)


def subnet_ids(spec: StackSpec, group: str) -> list[Ref]:
    azs = spec.spec.network.availability_zones
    return [Ref("subnet", f"{group}-{az_suffix(az, i)}") for i, az in enumerate(azs)]


def security_group_id(role: str) -> Ref:
    return Ref("security_group", role)


def _rule(
    protocol: str,
    port: int | None,
    *,
    to_port: int | None = None,
    cidr: str | None = None,
    source: Any = None,
    description: str = "",
) -> dict[str, Any]:
    low = -1 if port is None else port
    rule: dict[str, Any] = {
        "protocol": protocol,
        "from_port": low,
        "to_port": low if to_port is None else to_port,
        "description": description,
    }
    if cidr is not None:
        rule["cidr"] = cidr
    if source is not None:
        rule["source_group"] = source
    return rule


def port_ranges(ports: set[int]) -> list[tuple[int, int]]:
    """Sorted ports folded into runs of consecutive ports, as (first, last).

    A security group holds at most 60 inbound rules; one rule per run instead of one per
    port keeps the tasks group small however many services share a port block.
    """
    runs: list[tuple[int, int]] = []
    for port in sorted(ports):
        if runs and port == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], port)
        else:
            runs.append((port, port))
    return runs


ALL_OUT = [_rule("-1", None, cidr=ANYWHERE, description="all outbound")]


def render_network(spec: StackSpec) -> list[DesiredResource]:
    stack = spec.metadata.name
    net = spec.spec.network
    vpc = Ref("vpc", "main")
    out: list[DesiredResource] = [
        DesiredResource(
            "vpc",
            "main",
            {
                "cidr_block": net.cidr,
                "enable_dns_support": net.enable_dns_support,
                "enable_dns_hostnames": net.enable_dns_hostnames,
                "tags": resource_tags(spec, "main"),
            },
        ),
        DesiredResource(
            "internet_gateway",
            "main",
            {
                "vpc_id": vpc,
                "tags": resource_tags(spec, "main"),
            },
        ),
    ]
    for group, field in SUBNET_GROUPS:
        cidrs: list[str] = getattr(
            net,
            {
                "publicSubnets": "public_subnets",
                "privateAppSubnets": "private_app_subnets",
                "privateDataSubnets": "private_data_subnets",
            }[field],
        )
        for i, (az, cidr) in enumerate(zip(net.availability_zones, cidrs, strict=True)):
            lid = f"{group}-{az_suffix(az, i)}"
            out.append(
                DesiredResource(
                    "subnet",
                    lid,
                    {
                        "vpc_id": vpc,
                        "cidr_block": cidr,
                        "availability_zone": az,
                        "map_public_ip_on_launch": group == "public",
                        "tags": resource_tags(spec, lid),
                    },
                )
            )
    out += _nat_and_routes(spec)
    out += _security_groups(spec, stack)
    return out


def _nat_and_routes(spec: StackSpec) -> list[DesiredResource]:
    net = spec.spec.network
    azs = net.availability_zones
    suffixes = [az_suffix(az, i) for i, az in enumerate(azs)]
    public = subnet_ids(spec, "public")
    out = [
        DesiredResource(
            "route_table",
            "public",
            {
                "vpc_id": Ref("vpc", "main"),
                "routes": [
                    {"destination": ANYWHERE, "gateway_id": Ref("internet_gateway", "main")}
                ],
                "subnet_ids": public,
                "tags": resource_tags(spec, "public"),
            },
        )
    ]
    nat_suffixes = {"single": suffixes[:1], "perAz": suffixes, "none": []}[net.nat_gateways]
    for s, subnet in zip(suffixes, public, strict=True):
        if s not in nat_suffixes:
            continue
        out.append(
            DesiredResource("elastic_ip", f"nat-{s}", {"tags": resource_tags(spec, f"nat-{s}")})
        )
        out.append(
            DesiredResource(
                "nat_gateway",
                s,
                {
                    "subnet_id": subnet,
                    "allocation_id": Ref("elastic_ip", f"nat-{s}", "allocation_id"),
                    "tags": resource_tags(spec, f"nat-{s}"),
                },
            )
        )
    private = [(s, [Ref("subnet", f"app-{s}"), Ref("subnet", f"data-{s}")]) for s in suffixes]
    if net.nat_gateways == "perAz":
        for s, subnets in private:
            out.append(_private_table(spec, f"private-{s}", subnets, Ref("nat_gateway", s)))
    else:
        nat = Ref("nat_gateway", nat_suffixes[0]) if nat_suffixes else None
        out.append(_private_table(spec, "private", [r for _, rs in private for r in rs], nat))
    return out


def _private_table(
    spec: StackSpec, lid: str, subnets: list[Ref], nat: Ref | None
) -> DesiredResource:
    routes = [{"destination": ANYWHERE, "nat_gateway_id": nat}] if nat is not None else []
    return DesiredResource(
        "route_table",
        lid,
        {
            "vpc_id": Ref("vpc", "main"),
            "routes": routes,
            "subnet_ids": subnets,
            "tags": resource_tags(spec, lid),
        },
    )


def _security_groups(spec: StackSpec, stack: str) -> list[DesiredResource]:
    vpc = Ref("vpc", "main")
    runs = port_ranges({svc.port for svc in spec.spec.services})
    groups: dict[str, tuple[str, list[dict[str, Any]]]] = {
        "alb": (
            "load balancer: HTTP and HTTPS from anywhere",
            [
                _rule("tcp", 80, cidr=ANYWHERE, description="HTTP"),
                _rule("tcp", HTTPS, cidr=ANYWHERE, description="HTTPS"),
            ],
        ),
        "tasks": (
            "Fargate tasks: service ports from the load balancer and each other",
            [
                r
                for first, last in runs
                for r in (
                    _rule(
                        "tcp",
                        first,
                        to_port=last,
                        source=security_group_id("alb"),
                        description="from ALB",
                    ),
                    _rule(
                        "tcp", first, to_port=last, source="self", description="service to service"
                    ),
                )
            ],
        ),
        "database": (
            "PostgreSQL from the Fargate tasks",
            [
                _rule(
                    "tcp",
                    spec.spec.database.port,
                    source=security_group_id("tasks"),
                    description="from tasks",
                ),
            ],
        ),
        "endpoints": (
            "VPC interface endpoints: HTTPS from inside the VPC",
            [
                _rule("tcp", HTTPS, cidr=spec.spec.network.cidr, description="from VPC"),
            ],
        ),
    }
    return [
        DesiredResource(
            "security_group",
            role,
            {
                "vpc_id": vpc,
                "group_name": f"{stack}-{role}",
                "description": description,
                "ingress": ingress,
                "egress": ALL_OUT,
                "tags": resource_tags(spec, role),
            },
        )
        for role, (description, ingress) in groups.items()
    ]
