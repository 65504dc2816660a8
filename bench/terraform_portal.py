"""The Terraform portal (../shared/terraform-portal/) applied against a moto server of its own.

Shared by the adoption test and bench: start the Terraform README's moto shim (moto plus
the Application Auto Scaling tag calls the provider needs), run real Terraform with the
provider from a filesystem mirror, and hand back the endpoint and `terraform show -json`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import free_port

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MIRROR = Path(os.environ.get("STACKOP_TF_MIRROR", "/opt/tf-plugins"))


def default_terraform_dir() -> Path:
    beside = ROOT.parent / "shared" / "terraform-portal"
    return beside if beside.exists() else Path("/work/shared/terraform-portal")


def provider_dir(mirror: Path) -> Path:
    return mirror / "registry.terraform.io" / "hashicorp" / "aws" / "5.100.0"


class TerraformFailed(RuntimeError):
    pass


def terraform(workdir: Path, mirror: Path, *args: str) -> str:
    """Run `terraform ARGS` in workdir/tf with the provider mirror; its stdout."""
    rc = workdir / "terraform.rc"
    rc.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n'
        '    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n'
        '  direct { exclude = ["registry.terraform.io/hashicorp/aws"] }\n}\n'
    )
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(rc),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }
    proc = subprocess.run(
        ["terraform", *args],
        cwd=workdir / "tf",
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        raise TerraformFailed(
            f"terraform {args[0]} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )
    return proc.stdout


def managed_resources(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Every managed resource of a `terraform show -json` document, child modules included."""
    out: list[dict[str, Any]] = []

    def walk(module: dict[str, Any]) -> None:
        out.extend(r for r in module.get("resources", []) if r.get("mode", "managed") == "managed")
        for child in module.get("child_modules", []):
            walk(child)

    walk(state["values"]["root_module"])
    return out


def _wait(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@dataclass(frozen=True)
class AppliedPortal:
    endpoint: str
    state: Path
    """`terraform show -json` after the apply."""
    apply_seconds: float


@contextlib.contextmanager
def applied_portal(terraform_dir: Path, mirror: Path, workdir: Path) -> Iterator[AppliedPortal]:
    """A moto shim with the Terraform portal applied (~100 s); the shim stops on exit."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            str(terraform_dir / "moto_server_shim.py"),
            "-H",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        _wait(endpoint)
        shutil.copytree(
            terraform_dir,
            workdir / "tf",
            ignore=shutil.ignore_patterns(".terraform", "terraform.tfstate*", "*.tfplan"),
        )
        terraform(workdir, mirror, "init", "-input=false", "-no-color")
        started = time.perf_counter()
        terraform(
            workdir,
            mirror,
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            f"-var=aws_endpoint={endpoint}",
        )
        seconds = time.perf_counter() - started
        state = workdir / "state.json"
        state.write_text(terraform(workdir, mirror, "show", "-json", "-no-color"))
        yield AppliedPortal(endpoint, state, seconds)
    finally:
        server.terminate()
        server.wait(10)
