"""spec.database -> DB subnet group over the data subnets and the PostgreSQL instance."""

from __future__ import annotations

from controller.engine import DesiredResource, Ref
from controller.render.common import resource_tags
from controller.render.network import security_group_id, subnet_ids
from controller.spec.model import StackSpec
from controller.spec.naming import database_identifier


def render_database(spec: StackSpec) -> list[DesiredResource]:
    db = spec.spec.database
    if not db.enabled:
        return []
    identifier = database_identifier(spec.metadata.name).lower()
    return [
        DesiredResource(
            "db_subnet_group",
            "main",
            {
                # Not the instance identifier: distinct names keep references unambiguous.
                "name": f"{identifier}-subnets",
                "description": f"{spec.metadata.name}: private data subnets",
                "subnet_ids": subnet_ids(spec, "data"),
                "tags": resource_tags(spec, "db"),
            },
        ),
        DesiredResource(
            "db_instance",
            "main",
            {
                "identifier": identifier,
                "engine": db.engine,
                "engine_version": db.engine_version,
                "allow_major_version_upgrade": db.allow_major_version_upgrade,
                "instance_class": db.instance_class,
                "allocated_storage": db.allocated_storage,
                "max_allocated_storage": db.max_allocated_storage,
                "multi_az": db.multi_az,
                "backup_retention_days": db.backup_retention_days,
                "storage_encrypted": db.storage_encrypted,
                "deletion_protection": db.deletion_protection,
                "deletion_policy": db.deletion_policy,
                "db_name": db.database_name,
                "master_username": db.master_username,
                "manage_master_password": True,
                "port": db.port,
                "subnet_group_name": Ref("db_subnet_group", "main", "name"),
                "security_group_ids": [security_group_id("database")],
                "tags": resource_tags(spec, "db"),
            },
        ),
    ]
