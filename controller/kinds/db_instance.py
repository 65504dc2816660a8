"""RDS PostgreSQL instance with an RDS-managed master password (Secrets Manager).

- No password ever passes through here: ManageMasterUserPassword makes RDS create and
  hold it; only the secret's ARN is an output.
- DescribeDBInstances cannot filter by tag: ours are found by identifier prefix in one
  paginated call and confirmed from TagList.
- The deletion policy and the deletion-protection intent are kept in tags, so they
  still apply once the database has left the spec (teardown or removal).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from controller.aws.errors import error_code
from controller.engine import (
    CreatePlan,
    Delta,
    Kind,
    KindContext,
    Observed,
    Resolved,
    Retryable,
    Terminal,
)
from controller.engine.kind import DeletionMode
from controller.kinds.rds_versions import refused_version_change
from controller.kinds.tags_common import (
    desired_tags,
    ignore_not_found,
    live_tags,
    params_by_id,
    tag_list,
    tag_map,
)

POLICY_TAG = "stackop:deletion-policy"
PROTECTION_TAG = "stackop:deletion-protection"
DEFAULT_POLICY = "snapshot"
# States in which the database serves connections; dependants wait for these only.
SERVING = frozenset(
    {
        "available",
        "backing-up",
        "modifying",
        "storage-optimization",
        "configuring-enhanced-monitoring",
        "configuring-log-exports",
        "maintenance",
    }
)
# modify_db_instance argument for each field that can change in place.
MODIFY_ARGS = {
    "engine_version": "EngineVersion",
    "instance_class": "DBInstanceClass",
    "allocated_storage": "AllocatedStorage",
    "max_allocated_storage": "MaxAllocatedStorage",
    "multi_az": "MultiAZ",
    "backup_retention_days": "BackupRetentionPeriod",
    "deletion_protection": "DeletionProtection",
    "port": "DBPortNumber",
    "security_group_ids": "VpcSecurityGroupIds",
    "manage_master_password": "ManageMasterUserPassword",
}


def _version_parts(version: str) -> list[int]:
    return [int(p) for p in re.findall(r"\d+", version)]


def same_engine_version(wanted: str, live: str) -> bool:
    """Live matches the spec when equal, or a newer minor of the same major (auto upgrade)."""
    if wanted == live:
        return True
    w, v = _version_parts(wanted), _version_parts(live)
    if not w or not v or w[0] != v[0]:
        return False
    return v[: len(w)] == w or v >= w


def final_snapshot_name(identifier: str, created: str) -> str:
    """`<identifier>-final-<creation time>`: unique per instance and the same in plan and apply."""
    try:
        stamp = datetime.fromisoformat(created).strftime("%Y%m%d-%H%M%S")
    except ValueError:
        stamp = re.sub(r"[^0-9]", "", created)[:14] or "0"
    return re.sub(r"-+", "-", f"{identifier}-final-{stamp}")[:255]


class DbInstance(Kind):
    name = "db_instance"
    service = "rds"
    iam_actions = (
        "rds:DescribeDBInstances",
        "rds:DescribeDBSnapshots",
        "rds:CreateDBInstance",
        "rds:RestoreDBInstanceFromDBSnapshot",
        "rds:ModifyDBInstance",
        "rds:AddTagsToResource",
        "rds:DeleteDBInstance",
        "rds:CreateDBSnapshot",
        "secretsmanager:CreateSecret",
        "secretsmanager:TagResource",
        "kms:DescribeKey",
    )
    replace_fields = frozenset(
        {"identifier", "engine", "storage_encrypted", "db_name", "master_username"}
    )
    unordered_fields = frozenset({"security_group_ids"})
    ignore_fields = frozenset({"allow_major_version_upgrade"})  # a permission, not a field
    protects_data = True
    binds_referrers = False  # referrers only name it

    def check_update(self, desired: Resolved, observed: Observed, delta: Delta) -> str | None:
        if not delta.changed("engine_version"):
            return None
        return refused_version_change(
            str(observed.fields.get("engine_version", "")),
            str(desired.params.get("engine_version", "")),
            bool(desired.params.get("allow_major_version_upgrade")),
        )

    async def _owned(self, ctx: KindContext) -> dict[str, dict[str, Any]]:
        rds = await ctx.client("rds")
        prefix = ctx.stack[:20].lower()
        found: dict[str, dict[str, Any]] = {}
        async for page in rds.get_paginator("describe_db_instances").paginate():
            for db in page.get("DBInstances", []):
                if not db["DBInstanceIdentifier"].startswith(prefix):
                    continue
                if db.get("DBInstanceStatus") == "deleting":
                    continue  # on its way out; a new one may take its place
                logical_id = ctx.owns(tag_map(db.get("TagList")))
                if logical_id is not None and logical_id not in found:
                    found[logical_id] = db
        return found

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        params = params_by_id(desired)
        return {
            lid: self._observed(ctx, lid, db, params.get(lid))
            for lid, db in (await self._owned(ctx)).items()
        }

    def _observed(
        self,
        ctx: KindContext,
        logical_id: str,
        db: Mapping[str, Any],
        params: Mapping[str, Any] | None = None,
    ) -> Observed:
        tags = tag_map(db.get("TagList"))
        identifier = db["DBInstanceIdentifier"]
        version = str(db.get("EngineVersion", ""))
        wanted_version = str((params or {}).get("engine_version", ""))
        if wanted_version and same_engine_version(wanted_version, version):
            version = wanted_version
        endpoint = db.get("Endpoint") or {}
        secret = db.get("MasterUserSecret") or {}
        status = str(db.get("DBInstanceStatus", ""))
        protection_intent = tags.get(PROTECTION_TAG)
        return Observed(
            logical_id=logical_id,
            physical_id=identifier,
            fields={
                "identifier": identifier,
                "engine": db.get("Engine"),
                "engine_version": version,
                "instance_class": db.get("DBInstanceClass"),
                "allocated_storage": db.get("AllocatedStorage"),
                "max_allocated_storage": db.get("MaxAllocatedStorage"),
                "multi_az": db.get("MultiAZ"),
                "backup_retention_days": db.get("BackupRetentionPeriod"),
                "storage_encrypted": db.get("StorageEncrypted"),
                "deletion_protection": db.get("DeletionProtection"),
                "deletion_policy": tags.get(POLICY_TAG, DEFAULT_POLICY),
                "db_name": db.get("DBName"),
                "master_username": db.get("MasterUsername"),
                "manage_master_password": bool(secret.get("SecretArn")),
                "port": endpoint.get("Port") or db.get("DbInstancePort"),
                "subnet_group_name": (db.get("DBSubnetGroup") or {}).get("DBSubnetGroupName"),
                "security_group_ids": [
                    g["VpcSecurityGroupId"] for g in db.get("VpcSecurityGroups", [])
                ],
                "tags": live_tags(ctx, self.name, logical_id, tags, params),
            },
            outputs={
                "id": identifier,
                "arn": db.get("DBInstanceArn", ""),
                "endpoint": endpoint.get("Address", ""),
                # A string: it is used in environment variables and URLs.
                "port": str(endpoint.get("Port") or db.get("DbInstancePort") or ""),
                "secret_arn": secret.get("SecretArn", ""),
                "db_name": db.get("DBName") or "",
            },
            ready=status in SERVING,
            status=status,
            private={
                "created": str(db.get("InstanceCreateTime", "")),
                "protection_intent": protection_intent == "true",
            },
        )

    def _tags(self, ctx: KindContext, desired: Resolved) -> dict[str, str]:
        p = desired.params
        extra = {
            POLICY_TAG: str(p["deletion_policy"]),
            PROTECTION_TAG: "true" if p["deletion_protection"] else "false",
        }
        return desired_tags(ctx, self.name, desired.logical_id, p, extra)

    # -- a database that is absent: restore it, never recreate it empty -------------

    async def _newest_snapshot(self, ctx: KindContext, desired: Resolved) -> dict[str, Any] | None:
        """The newest available snapshot of this database's identifier that carries our
        ownership tags (CopyTagsToSnapshot puts them on every snapshot of it)."""
        rds = await ctx.client("rds")
        newest: dict[str, Any] | None = None
        async for page in rds.get_paginator("describe_db_snapshots").paginate(
            DBInstanceIdentifier=desired.params["identifier"]
        ):
            for snap in page.get("DBSnapshots", []):
                if snap.get("Status") != "available":
                    continue
                if ctx.owns(tag_map(snap.get("TagList"))) != desired.logical_id:
                    continue
                if newest is None or str(snap.get("SnapshotCreateTime", "")) > str(
                    newest.get("SnapshotCreateTime", "")
                ):
                    newest = snap
        return newest

    async def prepare_create(
        self, ctx: KindContext, desired: Resolved, existed: bool
    ) -> CreatePlan:
        snapshot = await self._newest_snapshot(ctx, desired)
        if snapshot is not None:
            name = snapshot["DBSnapshotIdentifier"]
            return CreatePlan(
                note=(
                    f"restore from snapshot {name} (taken {snapshot.get('SnapshotCreateTime')}), "
                    f"the newest of {desired.params['identifier']}"
                ),
                create_with={"snapshot": name},
            )
        if existed:
            key = desired.key
            return CreatePlan(
                held=(
                    f"{key} ({desired.params['identifier']}) existed and is gone with no "
                    "snapshot; creating it would make an empty database: restore it by hand "
                    f"or add {key!r} to spec.safety.allowReplace to create an empty one"
                )
            )
        return CreatePlan()

    async def _restore(self, ctx: KindContext, desired: Resolved, snapshot: str) -> dict[str, Any]:
        """The database back from `snapshot`; what a restore cannot set (storage limits,
        backup retention, engine version) is corrected by the next update."""
        rds = await ctx.client("rds")
        p = desired.params
        resp = await rds.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier=p["identifier"],
            DBSnapshotIdentifier=snapshot,
            DBInstanceClass=p["instance_class"],
            MultiAZ=p["multi_az"],
            Port=p["port"],
            DBSubnetGroupName=p["subnet_group_name"],
            VpcSecurityGroupIds=list(p["security_group_ids"]),
            DeletionProtection=p["deletion_protection"],
            ManageMasterUserPassword=True,
            PubliclyAccessible=False,
            CopyTagsToSnapshot=True,
            Tags=tag_list(self._tags(ctx, desired)),
        )
        return dict(resp["DBInstance"])

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        existing = (await self._owned(ctx)).get(desired.logical_id)
        if existing is not None:
            return self._observed(ctx, desired.logical_id, existing, desired.params)
        snapshot = desired.create_with.get("snapshot")
        if snapshot:
            db = await self._restore(ctx, desired, str(snapshot))
            return self._observed(ctx, desired.logical_id, db, desired.params)
        rds = await ctx.client("rds")
        p = desired.params
        args: dict[str, Any] = {
            "DBInstanceIdentifier": p["identifier"],
            "Engine": p["engine"],
            "EngineVersion": p["engine_version"],
            "DBInstanceClass": p["instance_class"],
            "AllocatedStorage": p["allocated_storage"],
            "MultiAZ": p["multi_az"],
            "BackupRetentionPeriod": p["backup_retention_days"],
            "StorageEncrypted": p["storage_encrypted"],
            "DeletionProtection": p["deletion_protection"],
            "DBName": p["db_name"],
            "MasterUsername": p["master_username"],
            "ManageMasterUserPassword": True,
            "Port": p["port"],
            "DBSubnetGroupName": p["subnet_group_name"],
            "VpcSecurityGroupIds": list(p["security_group_ids"]),
            "PubliclyAccessible": False,
            "CopyTagsToSnapshot": True,
            "Tags": tag_list(self._tags(ctx, desired)),
        }
        if p.get("max_allocated_storage"):
            args["MaxAllocatedStorage"] = p["max_allocated_storage"]
        try:
            db = (await rds.create_db_instance(**args))["DBInstance"]
        except Exception as exc:
            if error_code(exc) == "DBInstanceAlreadyExists":
                raise Terminal(
                    f"a database named {p['identifier']} exists and is not this stack's"
                ) from exc
            raise
        return self._observed(ctx, desired.logical_id, db, p)

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        rds = await ctx.client("rds")
        p = desired.params
        modify: dict[str, Any] = {
            arg: p[field] for field, arg in MODIFY_ARGS.items() if delta.changed(field)
        }
        db: Mapping[str, Any] | None = None
        if modify:
            if observed.status != "available":
                raise Retryable(
                    f"database is {observed.status}; it is modified once available", after=30.0
                )
            if "EngineVersion" in modify:
                old = _version_parts(str(observed.fields.get("engine_version", "")))
                new = _version_parts(str(p["engine_version"]))
                modify["AllowMajorVersionUpgrade"] = bool(old and new and old[0] != new[0])
            if "VpcSecurityGroupIds" in modify:
                modify["VpcSecurityGroupIds"] = list(modify["VpcSecurityGroupIds"])
            db = (
                await rds.modify_db_instance(
                    DBInstanceIdentifier=observed.physical_id, ApplyImmediately=True, **modify
                )
            )["DBInstance"]
        if delta.changed("tags") or delta.changed("deletion_policy") or modify:
            await rds.add_tags_to_resource(
                ResourceName=observed.outputs["arn"], Tags=tag_list(self._tags(ctx, desired))
            )
        (db,) = (await rds.describe_db_instances(DBInstanceIdentifier=observed.physical_id))[
            "DBInstances"
        ]
        return self._observed(ctx, desired.logical_id, db, p)

    # -- deletion policy -------------------------------------------------------------

    def _final_snapshot(self, observed: Observed) -> str:
        name = observed.private.get("final_snapshot")
        if not name:
            name = final_snapshot_name(observed.physical_id, observed.private.get("created", ""))
            observed.private["final_snapshot"] = name
        return str(name)

    def deletion(self, observed: Observed) -> tuple[DeletionMode, str]:
        policy = observed.fields.get("deletion_policy", DEFAULT_POLICY)
        if policy == "retain":
            return "retain", (
                f"deletionPolicy retain: {observed.physical_id} is left running and no "
                "longer changed by this stack"
            )
        if policy == "delete":
            return "delete", "deletionPolicy delete: no final snapshot"
        note = f"final snapshot {self._final_snapshot(observed)}, then delete"
        if observed.fields.get("deletion_protection"):
            note += " (deletion protection is lifted for this delete)"
        return "delete", note

    def check_deletable(self, observed: Observed) -> str | None:
        if observed.fields.get("deletion_policy") != "delete":
            return None
        if observed.fields.get("deletion_protection") or observed.private.get("protection_intent"):
            return (
                f"refusing to delete {observed.physical_id}: deletion protection is on and "
                "deletionPolicy is delete (no final snapshot). Turn "
                "spec.database.deletionProtection off and apply first, or use "
                "deletionPolicy snapshot or retain"
            )
        return None

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        policy = observed.fields.get("deletion_policy", DEFAULT_POLICY)
        if policy == "retain":
            return
        refusal = self.check_deletable(observed)
        if refusal:
            raise Terminal(refusal)
        rds = await ctx.client("rds")
        listed = await ignore_not_found(
            rds.describe_db_instances(DBInstanceIdentifier=observed.physical_id)
        )
        if not listed or not listed["DBInstances"]:
            return
        db = listed["DBInstances"][0]
        if db.get("DBInstanceStatus") == "deleting":
            return
        if db.get("DeletionProtection"):  # snapshot policy: the data stays in the snapshot
            await rds.modify_db_instance(
                DBInstanceIdentifier=observed.physical_id,
                DeletionProtection=False,
                ApplyImmediately=True,
            )
        args: dict[str, Any] = {"DBInstanceIdentifier": observed.physical_id}
        if policy == "delete":
            args["SkipFinalSnapshot"] = True
        else:
            args["SkipFinalSnapshot"] = False
            args["FinalDBSnapshotIdentifier"] = self._final_snapshot(observed)
        await ignore_not_found(rds.delete_db_instance(**args))
