"""End to end with a real Prometheus (Debian package `prometheus`, .ci/install-prometheus.sh):
moto, stack-bootstrap, `stackop run`, drift injected with awscli; every dashboard query and
alert expression is evaluated through Prometheus's HTTP API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import BIN, ROOT, free_port
from tests.operator_harness import (
    PORTAL_NAME,
    Operator,
    converged,
    network_only,
    open_port_out_of_band,
    push_text,
    spec_text,
    value,
    wait_for,
)
from tests.promql import DASHBOARDS, expand
from tests.test_alerts import rules
from tests.test_dashboards import load, queries

BUCKET = "stackop-e2e-specs"
PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus not installed (run .ci/install-prometheus.sh)"
)


class Prometheus:
    def __init__(self, target_port: int, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(DASHBOARDS / "alerts.yml")],
            "scrape_configs": [
                {
                    "job_name": "stackop",
                    "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}],
                }
            ],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.proc = subprocess.Popen(
            [
                str(PROMETHEUS),
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / "prometheus.err", "wb"),  # noqa: SIM115
        )
        wait_for(lambda: self.api("/api/v1/status/buildinfo"), 30, "prometheus up")

    def api(self, path: str, **params: str) -> Any:
        url = f"{self.url}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:  # 400 for an invalid query: keep the body
            return json.loads(exc.read())

    def query(self, expr: str) -> dict[str, Any]:
        return dict(self.api("/api/v1/query", query=expr))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


@pytest.fixture
def operator(endpoint: str, tmp_path: Path) -> Iterator[Operator]:
    empty = tmp_path / "no-specs"
    empty.mkdir()
    boot = subprocess.run(
        [
            str(BIN / "stack-bootstrap"),
            "--bucket",
            BUCKET,
            "--endpoint-url",
            endpoint,
            "--specs-dir",
            str(empty),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "STACKOP_CALL_LOG": str(tmp_path / "boot.jsonl")},
    )
    assert boot.returncode == 0, boot.stderr
    op = Operator(endpoint, BUCKET, tmp_path).start(resync=2, poll=1, lease=5)
    yield op
    op.kill()


def _observe_mode(spec: dict[str, Any]) -> None:
    network_only(spec)
    spec["mode"] = "observe"


def test_dashboard_and_alerts_through_prometheus(
    operator: Operator, endpoint: str, tmp_path: Path
) -> None:
    key = "specs/portal.yaml"
    push_text(endpoint, BUCKET, key, spec_text(PORTAL_NAME, network_only), tmp_path)
    wait_for(lambda: converged(operator, PORTAL_NAME), 90, "network converged")
    push_text(endpoint, BUCKET, key, spec_text(PORTAL_NAME, _observe_mode), tmp_path)
    wait_for(
        lambda: value(operator.metrics(), "stackop_stack_mode", stack=PORTAL_NAME, mode="observe"),
        20,
        "observe mode",
    )
    prom = Prometheus(operator.port, tmp_path)
    try:
        _drift_and_evaluate(prom, endpoint)
    finally:
        prom.stop()


def _drift_and_evaluate(prom: Prometheus, endpoint: str) -> None:
    open_port_out_of_band(endpoint, PORTAL_NAME, "alb", 2222, "10.99.0.0/16")

    drifted = 'sum(stackop_drifted_resources{stack="%s"})' % PORTAL_NAME  # noqa: UP031
    wait_for(
        lambda: float(r[0]["value"][1]) if (r := prom.query(drifted)["data"]["result"]) else None,
        30,
        "Prometheus sees the drift",
    )
    # rate() needs two scrapes inside its window before the rate panels have data.
    calls = "sum(rate(stackop_aws_api_calls_total[5m]))"
    wait_for(lambda: prom.query(calls)["data"]["result"], 30, "two scrapes of the API counter")
    dashboard = load()
    results = {}
    for where, expr in queries(dashboard).items():
        answer = prom.query(expand(expr).replace('stack=~".*"', f'stack=~"{PORTAL_NAME}"'))
        assert answer["status"] == "success", (where, answer)
        results[where] = answer["data"]["result"]

    assert float(results["Drifted resources now A"][0]["value"][1]) >= 1
    kinds = {r["metric"]["kind"] for r in results["Drifted resources by kind A"]}
    assert "security_group" in kinds
    rows = results["Drifted fields A"]
    assert any(
        r["metric"]["kind"] == "security_group" and r["metric"]["stack"] == PORTAL_NAME
        for r in rows
    )
    # Panels that must have data with a running operator and a converged stack.
    for where in (
        "Resources by state A",
        "Since last successful reconcile A",
        "AWS API calls by operation A",
    ):
        assert results[where], where

    for rule in rules():
        answer = prom.query(rule["expr"])
        assert answer["status"] == "success", (rule["alert"], answer)

    def drift_alert() -> list[dict[str, Any]]:
        alerts = prom.api("/api/v1/alerts")["data"]["alerts"]
        return [
            a for a in alerts
            if a["labels"]["alertname"] == "StackopDriftPersisting"
            and a["labels"].get("stack") == PORTAL_NAME
            and a["state"] == "pending"
        ]  # fmt: skip

    (pending,) = wait_for(drift_alert, 20, "StackopDriftPersisting pending")
    assert pending["labels"]["kind"] == "security_group"
    # The operator is scraped and up: the operator-down alert stays silent.
    down = prom.query('up{job="stackop"}')["data"]["result"]
    assert down and down[0]["value"][1] == "1"
