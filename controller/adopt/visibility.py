"""Would a kind's observe find this resource once it carries our tags?

Several kinds narrow their batched read by a name the stack derives (a prefix, an IAM
path, the cluster named after the stack) before checking tags. A resource outside that
name cannot be found by tags alone, so adopting it would be invisible: adoption holds it
instead (with this reason) and the plan creates our own. These rules mirror each kind's
observe filter; the adoption tests check them against the real observe after tagging.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controller.adopt.lookup import Found

Rule = Callable[[str, Found], str | None]


def _prefix(get: Callable[[Found], str], prefix: Callable[[str], str], what: str) -> Rule:
    def rule(stack: str, found: Found) -> str | None:
        name, want = get(found), prefix(stack)
        if name.lower().startswith(want.lower()):
            return None
        return f"the stack finds its {what} by the prefix {want!r}; {name!r} is outside it"

    return rule


def _name(found: Found) -> str:
    return found.name


def _extra(key: str) -> Callable[[Found], str]:
    def get(found: Found) -> str:
        value: Any = found.extra.get(key, found.name)
        return str(value)

    return get


def _role_path(stack: str, found: Found) -> str | None:
    path, want = str(found.extra.get("Path", "/")), f"/stackop/{stack}/"
    if path == want:
        return None
    return f"IAM role path {path!r} cannot change and the stack finds its roles under {want!r}"


RULES: dict[str, Rule] = {
    "iam_role": _role_path,
    "log_group": _prefix(_name, lambda s: f"/ecs/{s}/", "log groups"),
    "ecr_repository": _prefix(_name, lambda s: f"{s}/", "repositories"),
    "metric_alarm": _prefix(_name, lambda s: f"{s}-", "alarms"),
    "db_instance": _prefix(_extra("DBInstanceIdentifier"), lambda s: s[:20], "databases"),
    "db_subnet_group": _prefix(_extra("DBSubnetGroupName"), lambda s: s[:20], "DB subnet groups"),
    "load_balancer": _prefix(_extra("LoadBalancerName"), lambda s: s[:20], "load balancers"),
    "target_group": _prefix(_extra("TargetGroupName"), lambda s: s[:20], "target groups"),
}


def invisible_reason(stack: str, found: Found) -> str | None:
    """Why the stack's observe would not find `found` once tagged, or None."""
    rule = RULES.get(found.kind)
    return rule(stack, found) if rule else None
