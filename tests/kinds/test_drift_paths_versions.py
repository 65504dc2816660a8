"""Engine version changes RDS refuses in place are held by the plan, never sent.

moto's ModifyDBInstance accepts any EngineVersion, downgrades and major upgrades without
AllowMajorVersionUpgrade included; AWS refuses both (InvalidParameterCombination). So the
test checks what we send: no ModifyDBInstance at all while the change is held, and one
when the spec allows the major upgrade.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from controller.aws import AwsClients, classify
from controller.engine import (
    ActionType,
    DesiredResource,
    KindContext,
    PlanOptions,
    plan_stack,
    reconcile_stack,
)
from controller.kinds import all_kinds
from controller.kinds.rds_versions import refused_version_change
from tests.aws import client
from tests.kinds.test_data_edge_kinds import STACK, closure

OPTIONS = PlanOptions(guard_deletions=False)
DB = "db_instance/main"


def _with_db(desired: Sequence[DesiredResource], **params: object) -> list[DesiredResource]:
    return [
        DesiredResource(d.kind, d.logical_id, {**d.params, **params}, d.depends_on)
        if d.key == DB
        else d
        for d in desired
    ]


def test_version_rules() -> None:
    assert refused_version_change("15.4", "15", allow_major=False) is None
    assert refused_version_change("15.4", "15.6", allow_major=False) is None
    assert "cannot downgrade" in str(refused_version_change("15.4", "15.2", allow_major=True))
    assert "cannot downgrade" in str(refused_version_change("16.1", "15.4", allow_major=True))
    assert "allowMajorVersionUpgrade" in str(refused_version_change("15.4", "16.1", False))
    assert refused_version_change("15.4", "16.1", allow_major=True) is None
    assert refused_version_change("11.22-rds.20240418", "12.19", allow_major=True) is None


def test_refused_engine_version_changes_are_held_and_not_sent(endpoint: str) -> None:
    base = closure(DB)
    kinds = {n: k for n, k in all_kinds().items() if n in {d.kind for d in base}}
    rds = client("rds", endpoint)

    def live_version() -> str:
        (db,) = rds.describe_db_instances()["DBInstances"]
        return str(db["EngineVersion"])

    async def run() -> None:
        async with AwsClients(endpoint_url=endpoint) as clients:
            ctx = KindContext(stack=STACK, spec_version="v1", clients=clients)
            res = await reconcile_stack(kinds, ctx, base, OPTIONS, write=True, classify=classify)
            assert res.converged, res.execution
            assert live_version() == "15.4"
            for version, allow, held in (
                ("14.9", False, "RDS cannot downgrade in place"),
                ("16.1", False, "set spec.database.allowMajorVersionUpgrade: true"),
            ):
                desired = _with_db(base, engine_version=version, allow_major_version_upgrade=allow)
                plan = await plan_stack(kinds, ctx, desired, OPTIONS)
                action = plan.by_key()[DB]
                assert action.type is ActionType.UPDATE and held in action.held, action
                mark = clients.recorder.mark()
                await reconcile_stack(kinds, ctx, desired, OPTIONS, write=True, classify=classify)
                assert clients.recorder.writes(mark) == []
                assert live_version() == "15.4"
            allowed = _with_db(base, engine_version="16.1", allow_major_version_upgrade=True)
            action = (await plan_stack(kinds, ctx, allowed, OPTIONS)).by_key()[DB]
            assert action.type is ActionType.UPDATE and not action.held
            mark = clients.recorder.mark()
            res = await reconcile_stack(kinds, ctx, allowed, OPTIONS, write=True, classify=classify)
            assert res.converged, res.execution
            writes = [c.operation for c in clients.recorder.writes(mark)]
            assert "ModifyDBInstance" in writes, writes
            assert live_version() == "16.1"
            # The permission is not a live field: turning it off again is no drift.
            assert (
                await plan_stack(
                    kinds, ctx, _with_db(allowed, allow_major_version_upgrade=False), OPTIONS
                )
            ).in_sync

    asyncio.run(run())
