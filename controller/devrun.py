"""`make run`: the operator's main job against an embedded AWS emulator (moto server).

Starts moto on loopback, applies specs/portal.yaml once, shows that a second plan is
clean, and stops the emulator. Nothing here touches a real AWS account: the endpoint
is always the local emulator.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "portal.yaml"


def _free_port() -> int:
    with socket.socket() as s:
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


def main() -> int:
    port = int(os.environ.get("STACKOP_DEV_MOTO_PORT") or _free_port())
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "STACKOP_ENDPOINT_URL": endpoint,
    }
    env.pop("AWS_PROFILE", None)
    print(f"starting the AWS emulator (moto server) on {endpoint}", flush=True)
    moto = subprocess.Popen(
        [_tool("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(f"{endpoint}/moto-api/")
        stackop = _tool("stackop")
        steps = (["apply", str(SPEC)], ["plan", str(SPEC)])
        for step in steps:
            print(f"\n$ stackop {' '.join(step)}", flush=True)
            code = subprocess.call([stackop, *step], env=env)
            if code not in (0, 2):
                return code
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        moto.terminate()
        moto.wait(10)


if __name__ == "__main__":
    sys.exit(main())
