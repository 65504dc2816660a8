from __future__ import annotations

from controller.engine import Observed
from tests.aws import client
from tests.kinds.compute_desired import SERVICE_STACK, service
from tests.kinds.contract import ContractCase, run_contract


def _breaker_off(endpoint: str, observed: Observed) -> None:
    client("ecs", endpoint).update_service(
        cluster="contract",
        service=observed.physical_id,
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": False, "rollback": False}},
    )


def test_ecs_service_contract(endpoint: str) -> None:
    run_contract(
        endpoint,
        ContractCase(
            [*SERVICE_STACK, service()], "ecs_service/web", _breaker_off, "circuit_breaker"
        ),
    )
    ecs = client("ecs", endpoint)
    live = ecs.describe_services(cluster="contract", services=["web"])["services"]
    assert all(s["status"] != "ACTIVE" for s in live), "the contract deletes the service"
