"""Errors a user can cause end in one line naming the cause and the fix (exit 1); usage
errors exit 2. Real `stackop` processes against moto, a closed port or a taken port."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import BIN, free_port, run_stackop
from tests.operator_harness import PORTAL, make_bucket, wait_for

BUCKET = "stackop-cli-errors"
AWS_COMMANDS = {
    "status": ["status"],
    "push": ["push", str(PORTAL)],
    "run": ["run", "--port", "0"],
    "history": ["history", "portal"],
}


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The whole stderr of a failed command, checked to be one line with no traceback."""
    err = proc.stderr.strip()
    assert err and "\n" not in err and "Traceback" not in err, proc.stderr
    return err


def each_command(
    extra: list[str], env: dict[str, str] | None = None, timeout: float = 60
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every AWS-talking command with the same options, in parallel (options after it)."""
    with ThreadPoolExecutor(len(AWS_COMMANDS)) as pool:
        futures = {
            name: pool.submit(run_stackop, *args, *extra, env=env, timeout=timeout)
            for name, args in AWS_COMMANDS.items()
        }
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture
def no_credentials(tmp_path: Path) -> Iterator[dict[str, str]]:
    saved = {k: os.environ.pop(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    saved.update({k: os.environ.pop(k) for k in ("AWS_SESSION_TOKEN",) if k in os.environ})
    yield {
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    os.environ.update(saved)


def test_no_credentials_is_one_line_naming_the_variables(
    endpoint: str, no_credentials: dict[str, str]
) -> None:
    make_bucket(endpoint, BUCKET)
    results = each_command(["--endpoint-url", endpoint, "--bucket", BUCKET], no_credentials)
    for name, proc in results.items():
        assert proc.returncode == 1, (name, proc.stderr)
        err = one_line(proc)
        assert "no AWS credentials" in err and "AWS_ACCESS_KEY_ID" in err, (name, err)


def test_endpoint_down_fails_fast_naming_the_endpoint() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    results = each_command(["--endpoint-url", closed, "--bucket", BUCKET])
    elapsed = time.monotonic() - started
    for name, proc in results.items():
        assert proc.returncode == 1, (name, proc.stderr)
        err = one_line(proc)
        assert f"cannot reach {closed}" in err and "--endpoint-url" in err, (name, err)
    assert elapsed < 20, f"took {elapsed:.1f}s (was ~33 s of silent retries)"


def test_missing_bucket_names_it_and_how_to_create_it(endpoint: str) -> None:
    results = each_command(["--endpoint-url", endpoint, "--bucket", "no-such-bucket"])
    for name, proc in results.items():
        assert proc.returncode == 1, (name, proc.stderr)
        err = one_line(proc)
        assert "bucket no-such-bucket does not exist" in err, (name, err)
        assert "stack-bootstrap --bucket no-such-bucket" in err, (name, err)


def test_no_bucket_at_all_is_a_usage_error() -> None:
    results = each_command([], {"STACKOP_BUCKET": ""})
    for name, proc in results.items():
        assert proc.returncode == 2, (name, proc.stderr)
        assert "--bucket" in one_line(proc) and "STACKOP_BUCKET" in proc.stderr, name


def test_run_on_a_taken_port_says_so(endpoint: str) -> None:
    make_bucket(endpoint, BUCKET)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_stackop(
            "run", "--bucket", BUCKET, "--host", "127.0.0.1", "--port", str(port),
            endpoint=endpoint, timeout=60,
        )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    err = one_line(proc)
    assert f"port {port} on 127.0.0.1 is in use" in err and "--port" in err, err


@pytest.mark.parametrize(
    ("variable", "value", "flag"),
    [("STACKOP_RESYNC", "soon", "--resync"), ("STACKOP_PORT", "http", "--port")],
)
def test_a_bad_env_value_only_fails_the_command_that_uses_it(
    variable: str, value: str, flag: str
) -> None:
    env = {variable: value}
    validated = run_stackop("validate", str(PORTAL), env=env, timeout=60)
    assert validated.returncode == 0, validated.stderr
    schema = run_stackop("schema", env=env, timeout=60)
    assert schema.returncode == 0 and schema.stdout.startswith("{"), schema.stderr
    ran = run_stackop("run", "--bucket", BUCKET, env=env, timeout=60)
    assert ran.returncode == 2, ran.stderr
    last = ran.stderr.strip().splitlines()[-1]
    assert f"argument {flag}: {variable}='{value}' is not" in last, ran.stderr
    assert "Traceback" not in ran.stderr


def test_usage_errors_exit_2() -> None:
    for args in (["push"], ["plan"], ["status", "--no-such-flag"], ["frobnicate"]):
        proc = run_stackop(*args, timeout=60)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "usage: stackop" in proc.stderr and "Traceback" not in proc.stderr, args


def test_run_starts_through_a_transient_error_of_its_first_listing(
    endpoint: str, tmp_path: Path
) -> None:
    """Only errors the user must fix stop `run` at start; a throttled or failing first
    listing (every call answered 500 here) is retried by the operator like any other."""
    make_bucket(endpoint, BUCKET)
    port = free_port()
    env = {**os.environ, "STACKOP_FAULTS": "error=1.0"}
    with open(tmp_path / "op.log", "wb") as log:
        proc = subprocess.Popen(
            [str(BIN / "stackop"), "--endpoint-url", endpoint, "--bucket", BUCKET,
             "run", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=log, stderr=log,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/healthz"
        wait_for(lambda: urllib.request.urlopen(url, timeout=1).read(), 30, url)
        assert proc.poll() is None
    finally:
        proc.kill()  # a clean stop would retry its lease release against the failing calls
        proc.wait(30)


def test_bootstrap_says_the_same_in_one_line(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    proc = subprocess.run(
        [str(BIN / "stack-bootstrap"), "--bucket", BUCKET, "--endpoint-url", closed,
         "--specs-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert f"stack-bootstrap: error: cannot reach {closed}" in one_line(proc)
    assert time.monotonic() - started < 20
