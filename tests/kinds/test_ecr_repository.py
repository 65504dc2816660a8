from __future__ import annotations

from controller.engine import Observed
from tests.aws import client
from tests.kinds.compute_desired import REPOSITORY, STACK
from tests.kinds.contract import ContractCase, run_contract
from tests.kinds.foreign import observe_fresh


def _scan_off(endpoint: str, observed: Observed) -> None:
    client("ecr", endpoint).put_image_scanning_configuration(
        repositoryName=observed.fields["name"], imageScanningConfiguration={"scanOnPush": False}
    )


def test_ecr_repository_contract(endpoint: str) -> None:
    run_contract(
        endpoint, ContractCase([REPOSITORY], "ecr_repository/web", _scan_off, "scan_on_push")
    )
    assert client("ecr", endpoint).describe_repositories()["repositories"] == []


def test_ecr_repository_is_retained_by_default(endpoint: str) -> None:
    from controller.kinds.ecr_repository import EcrRepository

    observed = Observed("web", "arn", {"retain_on_delete": True})
    mode, note = EcrRepository().deletion(observed)
    assert mode == "retain" and "kept" in note
    observed.fields["retain_on_delete"] = False
    assert EcrRepository().deletion(observed)[0] == "delete"


def test_foreign_repository_under_the_prefix_is_read_alone(endpoint: str) -> None:
    from controller.kinds.ecr_repository import EcrRepository

    client("ecr", endpoint).create_repository(
        repositoryName=f"{STACK}/by-hand", tags=[{"Key": "Team", "Value": "other"}]
    )
    found, ops = observe_fresh(endpoint, EcrRepository(), [])
    assert found == 0
    assert ops.count("GetResources") == 1 and ops.count("ListTagsForResource") == 1, ops
