from __future__ import annotations

from controller.engine import Observed
from tests.aws import client
from tests.kinds.compute_desired import LOG_GROUP, STACK
from tests.kinds.contract import ContractCase, run_contract
from tests.kinds.foreign import observe_fresh


def _retention_30(endpoint: str, observed: Observed) -> None:
    client("logs", endpoint).put_retention_policy(
        logGroupName=observed.physical_id, retentionInDays=30
    )


def test_log_group_contract(endpoint: str) -> None:
    run_contract(
        endpoint, ContractCase([LOG_GROUP], "log_group/web", _retention_30, "retention_days")
    )
    assert client("logs", endpoint).describe_log_groups()["logGroups"] == []


def test_log_group_deletion_policy_comes_from_the_tag(endpoint: str) -> None:
    from controller.kinds.log_group import LogGroup

    mode, note = LogGroup().deletion(Observed("web", "/ecs/x/web", {"retain_on_delete": True}))
    assert mode == "retain"
    assert note.startswith("log group kept: losing logs is data loss")
    assert LogGroup().deletion(Observed("web", "/ecs/x/web", {"retain_on_delete": False}))[0] == (
        "delete"
    )


def test_foreign_log_group_under_the_prefix_is_read_alone(endpoint: str) -> None:
    from controller.kinds.log_group import LogGroup

    client("logs", endpoint).create_log_group(
        logGroupName=f"/ecs/{STACK}/by-hand", tags={"Team": "other"}
    )
    found, ops = observe_fresh(endpoint, LogGroup(), [])
    assert found == 0
    assert ops.count("GetResources") == 1 and ops.count("ListTagsForResource") == 1, ops
