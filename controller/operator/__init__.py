"""The long-running operator: spec source, work queue, leases, status, metrics, HTTP.

Public surface: `OperatorConfig` and `run_operator` (used by `stackop run`). Imported
lazily so that `stackop plan` and friends do not pay for the server's imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from controller.operator.config import OperatorConfig
    from controller.operator.runner import run_operator

__all__ = ["OperatorConfig", "run_operator"]


def __getattr__(name: str) -> Any:
    if name == "OperatorConfig":
        from controller.operator.config import OperatorConfig

        return OperatorConfig
    if name == "run_operator":
        from controller.operator.runner import run_operator

        return run_operator
    raise AttributeError(name)
