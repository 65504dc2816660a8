"""Read `terraform show -json` output: which live resource each Terraform resource is,
and match it to a desired resource of the spec by kind and name (or identity)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.adopt.lookup import NAME_PARAMS, Found
from controller.adopt.model import Adoption
from controller.engine import Action, KindContext, Ref


@dataclass(frozen=True)
class TfType:
    kind: str
    target: str
    """Attribute the tag call needs (id, arn, name)."""
    name: str = ""
    """Attribute compared with the desired name param."""
    extra: Mapping[str, str] | None = None
    """Attributes kept for the visibility rules, renamed as the AWS API spells them."""


TF_TYPES: dict[str, TfType] = {
    "aws_vpc": TfType("vpc", "id"),
    "aws_subnet": TfType("subnet", "id"),
    "aws_internet_gateway": TfType("internet_gateway", "id"),
    "aws_eip": TfType("elastic_ip", "allocation_id"),
    "aws_nat_gateway": TfType("nat_gateway", "id"),
    "aws_route_table": TfType("route_table", "id"),
    "aws_security_group": TfType("security_group", "id", "name"),
    "aws_ecs_cluster": TfType("ecs_cluster", "arn", "name", {"clusterName": "name"}),
    "aws_ecs_service": TfType("ecs_service", "id", "name", {"clusterArn": "cluster"}),
    "aws_ecs_task_definition": TfType("task_definition", "arn", "family"),
    "aws_service_discovery_private_dns_namespace": TfType(
        "service_discovery_namespace", "arn", "name"
    ),
    "aws_service_discovery_service": TfType("service_discovery_service", "arn", "name"),
    "aws_ecr_repository": TfType("ecr_repository", "arn", "name"),
    "aws_cloudwatch_log_group": TfType("log_group", "arn", "name"),
    "aws_iam_role": TfType("iam_role", "name", "name", {"Path": "path"}),
    "aws_appautoscaling_target": TfType("scaling_target", "resource_id"),
    "aws_appautoscaling_policy": TfType("scaling_policy", "arn", "name"),
    "aws_cloudwatch_metric_alarm": TfType("metric_alarm", "arn", "alarm_name"),
    "aws_db_subnet_group": TfType("db_subnet_group", "arn", "name"),
    "aws_db_instance": TfType(
        "db_instance", "arn", "identifier", {"DBInstanceIdentifier": "identifier"}
    ),
    "aws_lb": TfType("load_balancer", "arn", "name", {"LoadBalancerName": "name"}),
    "aws_lb_target_group": TfType("target_group", "arn", "name", {"TargetGroupName": "name"}),
    "aws_lb_listener": TfType("listener", "arn"),
    "aws_lb_listener_rule": TfType("listener_rule", "arn"),
    "aws_s3_bucket": TfType("frontend_bucket", "bucket", "bucket"),
    "aws_s3_bucket_policy": TfType("bucket_policy", "bucket"),
    "aws_cloudfront_origin_access_control": TfType("origin_access_control", "id", "name"),
    "aws_cloudfront_distribution": TfType("distribution", "arn"),
}
"""Terraform resource types that are one of our kinds."""

FOLDED: dict[str, tuple[str, str]] = {
    "aws_route": ("route_table", "route_table_id"),
    "aws_route_table_association": ("route_table", "route_table_id"),
    "aws_iam_role_policy": ("iam_role", "role"),
    "aws_ecs_cluster_capacity_providers": ("ecs_cluster", "cluster_name"),
    "aws_s3_bucket_public_access_block": ("frontend_bucket", "bucket"),
}
"""Terraform resources that are a field of one of our kinds: (kind, the attribute naming
the parent). They go with their parent: adopted with it, or left with it."""


@dataclass(frozen=True)
class TfResource:
    address: str
    type: str
    values: Mapping[str, Any]


def resources(state: Mapping[str, Any]) -> Iterator[TfResource]:
    """Every managed resource of a `terraform show -json` document, modules included."""

    def walk(module: Mapping[str, Any]) -> Iterator[TfResource]:
        for r in module.get("resources", []):
            if r.get("mode") == "managed":
                yield TfResource(r["address"], r["type"], r.get("values") or {})
        for child in module.get("child_modules", []):
            yield from walk(child)

    yield from walk(state.get("values", {}).get("root_module", {}))


@dataclass
class Candidate:
    resource: TfResource
    found: Found
    taken: bool = False


Identity = Callable[["TerraformState", Action, Mapping[str, Any], Candidate], bool]


def _route_targets(state: TerraformState, table_id: str) -> set[str]:
    kinds: set[str] = set()
    for r in state.all:
        routes: Sequence[Mapping[str, Any]] = []
        if r.type == "aws_route" and r.values.get("route_table_id") == table_id:
            routes = [r.values]
        elif r.type == "aws_route_table" and r.values.get("id") == table_id:
            routes = r.values.get("route") or []
        for route in routes:
            if route.get("gateway_id"):
                kinds.add("internet_gateway")
            if route.get("nat_gateway_id"):
                kinds.add("nat_gateway")
    return kinds


def _desired_route_targets(params: Mapping[str, Any], action: Action) -> set[str]:
    assert action.desired is not None
    return {
        ref.kind for ref in action.desired.refs() if ref.kind in ("internet_gateway", "nat_gateway")
    }


def _same(attr: str, param: str) -> Identity:
    def same(s: TerraformState, a: Action, p: Mapping[str, Any], c: Candidate) -> bool:
        return p.get(param) is not None and c.resource.values.get(attr) == p.get(param)

    return same


def _refers(param: str, attr: Callable[[Mapping[str, Any]], Any]) -> Identity:
    """Matches when the desired Ref `param` points at the resource whose id `attr` names."""

    def refers(s: TerraformState, a: Action, p: Mapping[str, Any], c: Candidate) -> bool:
        assert a.desired is not None
        ref = a.desired.params.get(param)
        if not isinstance(ref, Ref):
            return False
        adopted = s.adopted.get(ref.key)
        return adopted is not None and attr(c.resource.values) in (adopted.target, adopted.name)

    return refers


def _rule_target(values: Mapping[str, Any]) -> Any:
    for action in values.get("action") or []:
        if action.get("target_group_arn"):
            return action["target_group_arn"]
    return None


def _route_table(s: TerraformState, a: Action, p: Mapping[str, Any], c: Candidate) -> bool:
    return _route_targets(s, str(c.resource.values.get("id"))) == _desired_route_targets(p, a)


def _scaling_target(s: TerraformState, a: Action, p: Mapping[str, Any], c: Candidate) -> bool:
    return str(c.resource.values.get("resource_id", "")).rsplit("/", 1)[-1] == a.logical_id


IDENTITIES: dict[str, Identity] = {
    "vpc": _same("cidr_block", "cidr_block"),
    "subnet": _same("cidr_block", "cidr_block"),
    "route_table": _route_table,
    "listener": _same("port", "port"),
    "listener_rule": _refers("target_group_arn", _rule_target),
    "scaling_target": _scaling_target,
    "bucket_policy": _refers("bucket", lambda v: v.get("bucket")),
    "nat_gateway": _refers("subnet_id", lambda v: v.get("subnet_id")),
}
"""How an unnamed desired resource is recognised among Terraform's of its kind."""


class TerraformState:
    """The resources of one Terraform state, as adoption candidates."""

    def __init__(self, state: Mapping[str, Any]) -> None:
        self.all = list(resources(state))
        self.candidates: dict[str, list[Candidate]] = {}
        self.adopted: dict[str, Found] = {}
        for r in self.all:
            tf = TF_TYPES.get(r.type)
            if tf is None:
                continue
            found = Found(
                tf.kind,
                str(r.values.get(tf.name) or r.values.get("id") or r.address),
                str(r.values.get(tf.target) or r.values.get("id")),
                "",
                dict(r.values.get("tags_all") or r.values.get("tags") or {}),
                {api: r.values.get(attr) for api, attr in (tf.extra or {}).items()},
            )
            self.candidates.setdefault(tf.kind, []).append(Candidate(r, found))

    @classmethod
    def read(cls, path: str) -> TerraformState:
        try:
            doc = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a `terraform show -json` document ({exc})") from exc
        if not isinstance(doc, dict) or "values" not in doc:
            raise ValueError(f"{path}: not a `terraform show -json` document (no 'values')")
        return cls(doc)

    def __len__(self) -> int:
        return len(self.all)

    async def find(
        self, ctx: KindContext, action: Action, params: Mapping[str, Any]
    ) -> tuple[Found, str] | None:
        free = [c for c in self.candidates.get(action.kind, []) if not c.taken]
        hit = self._pick(action, params, free)
        if hit is None:
            return None
        hit.taken = True
        self.adopted[action.key] = hit.found
        return hit.found, hit.resource.address

    def _pick(
        self, action: Action, params: Mapping[str, Any], free: list[Candidate]
    ) -> Candidate | None:
        name = params.get(NAME_PARAMS.get(action.kind, ""))
        if isinstance(name, str):
            return next((c for c in free if c.found.name == name), None)
        identity = IDENTITIES.get(action.kind)
        if identity is not None:
            matches = [c for c in free if identity(self, action, params, c)]
            return matches[0] if len(matches) == 1 else None
        if len(free) == 1 and len(self.candidates.get(action.kind, [])) == 1:
            return free[0]  # the only one of its kind on both sides (internet gateway, EIP)
        return None

    def untouched(self, adopted: set[str]) -> list[str]:
        taken = {id(c.resource) for cs in self.candidates.values() for c in cs if c.taken}
        return [
            r.address
            for r in self.all
            if id(r) not in taken
            and (r.type not in FOLDED or str(r.values.get(FOLDED[r.type][1])) not in adopted)
        ]

    def errors(self) -> list[str]:
        return []

    def state_rm(self, adopted: Sequence[Adoption]) -> list[str]:
        """Addresses Terraform must forget once adopted (`terraform state rm`), so that
        Terraform and the operator never both manage a resource: the adopted ones and the
        parts (routes, associations ...) of adopted parents."""
        mine = [a for a in adopted if not a.held and a.source in self.addresses]
        parents = {(a.kind, v) for a in mine for v in (a.found.target, a.found.name)}
        parts = [
            r.address
            for r in self.all
            if r.type in FOLDED
            and (FOLDED[r.type][0], str(r.values.get(FOLDED[r.type][1]))) in parents
        ]
        return sorted({a.source for a in mine} | set(parts))

    @property
    def addresses(self) -> set[str]:
        return {r.address for r in self.all}
