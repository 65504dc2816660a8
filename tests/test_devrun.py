"""`make run` (python -m controller.devrun) as a real process: moto, bootstrap, push,
the operator converging the portal, and Prometheus when installed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from controller.render import render
from controller.spec import load_spec_file
from tests.conftest import ROOT, free_port
from tests.operator_harness import PORTAL, wait_for

SERVICES = sum(r.kind == "ecs_service" for r in render(load_spec_file(PORTAL).spec))


def service_tasks(port: int) -> dict[str, tuple[float, float]] | None:
    """(running, desired) tasks of every service, once all services report both."""
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    found: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name in ("stackop_service_running_tasks", "stackop_service_desired_tasks"):
                found.setdefault(s.labels["service"], {})[s.name] = s.value
    pairs = {
        name: (v["stackop_service_running_tasks"], v["stackop_service_desired_tasks"])
        for name, v in found.items()
        if len(v) == 2
    }
    return pairs if len(pairs) == SERVICES and len(found) == SERVICES else None


def new_shell(printed: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The commands `make run` printed for another shell, run as printed in a new shell
    with no AWS or stackop settings of its own."""
    start = next(i for i, line in enumerate(printed) if line.startswith("In another shell"))
    commands = [line[4:].strip() for line in printed[start:] if line.startswith("  $ ")]
    assert commands and commands[0].startswith("source "), printed
    home = tmp_path / "home"
    home.mkdir()
    clean = {"PATH": "/usr/bin:/bin", "HOME": str(home), "AWS_EC2_METADATA_DISABLED": "true"}
    script = "set -e\n" + "\n".join(commands) + "\n"
    return subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, cwd=ROOT, env=clean, timeout=60
    )


def test_make_run_bootstraps_pushes_and_runs_the_operator(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "STACKOP_DEV_RUN_SECONDS": "120",
        "STACKOP_DEV_RUN_DIR": str(tmp_path),
        "STACKOP_PORT": str(port),
        "STACKOP_DEV_PROGRESS": "1",  # the terminal lines, though stdout is a pipe here
    }
    (tmp_path / "operator.log").write_text('{"event": "from the previous run"}\n')
    env.pop("STACKOP_CALL_LOG", None)  # bootstrap's calls are not the operator's
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller.devrun"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert proc.stdout is not None
    head = []
    for line in proc.stdout:
        head.append(line)
        if line.startswith("Ctrl-C stops everything"):
            break
    second_shell = new_shell(head, tmp_path)
    tasks = wait_for(lambda: service_tasks(port), timeout=60, what="services with tasks")
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    rest, err = proc.communicate(timeout=180)
    out = "".join(head) + rest
    assert proc.returncode == 130, out[-3000:] + err[-3000:]
    assert second_shell.returncode == 0, second_shell.stdout + second_shell.stderr
    assert "customer-order-portal" in second_shell.stdout  # stackop status
    assert "pushed specs/portal.yaml to s3://stackop-dev-specs/" in second_shell.stdout
    assert "vpc-" in second_shell.stdout  # aws ec2 describe-vpcs, against moto
    # moto runs no tasks: it is told to report the desired count as running, so the
    # local demo raises no StackopServiceBelowDesired
    assert all(running == desired > 0 for running, desired in tasks.values()), tasks
    assert "change(s) made." in out  # stack-bootstrap from empty
    assert "pushed " in out and "specs/portal.yaml" in out
    assert f"metrics: http://127.0.0.1:{port}/metrics" in out
    assert f"status:  http://127.0.0.1:{port}/status" in out
    if shutil.which("prometheus"):
        assert "prometheus: http://127.0.0.1:" in out
        assert (tmp_path / "prometheus.yml").read_text().count(f"127.0.0.1:{port}") == 1
    # progress as short human lines, the JSON only in the log; the last run's log is kept
    assert "customer-order-portal-production: spec version " in out
    assert "customer-order-portal-production: + vpc/" in out
    assert "reconciled in " in out and "in sync (" in out
    assert not [line for line in out.splitlines() if line.lstrip().startswith("{")]
    assert "from the previous run" in (tmp_path / "operator.previous.log").read_text()
    events = [
        json.loads(line)
        for line in (tmp_path / "operator.log").read_text().splitlines()
        if line.startswith("{")
    ]
    done = [e for e in events if e.get("event") == "reconcile_done"]
    assert done and done[0]["result"] == "success", done
    assert any(e.get("event") == "shutdown_started" for e in events)  # stopped cleanly
