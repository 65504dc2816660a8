"""Shared bench helpers: a moto server, spec variants, and a table printer."""

from __future__ import annotations

import copy
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PORTAL = ROOT / "specs" / "portal.yaml"

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def compile_package() -> None:
    """Byte-compile stackop's own modules, as a regular (non-editable) install has them.

    An editable install leaves compiling to the first import, and where
    PYTHONDONTWRITEBYTECODE is set (this project's machines) every process would compile
    all ~100 modules from source again (~0.15 s): a cost no installed stackop pays.
    """
    import compileall

    for package in ("controller", "bootstrap"):
        compileall.compile_dir(str(ROOT / package), quiet=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).read()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def reset(url: str) -> None:
    req = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    urllib.request.urlopen(req, timeout=30).read()


def portal_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(PORTAL.read_text())
    return data


def with_services(data: dict[str, Any], count: int) -> dict[str, Any]:
    """The portal with `count` services following the portal's pattern (ports, paths)."""
    out = copy.deepcopy(data)
    base = data["spec"]["services"]
    services = []
    for i in range(count):
        tmpl = copy.deepcopy(base[i % len(base)])
        if i >= len(base):
            tmpl["name"] = f"{tmpl['name']}-{i // len(base)}"
            tmpl["port"] = 8000 + i
            if "routing" in tmpl:
                tmpl["routing"] = {
                    "paths": [f"/api/{tmpl['name']}", f"/api/{tmpl['name']}/*"],
                    "priority": 2000 + i,
                }
        services.append(tmpl)
    out["spec"]["services"] = services
    return out


def with_azs(data: dict[str, Any], count: int) -> dict[str, Any]:
    out = copy.deepcopy(data)
    net = out["spec"]["network"]
    net["availabilityZones"] = [f"us-east-1{c}" for c in "abcdef"[:count]]
    net["publicSubnets"] = [f"10.0.{1 + i}.0/24" for i in range(count)]
    net["privateAppSubnets"] = [f"10.0.{11 + i}.0/24" for i in range(count)]
    net["privateDataSubnets"] = [f"10.0.{21 + i}.0/24" for i in range(count)]
    return out


def network_only(data: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    spec = out["spec"]
    for section in ("database", "loadBalancer", "frontend", "cdn", "cluster"):
        spec[section] = {**spec.get(section, {}), "enabled": False}
    spec["loadBalancer"].pop("defaultService", None)
    return out


def write_spec(data: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))
