"""Alert rules: promtool checks and unit-tests them; every expression reads only what the
operator exports (plus Prometheus's own `up` for the operator-down alert)."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml

from tests.promql import DASHBOARDS, exported_series, metric_names, promtool

RULES = DASHBOARDS / "alerts.yml"
RULE_TESTS = DASHBOARDS / "alerts.test.yml"
REQUIRED = {
    "StackopDriftPersisting",
    "StackopReconcileFailing",
    "StackopOperatorDown",
    "StackopSpecInvalid",
    "StackopServiceBelowDesired",
    "StackopLeaseLost",
    "StackopNoRecentSuccess",
}
needs_promtool = pytest.mark.skipif(
    promtool() is None, reason="promtool not installed (run .ci/install-prometheus.sh)"
)


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [r for group in doc["groups"] for r in group["rules"]]


def test_required_alerts_exist_with_severity_and_summary() -> None:
    found = {r["alert"]: r for r in rules()}
    assert set(found) >= REQUIRED
    for rule in found.values():
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]


def test_every_alert_links_its_readme_section() -> None:
    """runbook_url: the README anchor of the alert's own heading (### AlertName), under
    the runbook_base external label (where the deployment serves README.md)."""
    for rule in rules():
        url = rule["annotations"]["runbook_url"]
        assert url == "{{ $externalLabels.runbook_base }}#" + rule["alert"].lower(), rule


def test_alert_expressions_read_only_exported_metrics() -> None:
    allowed = exported_series() | {"up"}
    for rule in rules():
        names = metric_names(rule["expr"])
        assert names and names <= allowed, (rule["alert"], sorted(names - allowed))


def test_every_alert_has_a_unit_test() -> None:
    doc = yaml.safe_load(RULE_TESTS.read_text())
    tested = {
        case["alertname"]
        for test in doc["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert tested == {r["alert"] for r in rules()}


@needs_promtool
def test_promtool_check_rules() -> None:
    result = subprocess.run(
        [str(promtool()), "check", "rules", str(RULES)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


@needs_promtool
def test_promtool_test_rules() -> None:
    result = subprocess.run(
        [str(promtool()), "test", "rules", RULE_TESTS.name],
        capture_output=True,
        text=True,
        cwd=DASHBOARDS,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
