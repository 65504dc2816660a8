"""`make run`: the whole local experience against an embedded AWS emulator (moto server).

Starts moto on loopback, runs stack-bootstrap (spec bucket, events queue, roles, …),
pushes specs/portal.yaml with `stackop push`, runs the operator (`stackop run`) and,
when a `prometheus` binary is on PATH, a Prometheus scraping it with the alert rules
loaded. Ctrl-C stops everything. Nothing here touches a real AWS account: the endpoint
is always the local emulator. STACKOP_DEV_RUN_SECONDS=N stops after N seconds;
STACKOP_DEV_RUN_DIR moves the logs and Prometheus data out of .run/. On a terminal the
operator's progress shows as short lines; its JSON log is in .run/operator.log (and the
previous run's in .run/operator.previous.log).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from controller.devprogress import relay

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "portal.yaml"
RUN = Path(os.environ.get("STACKOP_DEV_RUN_DIR") or ROOT / ".run")
BUCKET = "stackop-dev-specs"
QUEUE = "stackop-spec-events"
PROGRESS = "STACKOP_DEV_PROGRESS"
"""Show the operator's progress lines even when stdout is not a terminal (tests)."""


def _free_port(preferred: int | None = None) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred or 0))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _tool(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def _step(cmd: list[str], env: dict[str, str]) -> None:
    shown = " ".join(Path(cmd[0]).name if i == 0 else c for i, c in enumerate(cmd))
    print(f"\n$ {shown}", flush=True)
    code = subprocess.call(cmd, env=env, cwd=ROOT)
    if code != 0:
        raise SystemExit(code)


def _prometheus(metrics_port: int, procs: list[subprocess.Popen[bytes]]) -> str | None:
    binary = shutil.which("prometheus")
    if binary is None:
        print("(no prometheus binary on PATH: skipping Prometheus; apt-get install prometheus)")
        return None
    port = _free_port(9090)
    config = RUN / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 5s\n"
        "  evaluation_interval: 5s\n"
        f"  external_labels: {{runbook_base: '{(ROOT / 'README.md').as_uri()}'}}\n"
        f"rule_files: ['{ROOT / 'dashboards' / 'alerts.yml'}']\n"
        "scrape_configs:\n"
        "  - job_name: stackop\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{metrics_port}']}}]\n"
    )
    log = open(RUN / "prometheus.log", "wb")  # noqa: SIM115  (owned by the process)
    procs.append(
        subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={RUN / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=log,
        )
    )
    _wait(f"http://127.0.0.1:{port}/-/ready")
    return f"http://127.0.0.1:{port}"


def _shown(path: Path) -> str:
    """`path` as typed from the checkout (where `make run` runs), else absolute."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def write_env_file(path: Path, env: dict[str, str]) -> None:
    """What a second shell needs to talk to the emulator: `source` it."""
    names = (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "STACKOP_ENDPOINT_URL",
        "STACKOP_BUCKET",
    )
    lines = [
        "# Written by `make run`: the local emulator (moto) and its test credentials.",
        "# `source` it in another shell; stackop, aws and stack-bootstrap then use moto.",
        "unset AWS_PROFILE AWS_SESSION_TOKEN",
        *(f"export {name}={shlex.quote(env[name])}" for name in names),
        f'export PATH={shlex.quote(str(Path(sys.executable).parent))}:"$PATH"',
    ]
    path.write_text("\n".join(lines) + "\n")


def _service_tasks(spec: Path) -> int:
    """The most tasks any service of `spec` starts with: moto reports that many running
    (MOTO_ECS_SERVICE_RUNNING; an update of desiredCount sets runningCount to it), since it
    runs no containers and would otherwise report 0 and raise StackopServiceBelowDesired."""
    from controller.render import render
    from controller.spec import load_spec_file

    counts = [
        int(r.params.get("desired_count") or r.params.get("initial_desired_count") or 0)
        for r in render(load_spec_file(spec).spec)
        if r.kind == "ecs_service"
    ]
    return max(counts, default=1)


def _alerts_page(prometheus: str) -> str:
    """Debian's Prometheus 2 serves the classic UI (/classic/alerts); Prometheus 3 has /alerts."""
    for page in ("/classic/alerts", "/alerts"):
        try:
            urllib.request.urlopen(prometheus + page, timeout=2).read()
            return prometheus + page
        except OSError:
            continue
    return prometheus + "/alerts"


def _queue_url(endpoint: str) -> str:
    import boto3

    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    return str(sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"])


def main() -> int:
    RUN.mkdir(exist_ok=True)
    port = int(os.environ.get("STACKOP_DEV_MOTO_PORT") or _free_port())
    endpoint = f"http://127.0.0.1:{port}"
    metrics_port = _free_port(int(os.environ.get("STACKOP_PORT") or 9100))
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "STACKOP_ENDPOINT_URL": endpoint,
        "STACKOP_BUCKET": BUCKET,
        "STACKOP_PORT": str(metrics_port),
        "STACKOP_HOST": "127.0.0.1",
    }
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    env_file = RUN / "env"
    write_env_file(env_file, env)
    moto_env = {**env, "MOTO_ECS_SERVICE_RUNNING": str(_service_tasks(SPEC))}
    os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")})
    procs: list[subprocess.Popen[bytes]] = []
    relay_thread: threading.Thread | None = None
    print(f"starting the AWS emulator (moto server) on {endpoint}", flush=True)
    procs.append(
        subprocess.Popen(
            [_tool("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            env=moto_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    try:
        _wait(f"{endpoint}/moto-api/")
        empty = RUN / "no-specs"
        empty.mkdir(exist_ok=True)
        _step(
            [_tool("stack-bootstrap"), "--bucket", BUCKET, "--events", "--specs-dir", str(empty)],
            env,
        )
        _step([_tool("stackop"), "push", str(SPEC)], env)
        env["STACKOP_QUEUE_URL"] = _queue_url(endpoint)
        log_path, previous = RUN / "operator.log", RUN / "operator.previous.log"
        if log_path.exists():
            log_path.replace(previous)  # the last run's log stays for a look after a restart
        terminal = sys.stdout if sys.stdout.isatty() or os.environ.get(PROGRESS) else None
        print(
            f"\n$ stackop run   (JSON logs in {_shown(log_path)}"
            + (f", the previous run's in {_shown(previous)})" if previous.exists() else ")"),
            flush=True,
        )
        log = open(log_path, "wb")  # noqa: SIM115  (owned by the relay thread)
        operator = subprocess.Popen(
            [_tool("stackop"), "run"], env=env, cwd=ROOT, stdout=subprocess.PIPE
        )
        assert operator.stdout is not None
        relay_thread = threading.Thread(
            target=relay, args=(operator.stdout, log, terminal), daemon=True
        )
        relay_thread.start()
        procs.append(operator)
        base = f"http://127.0.0.1:{metrics_port}"
        _wait(f"{base}/healthz")
        prometheus = _prometheus(metrics_port, procs)
        print(f"\noperator running against {endpoint} (bucket {BUCKET})")
        print(f"  metrics: {base}/metrics")
        print(f"  status:  {base}/status")
        if prometheus:
            print(f"  prometheus: {prometheus} (alerts: {_alerts_page(prometheus)})")
        print(
            "In another shell (the file sets moto's endpoint, the bucket, test credentials, PATH):"
        )
        for example in (
            f"source {shlex.quote(_shown(env_file))}",
            "stackop status",
            f"stackop push {shlex.quote(_shown(SPEC))}",
            "aws ec2 describe-vpcs --query 'Vpcs[].VpcId'",
        ):
            print(f"  $ {example}")
        print("Ctrl-C stops everything.", flush=True)
        limit = float(os.environ.get("STACKOP_DEV_RUN_SECONDS") or 0)
        started = time.monotonic()
        while operator.poll() is None and (not limit or time.monotonic() - started < limit):
            time.sleep(0.5)
        return operator.returncode or 0
    except KeyboardInterrupt:
        return 130
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(35)
            except subprocess.TimeoutExpired:
                proc.kill()
        if relay_thread is not None:
            relay_thread.join(5)  # the operator's last lines (shutdown) reach log and terminal


if __name__ == "__main__":
    sys.exit(main())
