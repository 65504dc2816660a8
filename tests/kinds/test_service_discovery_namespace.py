from __future__ import annotations

from controller.engine import Observed
from tests.aws import client
from tests.kinds.compute_desired import NAMESPACE, VPC
from tests.kinds.contract import ContractCase, run_contract


def _description(endpoint: str, observed: Observed) -> None:
    client("servicediscovery", endpoint).update_private_dns_namespace(
        Id=observed.physical_id, Namespace={"Description": "changed by hand"}
    )


def test_service_discovery_namespace_contract(endpoint: str) -> None:
    run_contract(
        endpoint,
        ContractCase(
            [VPC, NAMESPACE], "service_discovery_namespace/main", _description, "description"
        ),
    )
    assert client("servicediscovery", endpoint).list_namespaces()["Namespaces"] == []
