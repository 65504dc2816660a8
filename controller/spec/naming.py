"""Physical AWS names derived from the stack name and logical ids.

Names AWS shows to people (bucket, database, log groups, namespace) stay readable and
are length-checked by validation; names with tight limits (load balancer, target
group, IAM role) are shortened with a stable hash suffix. A name made of the stack name
and a service name is built by `joined` (or `single_hyphen_joined`), so that two stacks
never get the same name (`shop` + `api-task` vs `shop-api` + `task`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from controller.spec.model import StackSpec
from controller.spec.yamlsafe import Path


def short_name(*parts: str, limit: int, sep: str = "-") -> str:
    """Join `parts`; if longer than `limit`, cut and append a 6-char hash of the full name."""
    full = sep.join(p for p in parts if p)
    if len(full) <= limit:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:6]
    head = full[: limit - len(digest) - 1].rstrip(sep)
    return f"{head}{sep}{digest}"


def joined(stack: str, part: str) -> str:
    """`stack` and a variable part (a service name) joined so no other pair gives the same text.

    Both are lowercase words joined by single '-' ('--' is refused by validation). A part
    without '-' is joined with '-': the last '-' then splits the two unambiguously. A part
    with '-' is joined with '--', which neither name can contain: `shop` + `api-task` is
    `shop--api-task`, `shop-api` + `task` is `shop-api-task`. So the name still starts with
    `<stack>-` (what the kinds' prefix listings look for), and names of services without
    '-' are what they always were.
    """
    return f"{stack}-{part}" if "-" not in part else f"{stack}--{part}"


def single_hyphen_joined(stack: str, part: str, limit: int) -> str:
    """Like `joined`, for names AWS limits to letters, digits and single '-' (load
    balancing): a part with '-' is told apart by a hash of the (stack, part) pair."""
    if "-" not in part:
        return short_name(stack, part, limit=limit)
    digest = hashlib.sha256(f"{stack}/{part}".encode()).hexdigest()[:8]
    head = f"{stack}-{part}"[: limit - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}"


def bucket_name(stack: str) -> str:
    return f"{stack}-frontend"


def database_identifier(stack: str) -> str:
    return f"{stack}-db"


def namespace_name(spec: StackSpec) -> str:
    return spec.spec.cluster.namespace or f"{spec.metadata.name}.local"


def log_group_name(stack: str, service: str) -> str:
    return f"/ecs/{stack}/{service}"


def repository_name(stack: str, service: str) -> str:
    return f"{stack}/{service}"


def readable_names(spec: StackSpec) -> Iterator[tuple[Path, str, int, str]]:
    """(field path, name, AWS limit, what) for every name that is not hash-shortened."""
    stack = spec.metadata.name
    at_name: Path = ("metadata", "name")
    if spec.spec.frontend.enabled:
        yield at_name, bucket_name(stack), 63, "frontend bucket name"
    if spec.spec.database.enabled:
        yield at_name, database_identifier(stack), 63, "database identifier"
    namespace = namespace_name(spec)
    yield ("spec", "cluster", "namespace"), namespace, 253, "service discovery namespace"
    for i, svc in enumerate(spec.spec.services):
        at_svc: Path = ("spec", "services", i, "name")
        yield at_svc, f"{svc.name}.{namespace}", 253, "service DNS name"
        yield at_svc, log_group_name(stack, svc.name), 512, "log group name"
        yield at_svc, repository_name(stack, svc.name), 256, "ECR repository name"
