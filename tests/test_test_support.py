"""Test-only code (stackop_testing: STACKOP_FAULTS, STACKOP_CLOCK_SKEW_SECONDS) is not
shipped: not in the wheel, not in the image, and asking for it without it is one line."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import BIN, ROOT
from tests.test_dockerfile import instructions


def test_the_wheel_has_no_test_support(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("stack_operator-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "controller/testhooks.py" in names and "controller/cli.py" in names
    assert not [n for n in names if n.startswith(("stackop_testing/", "tests/"))], names
    assert not [n for n in names if n.endswith("faults.py")], names


def test_the_image_does_not_copy_test_support() -> None:
    copies = [rest for word, rest in instructions() if word == "COPY"]
    assert copies and not any("stackop_testing" in c or c.startswith(". ") for c in copies)
    allowed = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in allowed and not any("stackop_testing" in line for line in allowed)


def test_a_test_only_variable_without_the_support_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": "", "STACKOP_FAULTS": "throttle=0.5"}
    proc = subprocess.run(
        [str(BIN / "stackop"), "status", "--bucket", "b", "--endpoint-url", "http://127.0.0.1:9"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip() == (
        "STACKOP_FAULTS is test-only and its support (stackop_testing) is not installed: "
        "unset STACKOP_FAULTS"
    )
    skewed = {**env, "STACKOP_FAULTS": "", "STACKOP_CLOCK_SKEW_SECONDS": "30"}
    proc = subprocess.run(
        [str(BIN / "python"), "-c", "import controller.operator.clock"],
        env=skewed, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1 and "unset STACKOP_CLOCK_SKEW_SECONDS" in proc.stderr
