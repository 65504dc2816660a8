"""The Grafana dashboard: importable, its variables, and every query reads only
metrics `stackop run` exports and parses as PromQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.promql import (
    DASHBOARDS,
    check_exprs_with_promtool,
    exported_series,
    metric_names,
    promtool,
)

DASHBOARD = DASHBOARDS / "stackop-drift.json"


def load() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def queries(dashboard: dict[str, Any]) -> dict[str, str]:
    """Every PromQL expression: panel targets, the variables' queries, annotations."""
    out: dict[str, str] = {}
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            out[f"{panel['title']} {target['refId']}"] = target["expr"]
    for ann in dashboard["annotations"]["list"]:
        if "expr" in ann:
            out[f"annotation {ann['name']}"] = ann["expr"]
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            q = var["query"]["query"]
            # label_values(<selector>, label): the selector is the PromQL part.
            out[f"variable {var['name']}"] = q[len("label_values(") : q.rindex(",")]
    return out


def test_dashboard_is_importable_with_datasource_and_stack_variables() -> None:
    d = load()
    assert d["uid"] and d["title"] and d["schemaVersion"] >= 36
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["stack"]["type"] == "query" and variables["stack"]["includeAll"]
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    for panel in d["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
        if any("stack=" in t["expr"] for t in panel["targets"]):
            assert all('stack=~"$stack"' in t["expr"] for t in panel["targets"]), panel["title"]


def test_dashboard_has_the_panels_the_issue_asks_for() -> None:
    d = load()
    titles = {p["title"] for p in d["panels"]}
    for wanted in (
        "Drifted resources now",
        "Drifted resources by kind",
        "Drifted fields",
        "Drift detected vs corrected",
        "Reconcile rate by result",
        "Reconcile duration",
        "Reconcile errors and writes",
        "AWS API calls by operation",
        "Throttled and failed AWS calls",
        "$service: tasks",
        "CPU utilisation",
        "Memory utilisation",
        "Target health",
        "Recent drift corrections",
    ):
        assert wanted in titles
    table = next(p for p in d["panels"] if p["title"] == "Drifted fields")
    assert table["type"] == "table" and table["targets"][0]["format"] == "table"
    corrections = next(p for p in d["panels"] if p["title"] == "Recent drift corrections")
    assert corrections["type"] == "table" and corrections["targets"][0]["format"] == "table"
    assert "stackop_drift_last_corrected_timestamp_seconds" in corrections["targets"][0]["expr"]
    repeated = next(p for p in d["panels"] if p.get("repeat"))
    exprs = " ".join(t["expr"] for t in repeated["targets"])
    for metric in ("desired", "running", "min", "max"):
        assert f"stackop_service_{metric}_tasks" in exprs
    annotation = next(a for a in d["annotations"]["list"] if a.get("expr"))
    assert "stackop_spec_info" in annotation["expr"]


FLAGS = ("stackop_spec_invalid", "stackop_stack_paused", "stackop_lease_held")


def test_zero_one_values_are_shown_as_words() -> None:
    """Every query of a 0/1 gauge has a value mapping for both values (by refId)."""
    shown = 0
    for panel in load()["panels"]:
        overrides = panel.get("fieldConfig", {}).get("overrides", [])
        for target in panel.get("targets", []):
            if not any(flag in target["expr"] for flag in FLAGS):
                continue
            mapped = [
                prop["value"]
                for o in overrides
                if o["matcher"] == {"id": "byFrameRefID", "options": target["refId"]}
                for prop in o["properties"]
                if prop["id"] == "mappings"
            ]
            assert mapped, (panel["title"], target["expr"])
            options = mapped[0][0]["options"]
            assert options["0"]["text"] and options["1"]["text"], options
            assert options["0"]["text"] != options["1"]["text"]
            shown += 1
    assert shown >= len(FLAGS)


def test_every_query_names_only_exported_metrics() -> None:
    exported = exported_series()
    assert "stackop_drifted_resources" in exported  # the registry is really loaded
    used: set[str] = set()
    for where, expr in queries(load()).items():
        names = metric_names(expr)
        assert names, f"{where}: no metric in {expr!r}"
        assert names <= exported, f"{where}: not exported: {sorted(names - exported)}"
        used |= names
    # The drift, reconcile, API and scaling families all appear somewhere.
    for family in (
        "stackop_drifted_fields",
        "stackop_drift_detected_total",
        "stackop_drift_corrected_total",
        "stackop_reconcile_duration_seconds_bucket",
        "stackop_aws_api_calls_total",
        "stackop_service_running_tasks",
        "stackop_target_unhealthy",
    ):
        assert family in used


def test_metric_name_extraction() -> None:
    expr = 'histogram_quantile(0.9, sum by (le) (rate(a_bucket{stack=~"$stack"}[5m]))) / on (x) b'
    assert metric_names(expr) == {"a_bucket", "b"}
    assert metric_names('time() - max by (stack) (c{k="v, w"} offset 1m)') == {"c"}


@pytest.mark.skipif(promtool() is None, reason="promtool not installed (.ci/install-prometheus.sh)")
def test_every_query_parses(tmp_path: Path) -> None:
    from tests.promql import expand

    exprs = {where: expand(e) for where, e in queries(load()).items()}
    result = check_exprs_with_promtool(exprs, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout
