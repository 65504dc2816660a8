"""Issue 10, item 5: any resource may vanish at any time.

A log group, an ECR repository and the database deleted by hand (a separate boto3
client) crashed every plan with `TypeError: Object of type _Unknown is not JSON
serializable`. Now `stackop plan` (a real process) shows the recreate, a reconcile
recreates them while still correcting other drift, and the database comes back only
from its newest snapshot, or is held with a message, never silently empty.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from controller.aws import AwsClients
from controller.engine import ActionType, Outcome, Plan
from controller.stack import StackRunner
from tests.conftest import REGION, run_stackop
from tests.stack_inprocess import STACK, boto, converge, portal, portal_text

DB = "db_instance/main"


def physical(plan: Plan, key: str) -> str:
    observed = plan.by_key()[key].observed
    assert observed is not None, key
    return observed.physical_id


def delete_by_hand(endpoint: str, plan: Plan, final_snapshot: str | None) -> None:
    """What a user does with the AWS APIs: the order log group, its repository, the database."""
    boto(endpoint, "logs").delete_log_group(logGroupName=physical(plan, "log_group/order"))
    boto(endpoint, "ecr").delete_repository(
        repositoryName=physical(plan, "ecr_repository/order").split(":repository/")[-1],
        force=True,
    )
    rds = boto(endpoint, "rds")
    identifier = physical(plan, DB)
    rds.modify_db_instance(
        DBInstanceIdentifier=identifier, DeletionProtection=False, ApplyImmediately=True
    )
    if final_snapshot:
        rds.delete_db_instance(
            DBInstanceIdentifier=identifier, FinalDBSnapshotIdentifier=final_snapshot
        )
    else:
        rds.delete_db_instance(DBInstanceIdentifier=identifier, SkipFinalSnapshot=True)


def open_port_22(endpoint: str, plan: Plan) -> str:
    group = physical(plan, "security_group/alb")
    boto(endpoint, "ec2").authorize_security_group_ingress(
        GroupId=group, IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="198.51.100.7/32"
    )
    return group


def port_22_open(endpoint: str, group: str) -> bool:
    (sg,) = boto(endpoint, "ec2").describe_security_groups(GroupIds=[group])["SecurityGroups"]
    return any(p.get("FromPort") == 22 for p in sg["IpPermissions"])


def cli_plan(endpoint: str, tmp_path: Path) -> dict[str, Any]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(portal_text())
    out = run_stackop("plan", "--json", str(spec), endpoint=endpoint, timeout=120)
    assert out.returncode == 2, out.stdout + out.stderr
    return {f"{a['kind']}/{a['logicalId']}": a for a in json.loads(out.stdout)["actions"]}


def converged_first(endpoint: str) -> Plan:
    async def run() -> Plan:
        async with AwsClients(REGION, endpoint) as clients:
            runner = StackRunner(clients)
            await converge(runner, portal())
            return await runner.plan(portal())

    plan = asyncio.run(run())
    assert plan.in_sync
    return plan


def test_vanished_resources_plan_and_recreate_and_database_without_snapshot_is_held(
    endpoint: str, tmp_path: Path
) -> None:
    live = converged_first(endpoint)
    delete_by_hand(endpoint, live, final_snapshot=None)
    group = open_port_22(endpoint, live)

    actions = cli_plan(endpoint, tmp_path)
    assert actions["log_group/order"]["action"] == "create"
    assert actions["ecr_repository/order"]["action"] == "create"
    assert not actions["log_group/order"]["held"] and not actions["ecr_repository/order"]["held"]
    db = actions[DB]
    assert db["action"] == "create"
    assert db["held"] == (
        f"{DB} ({physical(live, DB)}) existed and is gone with no snapshot; creating it would "
        "make an empty database: restore it by hand or add 'db_instance/main' to "
        "spec.safety.allowReplace to create an empty one"
    )
    assert actions["security_group/alb"]["action"] == "update"
    assert not actions["security_group/alb"]["held"]

    async def reconcile() -> Plan:
        async with AwsClients(REGION, endpoint) as clients:
            runner = StackRunner(clients)
            result = await converge(runner, portal())
            assert result.execution is not None
            assert result.execution.reports[DB].outcome is Outcome.HELD
            return result.plan

    after = asyncio.run(reconcile())
    assert not port_22_open(endpoint, group)
    assert boto(endpoint, "rds").describe_db_instances()["DBInstances"] == []
    assert after.by_key()["log_group/order"].type is ActionType.NOOP
    assert after.by_key()["ecr_repository/order"].type is ActionType.NOOP
    waiting = {a.key for a in after.changes}
    assert DB in waiting and all(a.held for a in after.changes), (
        "only the database and what depends on it wait"
    )


def test_vanished_database_is_restored_from_its_newest_own_snapshot(
    endpoint: str, tmp_path: Path
) -> None:
    live = converged_first(endpoint)
    rds = boto(endpoint, "rds")
    identifier = physical(live, DB)
    rds.create_db_snapshot(DBInstanceIdentifier=identifier, DBSnapshotIdentifier="older-by-hand")
    (older,) = rds.describe_db_snapshots(DBSnapshotIdentifier="older-by-hand")["DBSnapshots"]
    assert {"Key": "stackop:logical-id", "Value": DB} in older["TagList"], "ours too: by age"
    delete_by_hand(endpoint, live, final_snapshot="final-by-hand")

    actions = cli_plan(endpoint, tmp_path)
    db = actions[DB]
    assert db["action"] == "create" and not db["held"]
    assert db["note"].startswith("restore from snapshot final-by-hand ")

    async def reconcile() -> list[str]:
        async with AwsClients(REGION, endpoint) as clients:
            runner = StackRunner(clients)
            mark = clients.recorder.mark()
            result = await converge(runner, portal())
            assert result.plan.in_sync, [a.key for a in result.plan.changes]
            return [c.operation for c in clients.recorder.writes(mark)]

    ops = asyncio.run(reconcile())
    assert "RestoreDBInstanceFromDBSnapshot" in ops and "CreateDBInstance" not in ops
    (db_live,) = rds.describe_db_instances()["DBInstances"]
    assert db_live["DBInstanceIdentifier"] == identifier
    tags = {t["Key"]: t["Value"] for t in db_live["TagList"]}
    assert tags["stackop:stack"] == STACK and tags["stackop:logical-id"] == DB
