from __future__ import annotations

from controller.engine import Observed
from tests.aws import client
from tests.kinds.compute_desired import DISCOVERY, NAMESPACE, VPC
from tests.kinds.contract import ContractCase, run_contract


def _ttl_60(endpoint: str, observed: Observed) -> None:
    client("servicediscovery", endpoint).update_service(
        Id=observed.physical_id, Service={"DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 60}]}}
    )


def test_service_discovery_service_contract(endpoint: str) -> None:
    run_contract(
        endpoint,
        ContractCase([VPC, NAMESPACE, DISCOVERY], "service_discovery_service/web", _ttl_60, "ttl"),
    )
    assert client("servicediscovery", endpoint).list_services()["Services"] == []
