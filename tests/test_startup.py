"""The `stackop` entry point (issue 12, plan wall time): imports run with the cyclic GC
paused, then the imported objects are frozen and the GC runs again for the command (the
operator's endless loop included)."""

from __future__ import annotations

import subprocess

from tests.conftest import BIN, ROOT

PROBE = """
import gc, sys
from controller import startup
sys.argv = ["stackop", "validate", sys.argv[1]]
code = startup.main()
print(code, gc.isenabled(), gc.get_freeze_count())
"""


def test_the_installed_command_is_the_startup_entry_point() -> None:
    script = (BIN / "stackop").read_text()
    assert "from controller.startup import main" in script, script


def test_the_gc_runs_again_after_the_imports_with_the_imports_frozen() -> None:
    proc = subprocess.run(
        [str(BIN / "python"), "-c", PROBE, str(ROOT / "specs" / "portal.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    verdict, probe = proc.stdout.strip().splitlines()[-2:]
    assert "portal.yaml: ok" in verdict, proc.stdout
    code, enabled, frozen = probe.split()
    assert (code, enabled) == ("0", "True")
    assert int(frozen) > 10_000  # botocore, aiohttp, pydantic, the spec model
