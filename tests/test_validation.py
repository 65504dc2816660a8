"""Offline validation: every invalid spec gives its expected file:line:column: path: message.

The corpus lives in tests/specs/invalid/: one file per case whose first lines are
`# expect: LINE:COL: PATH: SUBSTRING` (PATH `-` when the error names no field). A file
must produce exactly those errors (no more), exit code 1, and the same errors from
`stackop plan` without a single AWS call. Cases that cannot be text files (bad bytes,
10 MiB, deep nesting, 5000 services) are generated into tmp_path below.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.common import portal_data
from controller.spec import SpecError, load_spec
from tests.conftest import BIN, ROOT, run_stackop

CORPUS = ROOT / "tests" / "specs" / "invalid"
CASES = sorted(CORPUS.glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\d+):(\d+): (\S+): (.+)$")


@dataclass(frozen=True)
class Expected:
    line: int
    column: int
    path: str
    text: str

    def prefix(self, source: str) -> str:
        where = f"{source}:{self.line}:{self.column}: "
        return where if self.path == "-" else f"{where}{self.path}: "

    def matches(self, source: str, error: str) -> bool:
        return error.startswith(self.prefix(source)) and self.text in error


def expectations(case: Path) -> list[Expected]:
    out = []
    for line in case.read_text(encoding="utf-8").splitlines():
        m = EXPECT.match(line)
        if not m:
            break
        out.append(Expected(int(m[1]), int(m[2]), m[3], m[4]))
    return out


def dead_endpoint() -> str:
    """An address where nothing listens: any AWS call would fail (and be logged)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class Planned:
    proc: subprocess.CompletedProcess[str]
    calls: str | None


def plan_offline(path: Path, tmp: Path) -> Planned:
    """`stackop plan` against a dead endpoint, recording any AWS call it makes."""
    log = tmp / f"{path.name}.calls.jsonl"
    proc = run_stackop(
        "plan",
        str(path.relative_to(ROOT)),
        endpoint=dead_endpoint(),
        env={"STACKOP_CALL_LOG": str(log), "AWS_MAX_ATTEMPTS": "1"},
        timeout=60,
    )
    return Planned(proc, log.read_text() if log.exists() else None)


@pytest.fixture(scope="module")
def validated() -> dict[str, list[str]]:
    """One `stackop validate` over the whole corpus: errors grouped by file."""
    rels = [str(c.relative_to(ROOT)) for c in CASES]
    proc = run_stackop("validate", *rels, timeout=120)
    assert proc.returncode == 1
    assert proc.stdout == ""  # no file in the corpus is reported ok
    grouped: dict[str, list[str]] = {rel: [] for rel in rels}
    for line in errors_of(proc.stderr):
        grouped[line.split(":", 1)[0]].append(line)
    return grouped


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Planned]:
    tmp = tmp_path_factory.mktemp("calls")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {case.name: pool.submit(plan_offline, case, tmp) for case in CASES}
        return {name: f.result() for name, f in futures.items()}


def errors_of(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 40
    for case in CASES:
        assert re.match(r"^\d\d-[a-z0-9-]+\.yaml$", case.name), case.name
        assert expectations(case), f"{case.name} has no '# expect:' line"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_invalid_spec_is_rejected(
    case: Path, validated: dict[str, list[str]], planned: dict[str, Planned]
) -> None:
    source = str(case.relative_to(ROOT))
    expected = expectations(case)
    errors = validated[source]
    assert len(errors) == len(expected), "validate gave:\n" + "\n".join(errors)
    for want in expected:
        assert any(want.matches(source, e) for e in errors), (
            f"no error like {want.prefix(source)}...{want.text}; got:\n" + "\n".join(errors)
        )
    plan = planned[case.name]
    assert plan.proc.returncode == 1, plan.proc.stdout + plan.proc.stderr
    assert errors_of(plan.proc.stderr) == errors
    assert plan.proc.stdout == ""
    assert plan.calls is None or plan.calls.strip() == "", plan.calls


def test_call_log_oracle_sees_calls_for_a_valid_spec(tmp_path: Path) -> None:
    """Control for the test above: the same command on a valid spec does try AWS, and
    the call log records it, so an empty log there really means no call was made."""
    log = tmp_path / "calls.jsonl"
    proc = subprocess.Popen(
        [str(BIN / "stackop"), "--endpoint-url", dead_endpoint(), "plan", "specs/portal.yaml"],
        cwd=ROOT,
        env={**os.environ, "STACKOP_CALL_LOG": str(log), "AWS_MAX_ATTEMPTS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (log.exists() and log.read_text().strip()) and time.monotonic() < deadline:
            if proc.poll() is not None and not log.exists():
                break
            time.sleep(0.1)
    finally:
        proc.kill()
        proc.wait(10)
    first = json.loads(log.read_text().splitlines()[0])
    assert first["outcome"] == "error" and first["operation"]


def test_validate_reports_every_file(tmp_path: Path) -> None:
    """Several files: each is checked, the good one says ok, the exit code is 1."""
    good = ROOT / "specs" / "portal.yaml"
    bad = CASES[:3]
    proc = run_stackop("validate", str(good), *(str(c) for c in bad))
    assert proc.returncode == 1
    assert f"{good}: ok (stack customer-order-portal-production" in proc.stdout
    for case in bad:
        assert f"{case}:" in proc.stderr


# -- hostile inputs that cannot be corpus text files -----------------------------------

PORTAL = (ROOT / "specs" / "portal.yaml").read_bytes()


def _services(n: int) -> bytes:
    head = PORTAL.split(b"  services:\n")[0] + b"  services:\n"
    rows = (
        f"    - name: svc{i}\n      port: {1024 + i}\n      cpu: 256\n      memory: 512\n"
        for i in range(n)
    )
    return head + "".join(rows).encode()


def _deep_block_mapping(levels: int) -> bytes:
    return b"".join(b" " * i + b"a:\n" for i in range(levels)) + b" " * levels + b"x\n"


HOSTILE: dict[str, tuple[Callable[[], bytes], str]] = {
    "ten-mib": (lambda: b"# padding\n" * (1024 * 1024), ":1:1: file is 10485760 bytes; the limit"),
    "latin1": (lambda: "metadata:\n  name: caf\u00e9\n".encode("latin-1"), ":2:12: not UTF-8"),
    "binary": (lambda: bytes(range(256)) * 8, ":1:1: binary data (NUL byte)"),
    "random-bytes": (
        lambda: bytes((i * 7919 + 13) % 251 + 1 for i in range(4096)),
        ": not UTF-8 text: byte 0x",
    ),
    "nul-in-text": (lambda: PORTAL.replace(b"kind: Stack", b"kind: St\0ack"), ":8:9: binary"),
    "control-char": (
        lambda: PORTAL.replace(b"kind: Stack", b"kind: St\x07ack"),
        ":8:9: control character U+0007 is not allowed",
    ),
    "flow-nesting-10000": (
        lambda: b"spec: " + b"[" * 10_000 + b"]" * 10_000 + b"\n",
        "nesting deeper than 64 levels",
    ),
    "block-nesting-10000": (
        lambda: b"spec:\n  " + b"- " * 10_000 + b"x\n",
        "nesting deeper than 64 levels",
    ),
    "block-mapping-nesting-1000": (
        lambda: _deep_block_mapping(1000),
        "nesting deeper than 64 levels",
    ),
    "mapping-nesting-past-limit": (
        lambda: _deep_block_mapping(70),
        ":65:65: a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a",
    ),
    "integer-of-5000-digits": (
        lambda: PORTAL.replace(b"port: 8000", b"port: " + b"9" * 5000),
        ":74:13: spec.services[0].port: a 5000-character number is too long",
    ),
    "cidr-of-100k-chars": (
        lambda: PORTAL.replace(b"cidr: 10.0.0.0/16", b"cidr: " + b"1." * 50_000 + b"/16"),
        ":19:5: spec.network.cidr: '1.1.1.1.1.1.1.1.1.1.1.1",
    ),
    "key-of-100k-chars": (
        lambda: PORTAL.replace(b"  mode: enforce", b'  ? "' + b"k" * 100_000 + b'"\n  : 1'),
        ":14:5: spec.kkkkkkkkkkkkkk",
    ),
    "services-5000": (
        lambda: _services(5000),
        ": spec.services: at most 500 items allowed (got 5000)",
    ),
    "alias-bomb-wide": (
        lambda: (
            b"a: &a [" + b",".join([b"x"] * 1000) + b"]\nb: [" + b", ".join([b"*a"] * 1000) + b"]"
        ),
        ":2:197: b[48]: aliases expand the document past 50000 values",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_is_rejected_quickly(name: str, tmp_path: Path) -> None:
    make, expected = HOSTILE[name]
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(make())
    started = time.monotonic()
    proc = run_stackop("validate", str(path), timeout=60)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    errors = errors_of(proc.stderr)
    assert errors and all(e.startswith(f"{path}:") for e in errors), proc.stderr
    assert any(expected in e for e in errors), proc.stderr
    assert all(len(e) < len(str(path)) + 400 for e in errors), "hostile text flooded a message"
    # Generous: measured figures are in bench/bench_hostile_specs.py; this only catches hangs.
    assert elapsed < 30


def test_stdin_like_files_are_read_with_a_bound(tmp_path: Path) -> None:
    """/dev/zero reports size 0 but never ends: the reader must stop at the limit."""
    proc = run_stackop("validate", "/dev/zero", timeout=60)
    assert proc.returncode == 1
    assert "/dev/zero:1:1: file is over 1048576 bytes; the limit is 1 MiB" in proc.stderr


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    proc = run_stackop("validate", str(tmp_path / "missing.yaml"), str(tmp_path))
    assert proc.returncode == 1
    assert f"{tmp_path / 'missing.yaml'}:0:0: cannot read: No such file or directory" in proc.stderr
    assert f"{tmp_path}:0:0: cannot read: Is a directory" in proc.stderr


ALIASED = """apiVersion: stackop/v1
kind: Stack
metadata:
  name: shop
spec:
  network:
    availabilityZones: [us-east-1a]
    publicSubnets: [10.0.1.0/24]
    privateAppSubnets: [10.0.11.0/24]
    privateDataSubnets: [10.0.21.0/24]
  serviceDefaults:
    healthCheck: &hc
      path: health
  services:
    - name: web
      port: 8000
      cpu: 256
      memory: 512
      healthCheck: *hc
"""


def test_error_inside_alias_points_at_the_written_value(tmp_path: Path) -> None:
    """Aliases within budget are allowed; an error reached through one names its use
    (the path) and the line where the bad value is written (line 13, column 7)."""
    path = tmp_path / "alias.yaml"
    path.write_text(ALIASED)
    proc = run_stackop("validate", str(path))
    assert proc.returncode == 1
    assert errors_of(proc.stderr) == [
        f"{path}:13:7: spec.serviceDefaults.healthCheck.path: 'health' is not allowed; "
        "use a path starting with '/'",
        f"{path}:13:7: spec.services[0].healthCheck.path: 'health' is not allowed; "
        "use a path starting with '/'",
    ]
    path.write_text(ALIASED.replace("path: health", "path: /health"))
    ok = run_stackop("validate", str(path))
    assert ok.returncode == 0, ok.stderr
    assert f"{path}: ok (stack shop, version " in ok.stdout


def test_unambiguous_scalars_are_accepted(tmp_path: Path) -> None:
    """Only plain scalars that YAML 1.1 and 1.2 read differently are refused."""
    text = ALIASED.replace("path: health", "path: /health").replace(
        "spec:\n",
        'spec:\n  paused: False\n  tags:\n    Backup: "yes"\n    Owner: team-a\n'
        "    Count: !!str 010\n    Start: '2024-01-01'\n",
        1,
    )
    path = tmp_path / "fine.yaml"
    path.write_text(text)
    proc = run_stackop("validate", str(path))
    assert proc.returncode == 0, proc.stderr


def _portal_with(**spec_changes: object) -> dict[str, Any]:
    data = portal_data()
    data["spec"].update(spec_changes)
    return data


def _issues(data: dict[str, Any]) -> list[str]:
    try:
        load_spec("s.yaml", yaml.safe_dump(data).encode())
    except SpecError as exc:
        return [f"{i.path}: {i.message}" for i in exc.issues]
    return []


@pytest.mark.parametrize("version", ["16", "15.4", "17.2", "11.22-rds.20240418"])
def test_engine_versions_rds_offers_are_accepted(version: str) -> None:
    data = portal_data()
    data["spec"]["database"]["engineVersion"] = version
    assert _issues(data) == []


@pytest.mark.parametrize(
    ("version", "message"),
    [("15.x", "is not a PostgreSQL version"), ("10.21", "PostgreSQL 10 is not offered by RDS")],
)
def test_engine_versions_rds_refuses_are_rejected(version: str, message: str) -> None:
    data = portal_data()
    data["spec"]["database"]["engineVersion"] = version
    (issue,) = _issues(data)
    assert issue.startswith("spec.database.engineVersion: ") and message in issue


def test_allow_replace_accepts_every_resource_key_of_the_stack() -> None:
    data = _portal_with(safety={"allowReplace": ["db_instance/main", "target_group/order"]})
    assert _issues(data) == []
    # A teardown renders nothing: stale entries must not block it.
    torn = _portal_with(teardown=True, safety={"allowReplace": ["database/main"]})
    assert _issues(torn) == []


def test_operator_variables_are_free_for_services_without_the_database() -> None:
    """DB_HOST of an external database is fine where stackop injects nothing."""
    data = portal_data()
    data["spec"]["services"][0].pop("usesDatabase", None)
    data["spec"]["services"][0]["environment"] = {"DB_HOST": "legacy.example.com"}
    assert not data["spec"]["services"][0].get("usesDatabase")
    assert _issues(data) == []
    data["spec"]["database"]["enabled"] = False
    for svc in data["spec"]["services"]:
        svc.pop("usesDatabase", None)
    data["spec"]["serviceDefaults"]["environment"] = {"DB_NAME": "external"}
    assert _issues(data) == []


def test_a_bad_service_default_is_said_once_at_the_default() -> None:
    """minCapacity > maxCapacity in serviceDefaults is one issue, not one per service."""
    data = portal_data()
    data["spec"]["serviceDefaults"]["autoscaling"].update(minCapacity=5, maxCapacity=2)
    data["spec"]["serviceDefaults"]["healthCheck"].update(timeout=30, interval=10)
    services = data["spec"]["services"]
    assert len(services) > 1 and not any("autoscaling" in s for s in services)
    assert _issues(data) == [
        "spec.serviceDefaults.autoscaling.minCapacity: minCapacity 5 is above maxCapacity 2; "
        "it must be at most maxCapacity",
        "spec.serviceDefaults.healthCheck.timeout: timeout 30s must be below interval 10s",
    ]
    # a service's own setting is reported at the service
    services[1]["autoscaling"] = {"minCapacity": 3, "maxCapacity": 1}
    issues = _issues(data)
    own = "spec.services[1].autoscaling.minCapacity: minCapacity 3 is above maxCapacity 1;"
    assert len(issues) == 3 and sum(i.startswith(own) for i in issues) == 1, issues
