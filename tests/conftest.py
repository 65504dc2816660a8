"""Shared fixtures: one moto server per session (server mode), reset before each test."""

from __future__ import annotations

import functools
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from controller.engine.origin import ACTING_KIND, acting_as

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REGION = "us-east-1"

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
os.environ.pop("AWS_PROFILE", None)
# test-only support (STACKOP_FAULTS, STACKOP_CLOCK_SKEW_SECONDS) is not installed with
# stackop: the processes a test starts find it in the checkout
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
)


@pytest.fixture(scope="session", autouse=True)
def data_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The session's processes share one cache of botocore's parsed data files, not the
    user's ~/.cache/stackop (tests/test_datacache.py gives its processes their own)."""
    root = tmp_path_factory.mktemp("stackop-cache")
    previous = os.environ.get("STACKOP_CACHE_DIR")
    os.environ["STACKOP_CACHE_DIR"] = str(root)
    yield root
    if previous is None:
        os.environ.pop("STACKOP_CACHE_DIR", None)
    else:
        os.environ["STACKOP_CACHE_DIR"] = previous


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class MotoServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_http(f"{self.url}/moto-api/")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(req, timeout=10).read()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def moto(moto_server: MotoServer) -> MotoServer:
    """A clean moto server for this test."""
    moto_server.reset()
    return moto_server


@pytest.fixture
def endpoint(moto: MotoServer) -> str:
    return moto.url


def run_stackop(
    *args: str,
    endpoint: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    input_bytes: bytes | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real `stackop` CLI as a separate process."""
    cmd = [str(BIN / "stackop")]
    if endpoint:
        cmd += ["--endpoint-url", endpoint]
    return subprocess.run(
        [*cmd, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


# --- AWS call audit (least privilege; read by tests/test_iam_policy.py) -------------------
# Every AWS operation of the session is recorded: real processes append to the session's
# STACKOP_AUDIT_LOG (inherited, and unlike STACKOP_CALL_LOG never set by a test itself),
# in-process calls go through a wrapper of CallRecorder.record that also notes which kind
# (or the operator) made the call. stack-bootstrap's own calls are not the operator's.

AFTER_SUITE = "after_suite"


@dataclass
class CallAudit:
    log_path: Path
    inprocess: list[tuple[str, str, str]] = field(default_factory=list)
    """(service, operation, origin): origin is a kind name, "operator" or "other"."""

    def subprocess_calls(self) -> list[tuple[str, str, str]]:
        """(service, operation, origin) of real processes: origin is the acting kind as the
        process logged it, else "operator" for `stackop` and "other" for the rest."""
        out: list[tuple[str, str, str]] = []
        if not self.log_path.exists():
            return out
        for line in self.log_path.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if row.get("pid") == os.getpid():  # in-process calls are in `inprocess`
                continue
            if row.get("program") == "stack-bootstrap":
                continue
            origin = row.get("kind") or ("operator" if row.get("program") == "stackop" else "other")
            out.append((str(row["service"]), str(row["operation"]), str(origin)))
        return out


KIND_VERBS = ("observe", "create", "update", "delete")


def _traced(kind: str, verb: Any) -> Any:
    """A kind verb that marks its calls (and tasks it starts) as the kind's."""

    @functools.wraps(verb)
    async def traced(*args: Any, **kwargs: Any) -> Any:
        with acting_as(kind):
            return await verb(*args, **kwargs)

    return traced


def _call_origin() -> str:
    from controller.engine import Kind
    from controller.kinds import KIND_CLASSES

    marked = ACTING_KIND.get()
    if marked is not None:
        return marked
    modules = {cls.__module__: cls.name for cls in KIND_CLASSES}
    frame = sys._getframe(2)
    while frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, Kind):
            return owner.name
        module = str(frame.f_globals.get("__name__", ""))
        if module in modules:
            return modules[module]
        if module.startswith("controller.operator"):
            return "operator"
        frame = frame.f_back  # type: ignore[assignment]
    return "other"


@pytest.fixture(scope="session", autouse=True)
def aws_call_audit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallAudit]:
    from controller.aws.calls import CallRecorder

    audit = CallAudit(tmp_path_factory.mktemp("audit") / "aws-calls.jsonl")
    previous_env = os.environ.get("STACKOP_AUDIT_LOG")
    os.environ["STACKOP_AUDIT_LOG"] = str(audit.log_path)
    original = CallRecorder.record

    def record(self: CallRecorder, service: str, operation: str, outcome: str) -> None:
        original(self, service, operation, outcome)
        audit.inprocess.append((service, operation, _call_origin()))

    CallRecorder.record = record  # type: ignore[method-assign]
    from controller.kinds import KIND_CLASSES

    own = {(cls, verb): cls.__dict__.get(verb) for cls in KIND_CLASSES for verb in KIND_VERBS}
    for cls, verb in own:
        setattr(cls, verb, _traced(cls.name, getattr(cls, verb)))
    yield audit
    for (cls, verb), fn in own.items():
        if fn is None:
            delattr(cls, verb)
        else:
            setattr(cls, verb, fn)
    CallRecorder.record = original  # type: ignore[method-assign]
    if previous_env is None:
        os.environ.pop("STACKOP_AUDIT_LOG", None)
    else:
        os.environ["STACKOP_AUDIT_LOG"] = previous_env


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{AFTER_SUITE}: runs after every other test (audits what the suite did)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker(AFTER_SUITE) is not None)
