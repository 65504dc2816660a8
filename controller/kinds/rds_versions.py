"""Which engine version changes RDS makes in place, decided before any call is sent.

RDS refuses a downgrade (minor or major) outright, and a major upgrade unless the request
says AllowMajorVersionUpgrade. A major upgrade cannot be undone, so it happens only when
the spec allows it (`spec.database.allowMajorVersionUpgrade`); otherwise it is held.
"""

from __future__ import annotations

import re


def version_parts(version: str) -> tuple[int, ...]:
    """`15.4` -> (15, 4); an Extended Support suffix (`-rds.20240418`) is not compared."""
    return tuple(int(p) for p in re.findall(r"\d+", version.split("-", 1)[0]))


def refused_version_change(live: str, wanted: str, allow_major: bool) -> str | None:
    """Why changing a running database from `live` to `wanted` must not be tried, or None.

    A `wanted` that names only a major (`15` for a live 15.4) is no change.
    """
    old, new = version_parts(live), version_parts(wanted)
    if not old or not new or old[: len(new)] == new:
        return None
    if new < old[: len(new)]:
        return (
            f"engine version {wanted} is older than the running {live}; RDS cannot downgrade "
            f"in place: keep engineVersion at {live} or newer (to go back, restore a snapshot "
            "into a new database)"
        )
    if new[0] != old[0] and not allow_major:
        return (
            f"engine version {live} -> {wanted} is a major version upgrade, which cannot be "
            "undone; set spec.database.allowMajorVersionUpgrade: true to let RDS upgrade "
            "the running database"
        )
    return None
