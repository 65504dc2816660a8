"""Environment variables the operator sets in a service's container itself.

A user variable or secret of the same name would be overwritten or doubled, so
validation refuses it. Render (controller/render/compute.py) is the source; a test
renders a service and checks this list against what it injects.
"""

from __future__ import annotations

# Injected into every service with `usesDatabase: true` (the last two as secrets).
DATABASE_VARIABLES = ("DB_HOST", "DB_PORT", "DB_NAME", "DB_USERNAME", "DB_PASSWORD")
