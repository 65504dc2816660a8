"""The engine in-process against moto: converge a spec, plan an edited one, read the calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import yaml

from controller.aws import AwsClients
from controller.engine import Outcome, Plan, ReconcileResult
from controller.spec import LoadedSpec, load_spec
from controller.stack import StackRunner
from tests.conftest import REGION
from tests.operator_harness import PORTAL

STACK = "vanish-portal"


def portal_text(edit: Callable[[dict[str, Any]], None] | None = None, services: int = 3) -> str:
    """The portal without frontend and CDN and with its first `services` services
    (order and customer use the database), then `edit`ed."""
    doc = yaml.safe_load(PORTAL.read_text())
    doc["metadata"]["name"] = STACK
    spec = doc["spec"]
    spec["frontend"]["enabled"] = False
    spec["cdn"]["enabled"] = False
    spec["services"] = spec["services"][:services]
    if edit is not None:
        edit(spec)
    return str(yaml.safe_dump(doc, sort_keys=False))


def portal(edit: Callable[[dict[str, Any]], None] | None = None, services: int = 3) -> LoadedSpec:
    return load_spec(f"{STACK}.yaml", portal_text(edit, services).encode())


def boto(endpoint: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION)


async def converge(runner: StackRunner, loaded: LoadedSpec, passes: int = 6) -> ReconcileResult:
    """Reconcile until a pass writes nothing; the last result."""
    for _ in range(passes):
        result = await runner.reconcile(loaded)
        if result.execution is None or not result.execution.of(Outcome.DONE):
            return result
    raise AssertionError(f"not converged after {passes} passes: {result.plan.summary()}")


async def plan_of(endpoint: str, loaded: LoadedSpec) -> Plan:
    async with AwsClients(REGION, endpoint) as clients:
        return await StackRunner(clients).plan(loaded)


def operations(runner: StackRunner, mark: int) -> list[str]:
    """Write operations since `mark`, in the order they were made."""
    return [c.operation for c in runner.clients.recorder.writes(mark)]
