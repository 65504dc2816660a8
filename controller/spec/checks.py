"""Cross-field rules pydantic cannot express per field. Each returns issues with paths."""

from __future__ import annotations

import difflib
import ipaddress
import itertools
import re
from collections.abc import Callable, Iterator

from controller.spec.engine_versions import version_problem
from controller.spec.errors import clip
from controller.spec.injected import DATABASE_VARIABLES
from controller.spec.model import Autoscaling, HealthCheck, StackSpec
from controller.spec.naming import readable_names
from controller.spec.yamlsafe import Path

Finding = tuple[Path, str]

# Fargate task sizes AWS accepts: cpu units -> allowed memory (MiB).
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}


_CIDR = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}/\d{1,2}$")


def parse_cidr(cidr: str) -> ipaddress.IPv4Network | str:
    """The network, or a message saying what is wrong and what is allowed."""
    if not _CIDR.match(cidr):
        return f"{clip(repr(cidr))} is not an IPv4 CIDR block; write a.b.c.d/n, e.g. 10.0.1.0/24"
    try:
        return ipaddress.IPv4Network(cidr)
    except ValueError:
        pass
    try:
        net = ipaddress.IPv4Network(cidr, strict=False)
    except ValueError:
        return f"{cidr!r} is not a valid IPv4 CIDR block; octets are 0-255, prefixes 0-32"
    return f"{cidr} has host bits set; the block starting there is {net}"


def _network(s: StackSpec) -> Iterator[Finding]:
    net = s.spec.network
    base = ("spec", "network")
    vpc = parse_cidr(net.cidr)
    if isinstance(vpc, str):
        yield (*base, "cidr"), vpc
        return
    if not 16 <= vpc.prefixlen <= 28:
        yield (*base, "cidr"), f"a VPC block must be /16 to /28 (got /{vpc.prefixlen})"
    azs = net.availability_zones
    for i, az in enumerate(azs):
        if az in azs[:i]:
            yield (*base, "availabilityZones", i), f"{az} is listed twice; zones must be distinct"
    seen: list[tuple[ipaddress.IPv4Network, Path]] = []
    for group in ("publicSubnets", "privateAppSubnets", "privateDataSubnets"):
        cidrs: list[str] = getattr(net, _snake(group))
        if len(cidrs) != len(azs):
            yield (
                (*base, group),
                f"{len(cidrs)} subnets for {len(azs)} availability zones; give one per zone",
            )
        for i, cidr in enumerate(cidrs):
            path: Path = (*base, group, i)
            sub = parse_cidr(cidr)
            if isinstance(sub, str):
                yield path, sub
                continue
            if not sub.subnet_of(vpc):
                yield path, f"subnet {cidr} is outside the VPC {net.cidr}; pick a block inside it"
                continue
            if not 16 <= sub.prefixlen <= 28:
                yield path, f"a subnet block must be /16 to /28 (got /{sub.prefixlen})"
            for other, other_path in seen:
                if sub.overlaps(other):
                    yield (
                        path,
                        f"subnet {cidr} overlaps {other} at {_fmt(other_path)}; pick a free block",
                    )
            seen.append((sub, path))


def _services(s: StackSpec) -> Iterator[Finding]:
    body = s.spec
    names: dict[str, int] = {}
    ports: dict[int, int] = {}
    paths: dict[str, int] = {}
    priorities: dict[int, int] = {}
    for i, svc in enumerate(body.services):
        base: Path = ("spec", "services", i)
        if svc.name in names:
            yield (
                (*base, "name"),
                f"duplicate service name {svc.name!r} (see services[{names[svc.name]}]); "
                "service names must be unique",
            )
        names.setdefault(svc.name, i)
        if svc.port in ports:
            yield (
                (*base, "port"),
                f"port {svc.port} is already used by services[{ports[svc.port]}]; "
                "give each service its own port",
            )
        ports.setdefault(svc.port, i)
        if body.database.enabled and svc.port == body.database.port:
            yield (*base, "port"), f"port {svc.port} is the database port; pick another"
        if svc.uses_database and not body.database.enabled and body.cluster.enabled:
            yield (
                (*base, "usesDatabase"),
                "the database is disabled (spec.database.enabled: false); "
                "enable it or remove usesDatabase",
            )
        allowed = FARGATE_SIZES.get(svc.cpu)
        if allowed is None:
            choices = ", ".join(str(c) for c in FARGATE_SIZES)
            yield (*base, "cpu"), f"Fargate has no cpu {svc.cpu}; use one of {choices}"
        elif svc.memory not in allowed:
            yield (
                (*base, "memory"),
                f"Fargate cpu {svc.cpu} takes memory {_memory_choices(allowed)} MiB "
                f"(got {svc.memory})",
            )
        if svc.routing is not None:
            for j, p in enumerate(svc.routing.paths):
                if p in paths:
                    yield (
                        (*base, "routing", "paths", j),
                        f"route path {p!r} is already routed to services[{paths[p]}]",
                    )
                paths.setdefault(p, i)
            prio = svc.routing.priority
            if prio is not None:
                if prio in priorities:
                    yield (
                        (*base, "routing", "priority"),
                        f"priority {prio} is already used by services[{priorities[prio]}]; "
                        "rule priorities must be unique",
                    )
                priorities.setdefault(prio, i)
        if svc.autoscaling is not None:
            yield from _capacity(svc.autoscaling, (*base, "autoscaling"))
        if svc.health_check is not None:
            yield from _timeout(svc.health_check, (*base, "healthCheck"))
        for key, arn in svc.secrets.items():
            if not arn.startswith("arn:aws:secretsmanager:"):
                yield (
                    (*base, "secrets", key),
                    "must be a Secrets Manager secret ARN (arn:aws:secretsmanager:...)",
                )
    # serviceDefaults: said once, at the field that holds it, however many services inherit it
    defaults: Path = ("spec", "serviceDefaults")
    if any(svc.autoscaling is None for svc in body.services):
        yield from _capacity(body.service_defaults.autoscaling, (*defaults, "autoscaling"))
    if any(svc.health_check is None for svc in body.services):
        yield from _timeout(body.service_defaults.health_check, (*defaults, "healthCheck"))
    default = body.load_balancer.default_service
    if default is not None and default not in names:
        yield (
            ("spec", "loadBalancer", "defaultService"),
            f"no service named {default!r}; use one of the names under spec.services",
        )


def _capacity(scaling: Autoscaling, where: Path) -> Iterator[Finding]:
    if scaling.min_capacity > scaling.max_capacity:
        yield (
            (*where, "minCapacity"),
            f"minCapacity {scaling.min_capacity} is above maxCapacity {scaling.max_capacity}; "
            "it must be at most maxCapacity",
        )


def _timeout(hc: HealthCheck, where: Path) -> Iterator[Finding]:
    if hc.timeout >= hc.interval:
        yield (*where, "timeout"), f"timeout {hc.timeout}s must be below interval {hc.interval}s"


def _database(s: StackSpec) -> Iterator[Finding]:
    db = s.spec.database
    base = ("spec", "database")
    if db.max_allocated_storage is not None and db.max_allocated_storage < db.allocated_storage:
        yield (
            (*base, "maxAllocatedStorage"),
            (f"{db.max_allocated_storage} is below allocatedStorage {db.allocated_storage}"),
        )
    problem = version_problem(db.engine_version)
    if problem:
        yield (*base, "engineVersion"), problem
    if db.deletion_policy == "delete" and db.deletion_protection:
        yield (
            (*base, "deletionPolicy"),
            ("policy 'delete' needs deletionProtection: false (protection stays on otherwise)"),
        )


def _cdn(s: StackSpec) -> Iterator[Finding]:
    cdn = s.spec.cdn
    base = ("spec", "cdn")
    if not cdn.min_ttl <= cdn.default_ttl <= cdn.max_ttl:
        yield (
            (*base, "defaultTtl"),
            (
                f"TTLs must satisfy minTtl <= defaultTtl <= maxTtl; got {cdn.min_ttl}, "
                f"{cdn.default_ttl}, {cdn.max_ttl}"
            ),
        )
    if cdn.enabled and not s.spec.frontend.enabled:
        yield (*base, "enabled"), "the CDN serves the frontend bucket; enable frontend too"


def _cluster(s: StackSpec) -> Iterator[Finding]:
    strategy = s.spec.cluster.capacity_provider_strategy
    base = ("spec", "cluster", "capacityProviderStrategy")
    providers = [item.capacity_provider for item in strategy]
    if len(set(providers)) != len(providers):
        yield base, "each capacity provider may appear once"
    if sum(1 for item in strategy if item.base > 0) > 1:
        yield base, "only one capacity provider may have a base"
    if strategy and all(item.weight == 0 for item in strategy):
        yield base, "at least one capacity provider needs a weight above 0"


def _memory_choices(allowed: tuple[int, ...]) -> str:
    steps = {b - a for a, b in itertools.pairwise(allowed)}
    if len(steps) == 1 and len(allowed) > 3:
        return f"{allowed[0]} to {allowed[-1]} in steps of {steps.pop()}"
    return ", ".join(str(m) for m in allowed[:-1]) + f" or {allowed[-1]}"


_DNS_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def _names(s: StackSpec) -> Iterator[Finding]:
    for path, name, limit, what in readable_names(s):
        if len(name) > limit:
            yield path, f"{what} {name!r} would be {len(name)} characters; AWS allows {limit}"
    stack = s.metadata.name
    if "--" in stack:
        yield ("metadata", "name"), "'--' is not allowed (RDS and ECR refuse it); use one '-'"
    if stack.startswith(("xn--", "sthree-")):
        yield ("metadata", "name"), "S3 bucket names cannot start with 'xn--' or 'sthree-'"
    for i, svc in enumerate(s.spec.services):
        if "--" in svc.name:
            yield (
                ("spec", "services", i, "name"),
                "'--' is not allowed (ECR refuses it); use one '-'",
            )
    namespace = s.spec.cluster.namespace
    if namespace is not None and not all(_DNS_LABEL.match(p) for p in namespace.split(".")):
        yield (
            ("spec", "cluster", "namespace"),
            f"{clip(repr(namespace))} is not a DNS name; "
            "use dot-separated labels of a-z, 0-9 and '-'",
        )


def _tags(s: StackSpec) -> Iterator[Finding]:
    for key in s.spec.tags:
        if key.lower().startswith(("aws:", "stackop:")):
            yield (
                ("spec", "tags", key),
                "tag keys starting with aws: or stackop: are reserved; pick another key",
            )
    if len(s.spec.tags) > 40:
        yield ("spec", "tags"), "at most 40 tags (AWS allows 50 and stackop uses some)"


def _injected_variables(s: StackSpec) -> Iterator[Finding]:
    """User variables named like the ones stackop sets for services that use the database."""
    if not s.spec.database.enabled:
        return
    users = [(i, svc) for i, svc in enumerate(s.spec.services) if svc.uses_database]
    for i, svc in users:
        for field, values in (("environment", svc.environment), ("secrets", svc.secrets)):
            for key in values:
                if key in DATABASE_VARIABLES:
                    yield (
                        ("spec", "services", i, field, key),
                        f"{key} is set by stackop in a service with usesDatabase: true "
                        f"(it injects {', '.join(DATABASE_VARIABLES)}); rename this variable",
                    )
    for key in s.spec.service_defaults.environment:
        if users and key in DATABASE_VARIABLES:
            yield (
                ("spec", "serviceDefaults", "environment", key),
                f"{key} is set by stackop in services that use the database "
                f"(here {users[0][1].name!r}); rename this variable",
            )


def _allow_replace(s: StackSpec) -> Iterator[Finding]:
    """Every allowReplace entry names a resource of the stack, as `stackop plan` shows it."""
    entries = s.spec.safety.allow_replace
    if s.spec.teardown or not entries:
        return
    from controller.render import render  # render imports the spec model

    keys = sorted({r.key for r in render(s)})
    for i, entry in enumerate(entries):
        if entry in keys:
            continue
        close = difflib.get_close_matches(entry, keys, n=1, cutoff=0.6)
        hint = (
            f"did you mean {close[0]!r}?"
            if close
            else "entries are resource keys kind/logical id as `stackop plan` shows them, "
            "e.g. db_instance/main"
        )
        yield (
            ("spec", "safety", "allowReplace", i),
            f"{clip(repr(entry))} is not a resource of this stack; {hint}",
        )


CHECKS: tuple[Callable[[StackSpec], Iterator[Finding]], ...] = (
    _network,
    _services,
    _database,
    _cdn,
    _cluster,
    _names,
    _tags,
    _injected_variables,
)
# Checks that render the stack: only run on a spec every other check accepts.
RENDERED_CHECKS: tuple[Callable[[StackSpec], Iterator[Finding]], ...] = (_allow_replace,)


def run_checks(spec: StackSpec) -> list[Finding]:
    findings = [finding for check in CHECKS for finding in check(spec)]
    if findings:
        return findings
    return [finding for check in RENDERED_CHECKS for finding in check(spec)]


def _snake(camel: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in camel)


def _fmt(path: Path) -> str:
    from controller.spec.yamlsafe import format_path

    return format_path(path)
