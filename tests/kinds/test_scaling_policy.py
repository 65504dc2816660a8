from __future__ import annotations

from controller.engine import Observed
from tests.aws import client
from tests.kinds.compute_desired import SCALING_POLICY, SCALING_TARGET, SERVICE_STACK, service
from tests.kinds.contract import ContractCase, run_contract


def _target_50(endpoint: str, observed: Observed) -> None:
    client("application-autoscaling", endpoint).put_scaling_policy(
        PolicyName=observed.fields["policy_name"],
        ServiceNamespace="ecs",
        ResourceId=observed.private["resource_id"],
        ScalableDimension="ecs:service:DesiredCount",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 50.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
            },
            "ScaleInCooldown": 300,
            "ScaleOutCooldown": 60,
        },
    )


def test_scaling_policy_contract(endpoint: str) -> None:
    run_contract(
        endpoint,
        ContractCase(
            [*SERVICE_STACK, service(), SCALING_TARGET, SCALING_POLICY],
            "scaling_policy/web-cpu",
            _target_50,
            "target_value",
        ),
    )
    aas = client("application-autoscaling", endpoint)
    assert aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"] == []
