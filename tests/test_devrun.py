"""`make run` (python -m controller.devrun) as a real process: moto, bootstrap, push,
the operator converging the portal, and Prometheus when installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, free_port


def test_make_run_bootstraps_pushes_and_runs_the_operator(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "STACKOP_DEV_RUN_SECONDS": "20",
        "STACKOP_DEV_RUN_DIR": str(tmp_path),
        "STACKOP_PORT": str(port),
    }
    env.pop("STACKOP_CALL_LOG", None)  # bootstrap's calls are not the operator's
    result = subprocess.run(
        [sys.executable, "-m", "controller.devrun"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "change(s) made." in out  # stack-bootstrap from empty
    assert "pushed " in out and "specs/portal.yaml" in out
    assert f"metrics: http://127.0.0.1:{port}/metrics" in out
    assert f"status:  http://127.0.0.1:{port}/status" in out
    if shutil.which("prometheus"):
        assert "prometheus: http://127.0.0.1:" in out
        assert (tmp_path / "prometheus.yml").read_text().count(f"127.0.0.1:{port}") == 1
    events = [
        json.loads(line)
        for line in (tmp_path / "operator.log").read_text().splitlines()
        if line.startswith("{")
    ]
    done = [e for e in events if e.get("event") == "reconcile_done"]
    assert done and done[0]["result"] == "success", done
    assert any(e.get("event") == "shutdown_started" for e in events)  # stopped cleanly
