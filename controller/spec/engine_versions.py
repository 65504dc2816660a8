"""PostgreSQL engine versions, as far as a spec can know them offline.

Whether a change is possible depends on the live version, which only a plan sees
(controller/kinds/rds_versions.py); here: the version's form and its major version.
"""

from __future__ import annotations

import re

from controller.spec.errors import clip

# Majors RDS for PostgreSQL offers for new instances (11 and 12 under RDS Extended Support).
SUPPORTED_MAJORS = tuple(range(11, 19))
# `16`, `16.4`, or an Extended Support release such as `11.22-rds.20240418`.
VERSION = re.compile(r"^(?P<major>[1-9][0-9]{0,2})(?:\.(?P<minor>[0-9]{1,3}))?(?:-rds\.[0-9]{8})?$")


def version_problem(version: str) -> str | None:
    """Why RDS would refuse `version` for a PostgreSQL instance, or None."""
    m = VERSION.match(version)
    majors = f"{SUPPORTED_MAJORS[0]} to {SUPPORTED_MAJORS[-1]}"
    if m is None:
        return (
            f"{clip(repr(version))} is not a PostgreSQL version; write a major (e.g. 16) "
            "or major.minor (e.g. 16.4)"
        )
    if int(m["major"]) not in SUPPORTED_MAJORS:
        return f"PostgreSQL {m['major']} is not offered by RDS; use a major version from {majors}"
    return None
