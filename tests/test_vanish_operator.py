"""Issue 10, item 5, end to end: resources deleted by hand under a running `stackop run`.

Before, every reconcile crashed (`_Unknown is not JSON serializable`) and the stack went
unmanaged: a port-22 rule added meanwhile stayed open. Now the operator recreates the
log group and the repository, closes the rule, holds the database that vanished with
no snapshot (saying why), and keeps reconciling: allowed to, it creates it and converges.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.operator_harness import Operator, converged, make_bucket, push_text, wait_for
from tests.stack_inprocess import STACK, boto, portal_text

BUCKET = "stackop-vanish"
KEY = "specs/vanish.yaml"
DB = "db_instance/main"


@pytest.fixture
def operator(endpoint: str, tmp_path: Path) -> Iterator[Operator]:
    make_bucket(endpoint, BUCKET)
    op = Operator(endpoint, BUCKET, tmp_path).start(resync=2, poll=1, lease=5)
    yield op
    op.kill()


def resource(op: Operator, key: str) -> dict[str, Any]:
    for r in op.status(STACK).get("resources", []):
        if f"{r['kind']}/{r['logicalId']}" == key:
            return dict(r)
    return {}


def alb_group(endpoint: str) -> str:
    groups = boto(endpoint, "ec2").describe_security_groups(
        Filters=[
            {"Name": "tag:stackop:stack", "Values": [STACK]},
            {"Name": "tag:stackop:logical-id", "Values": ["security_group/alb"]},
        ]
    )["SecurityGroups"]
    (group,) = groups
    return str(group["GroupId"])


def open_ports(endpoint: str, group: str) -> set[int]:
    (sg,) = boto(endpoint, "ec2").describe_security_groups(GroupIds=[group])["SecurityGroups"]
    return {int(p["FromPort"]) for p in sg["IpPermissions"] if "FromPort" in p}


def log_group_exists(endpoint: str, name: str) -> bool:
    groups = boto(endpoint, "logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return any(g["logGroupName"] == name for g in groups)


def repository_exists(endpoint: str, name: str) -> bool:
    repos = boto(endpoint, "ecr").describe_repositories()["repositories"]
    return any(r["repositoryName"] == name for r in repos)


def test_operator_recreates_vanished_resources_and_keeps_converging(
    operator: Operator, endpoint: str, tmp_path: Path
) -> None:
    push_text(endpoint, BUCKET, KEY, portal_text(services=2), tmp_path)
    wait_for(lambda: converged(operator, STACK), 120, "first convergence")
    log_group = resource(operator, "log_group/order")["physicalId"]
    repository = resource(operator, "ecr_repository/order")["physicalId"].split(":repository/")[-1]
    identifier = resource(operator, DB)["physicalId"]
    group = alb_group(endpoint)

    boto(endpoint, "logs").delete_log_group(logGroupName=log_group)
    boto(endpoint, "ecr").delete_repository(repositoryName=repository, force=True)
    rds = boto(endpoint, "rds")
    rds.modify_db_instance(
        DBInstanceIdentifier=identifier, DeletionProtection=False, ApplyImmediately=True
    )
    rds.delete_db_instance(DBInstanceIdentifier=identifier, SkipFinalSnapshot=True)
    boto(endpoint, "ec2").authorize_security_group_ingress(
        GroupId=group, IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="198.51.100.7/32"
    )

    wait_for(lambda: 22 not in open_ports(endpoint, group), 30, "port 22 closed again")
    wait_for(lambda: log_group_exists(endpoint, log_group), 30, "log group recreated")
    wait_for(lambda: repository_exists(endpoint, repository), 30, "repository recreated")

    def db_held() -> dict[str, Any] | None:
        r = resource(operator, DB)
        return r if "existed and is gone with no snapshot" in r.get("message", "") else None

    wait_for(db_held, 30, "the vanished database held with its reason")
    assert rds.describe_db_instances()["DBInstances"] == [], "never recreated silently empty"
    crashes = [e for e in operator.logs() if "_Unknown" in str(e.get("error", ""))]
    assert crashes == []

    # allowed to, it creates the database and converges: the operator is not stuck
    allowed = portal_text(
        lambda s: s.setdefault("safety", {}).update(allowReplace=[DB]), services=2
    )
    push_text(endpoint, BUCKET, KEY, allowed, tmp_path)
    wait_for(lambda: converged(operator, STACK), 60, "converged with the database back")
    assert [db["DBInstanceIdentifier"] for db in rds.describe_db_instances()["DBInstances"]] == [
        identifier
    ]
    boto(endpoint, "ec2").authorize_security_group_ingress(
        GroupId=group, IpProtocol="tcp", FromPort=2222, ToPort=2222, CidrIp="198.51.100.7/32"
    )
    wait_for(lambda: 2222 not in open_ports(endpoint, group), 30, "later drift corrected too")
