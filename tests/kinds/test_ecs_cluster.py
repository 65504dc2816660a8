from __future__ import annotations

from controller.engine import Observed
from tests.aws import client
from tests.kinds.compute_desired import CLUSTER
from tests.kinds.contract import ContractCase, run_contract


def _insights_off(endpoint: str, observed: Observed) -> None:
    client("ecs", endpoint).update_cluster(
        cluster=observed.physical_id, settings=[{"name": "containerInsights", "value": "disabled"}]
    )


def test_ecs_cluster_contract(endpoint: str) -> None:
    run_contract(
        endpoint, ContractCase([CLUSTER], "ecs_cluster/main", _insights_off, "container_insights")
    )
    ecs = client("ecs", endpoint)
    clusters = ecs.describe_clusters(clusters=["contract"])["clusters"]
    assert all(c["status"] == "INACTIVE" for c in clusters), "the contract deletes the cluster"
