"""PromQL helpers for the dashboard and alert tests: metric names an expression reads,
the series names the operator exports, and promtool for syntax."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = ROOT / "dashboards"

FUNCTIONS_AND_KEYWORDS = frozenset(
    {
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
        "group",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "and",
        "or",
        "unless",
        "offset",
        "bool",
        "inf",
        "nan",
    }
)
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
    "$stack": ".*",
    "$service": ".*",
}


def expand(expr: str) -> str:
    """A dashboard expression as Prometheus sees it once Grafana filled in its variables."""
    for var, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(var, value)
    return expr


def metric_names(expr: str) -> set[str]:
    """Metric names read by `expr` (label matchers, strings, durations and functions removed)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expand(expr))
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if call or word in FUNCTIONS_AND_KEYWORDS:
            continue
        names.add(word)
    return names


def exported_series() -> set[str]:
    """Every series name `stackop run` exports (counters as _total, histograms' parts)."""
    from prometheus_client import REGISTRY

    import controller.aws.calls
    import controller.operator.metrics  # noqa: F401  (registers the metrics)

    names: set[str] = set()
    for family in REGISTRY.collect():
        if not family.name.startswith("stackop_"):
            continue
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names.update(f"{family.name}_{part}" for part in ("bucket", "count", "sum"))
        else:
            names.add(family.name)
    return names


def promtool() -> str | None:
    return shutil.which("promtool")


def check_exprs_with_promtool(exprs: dict[str, str], tmp: Path) -> subprocess.CompletedProcess[str]:
    """promtool parses every expression (as recording rules): syntax and types."""
    rules = [
        {"record": f"check:{i}", "expr": expr, "labels": {"source": name[:200]}}
        for i, (name, expr) in enumerate(exprs.items())
    ]
    path = tmp / "exprs.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "exprs", "rules": rules}]}))
    tool = promtool()
    assert tool is not None
    return subprocess.run([tool, "check", "rules", str(path)], capture_output=True, text=True)
