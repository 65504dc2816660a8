from __future__ import annotations

from controller.engine import Observed
from tests.aws import client
from tests.kinds.compute_desired import ALARM, STACK
from tests.kinds.contract import ContractCase, run_contract
from tests.kinds.foreign import observe_fresh


def _threshold_10(endpoint: str, observed: Observed) -> None:
    a = client("cloudwatch", endpoint).describe_alarms(AlarmNames=[observed.physical_id])[
        "MetricAlarms"
    ][0]
    client("cloudwatch", endpoint).put_metric_alarm(
        AlarmName=a["AlarmName"],
        Namespace=a["Namespace"],
        MetricName=a["MetricName"],
        Dimensions=a["Dimensions"],
        Statistic=a["Statistic"],
        Period=a["Period"],
        EvaluationPeriods=a["EvaluationPeriods"],
        Threshold=10.0,
        ComparisonOperator=a["ComparisonOperator"],
    )


def test_metric_alarm_contract(endpoint: str) -> None:
    run_contract(
        endpoint, ContractCase([ALARM], "metric_alarm/web-cpu-high", _threshold_10, "threshold")
    )
    assert client("cloudwatch", endpoint).describe_alarms()["MetricAlarms"] == []


def test_foreign_alarm_under_the_prefix_is_read_alone(endpoint: str) -> None:
    from controller.kinds.metric_alarm import MetricAlarm

    client("cloudwatch", endpoint).put_metric_alarm(
        AlarmName=f"{STACK}-by-hand",
        MetricName="CPUUtilization",
        Namespace="AWS/ECS",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=50.0,
        ComparisonOperator="GreaterThanThreshold",
        Tags=[{"Key": "Team", "Value": "other"}],
    )
    found, ops = observe_fresh(endpoint, MetricAlarm(), [])
    assert found == 0
    assert ops.count("GetResources") == 1 and ops.count("ListTagsForResource") == 1, ops
