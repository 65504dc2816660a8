"""The long-running operator: spec source, work queue, leases, status, metrics, HTTP.

Public surface: `OperatorConfig` and `run_operator` (used by `stackop run`).
"""

from controller.operator.config import OperatorConfig
from controller.operator.runner import run_operator

__all__ = ["OperatorConfig", "run_operator"]
