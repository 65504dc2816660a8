"""The controller at rest: RSS and CPU of `stackop run` with the portal converged.

    python -m bench.bench_at_rest [--seconds 300] [--interval 10] [--resync 30]

Against a fresh moto server: stack-bootstrap creates the spec bucket, `stackop apply`
converges the portal, `stackop push` uploads it, then `stackop run` starts with its
defaults (S3 poll, resync 30 s). Once its first reconcile has succeeded, the process's
RSS and CPU time are sampled from /proc every --interval seconds for --seconds.
Budget (DESIGN.md): RSS <= 150 MB, CPU <= 2 % of one core at the default resync.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.common import BIN, PORTAL, free_port, moto_server, print_table

BUCKET = "stackop-bench-specs"
TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def rss_mb(pid: int) -> float:
    resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return resident * PAGE_KB / 1024


def metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum of a metric's samples whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"^{name}(?:\{{(.*)\}})? (\S+)$", line)
        if m and all(f'{k}="{v}"' in (m[1] or "") for k, v in labels.items()):
            total += float(m[2])
    return total


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return str(resp.read().decode())


def run(cmd: list[str], env: dict[str, str]) -> None:
    subprocess.run(cmd, env=env, check=True, capture_output=True)


def wait_first_success(port: int, proc: subprocess.Popen[bytes], timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"stackop run exited with {proc.returncode}")
        try:
            if metric_sum(scrape(port), "stackop_reconcile_total", result="success") >= 1:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("no successful reconcile")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--resync", type=float, default=30.0)
    args = parser.parse_args()
    with moto_server() as endpoint, tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {
            **os.environ,
            "STACKOP_ENDPOINT_URL": endpoint,
            "STACKOP_BUCKET": BUCKET,
            "STACKOP_PORT": str(port),
            "STACKOP_RESYNC": str(args.resync),
        }
        empty = Path(tmp) / "no-specs"
        empty.mkdir()
        run([str(BIN / "stack-bootstrap"), "--bucket", BUCKET, "--specs-dir", str(empty)], env)
        run([str(BIN / "stackop"), "apply", str(PORTAL)], env)
        run([str(BIN / "stackop"), "push", str(PORTAL)], env)
        with open(Path(tmp) / "operator.log", "wb") as log:
            proc = subprocess.Popen([str(BIN / "stackop"), "run"], env=env, stdout=log, stderr=log)
            try:
                ready = wait_first_success(port, proc, timeout=120)
                rows, samples = sample(proc.pid, port, args.seconds, args.interval)
            finally:
                proc.terminate()
                proc.wait(30)
    print(
        f"`stackop run` at rest, portal converged, resync {args.resync:g} s, S3 poll 10 s "
        f"(first reconcile after {ready:.1f} s)"
    )
    print_table(["t s", "RSS MB", "CPU % (interval)", "reconciles", "AWS calls"], rows)
    (t0, cpu0, rss0, rec0, calls0), (t1, cpu1, rss1, rec1, calls1) = samples[0], samples[-1]
    print()
    print_table(
        [
            "window s",
            "RSS first MB",
            "RSS last MB",
            "RSS max MB",
            "CPU % mean",
            "reconciles",
            "AWS calls",
        ],
        [
            [
                f"{t1 - t0:.0f}",
                f"{rss0:.1f}",
                f"{rss1:.1f}",
                f"{max(s[2] for s in samples):.1f}",
                f"{100 * (cpu1 - cpu0) / (t1 - t0):.2f}",
                f"{rec1 - rec0:.0f}",
                f"{calls1 - calls0:.0f}",
            ]
        ],
    )


Sample = tuple[float, float, float, float, float]


def sample(
    pid: int, port: int, seconds: float, interval: float
) -> tuple[list[list[str]], list[Sample]]:
    """(time, cpu seconds, RSS MB, reconciles, AWS calls) every `interval` seconds."""
    samples: list[Sample] = []
    rows: list[list[str]] = []
    start = time.monotonic()
    while True:
        text = scrape(port)
        now = time.monotonic()
        samples.append(
            (
                now,
                cpu_seconds(pid),
                rss_mb(pid),
                metric_sum(text, "stackop_reconcile_total"),
                metric_sum(text, "stackop_aws_api_calls_total"),
            )
        )
        if len(samples) > 1:
            (t0, c0, *_), (t1, c1, rss, rec, calls) = samples[-2], samples[-1]
            rows.append(
                [
                    f"{t1 - start:.0f}",
                    f"{rss:.1f}",
                    f"{100 * (c1 - c0) / (t1 - t0):.2f}",
                    f"{rec - samples[0][3]:.0f}",
                    f"{calls - samples[0][4]:.0f}",
                ]
            )
        if now - start >= seconds:
            return rows, samples
        time.sleep(max(0.0, min(interval, start + seconds - time.monotonic())))


if __name__ == "__main__":
    main()
