"""`stackop apply` asks before it deletes or replaces, as `terraform apply` does (issue 10,
item 3): `yes` on a terminal (a real pty), `--auto-approve`, or no write at all."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path

from tests.apply_helpers import nat_gateways, net_spec, stackop, writes
from tests.conftest import BIN, ROOT

PROMPT = b"Enter a value:"


def on_terminal(endpoint: str, answer: str, *args: str, log: Path) -> tuple[int, str]:
    """Run `stackop` on a pseudo-terminal; type `answer` at its prompt. (exit code, output)"""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [str(BIN / "stackop"), "--endpoint-url", endpoint, *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=ROOT,
        env={**os.environ, "STACKOP_CALL_LOG": str(log)},
    )
    os.close(slave)
    out, answered = b"", False
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the process closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            if not answered and PROMPT in out:
                assert writes(log) == [], "it wrote before the answer"
                os.write(master, answer.encode() + b"\n")
                answered = True
            if proc.poll() is not None and not ready:
                break
        code = proc.wait(timeout=30)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert answered, out.decode(errors="replace")
    return code, out.decode(errors="replace")


def test_deletions_wait_for_yes_on_a_terminal(endpoint: str, tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    built = stackop(endpoint, "apply", "--no-lease", str(net_spec(tmp_path, "tty")), log=log)
    assert built.returncode == 0, built.stdout + built.stderr
    spec = net_spec(tmp_path, "tty", nat=False)

    log = tmp_path / "no.calls.jsonl"
    code, out = on_terminal(endpoint, "no", "apply", "--no-lease", str(spec), log=log)
    assert code == 1, out
    before_prompt = out.split("Enter a value:")[0]
    assert "- nat_gateway/a" in before_prompt and "- elastic_ip/nat-a" in before_prompt
    assert "apply cancelled (answer 'no', not 'yes'); nothing written" in out
    assert writes(log) == []
    assert len(nat_gateways(endpoint, "tty")) == 1

    log = tmp_path / "yes.calls.jsonl"
    code, out = on_terminal(endpoint, "yes", "apply", "--no-lease", str(spec), log=log)
    assert code == 0, out
    assert "delete  nat_gateway/a done" in out and "Converged" in out
    assert "ec2:DeleteNatGateway" in writes(log)
    assert nat_gateways(endpoint, "tty") == []


def test_deletions_without_a_terminal_need_auto_approve(endpoint: str, tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    built = stackop(endpoint, "apply", "--no-lease", str(net_spec(tmp_path, "ci")), log=log)
    assert built.returncode == 0, built.stdout + built.stderr
    spec = net_spec(tmp_path, "ci", nat=False)

    log = tmp_path / "refused.calls.jsonl"
    refused = stackop(endpoint, "apply", "--no-lease", str(spec), log=log)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    (line,) = refused.stderr.strip().splitlines()
    assert "deletes or replaces 2 resources (elastic_ip/nat-a, nat_gateway/a)" in line
    assert "--auto-approve" in line and "nothing written" in line
    assert "- nat_gateway/a" in refused.stdout  # the plan it refused is shown
    assert writes(log) == []
    assert len(nat_gateways(endpoint, "ci")) == 1

    log = tmp_path / "approved.calls.jsonl"
    approved = stackop(endpoint, "apply", "--no-lease", "--auto-approve", str(spec), log=log)
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert "ec2:DeleteNatGateway" in writes(log)
    assert nat_gateways(endpoint, "ci") == []
