from __future__ import annotations

from controller.engine import Observed
from tests.aws import client
from tests.kinds.compute_desired import SCALING_TARGET, SERVICE_STACK, service
from tests.kinds.contract import ContractCase, run_contract


def _max_3(endpoint: str, observed: Observed) -> None:
    client("application-autoscaling", endpoint).register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=observed.physical_id,
        ScalableDimension="ecs:service:DesiredCount",
        MaxCapacity=3,
    )


def test_scaling_target_contract(endpoint: str) -> None:
    run_contract(
        endpoint,
        ContractCase(
            [*SERVICE_STACK, service(), SCALING_TARGET],
            "scaling_target/web",
            _max_3,
            "max_capacity",
        ),
    )
    aas = client("application-autoscaling", endpoint)
    assert aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []
