"""Drift detection latency: out-of-band change -> seen in /metrics -> corrected.

    python -m bench.bench_drift_latency [--samples 5] [--resync 30 5] [--seed N]

A real `stackop run` converges the portal on a fresh moto server; then, at random times
(a seeded uniform wait in [0, resync) after the previous sample, so the change lands at
any phase of the resync timer), a separate boto3 client adds an ingress rule to the
stack's load-balancer security group. /metrics is scraped every 50 ms for:
- detected: stackop_drifted_resources{stack} > 0 (or stackop_drift_detected_total grew,
  should the gauge be set and cleared between two scrapes),
- corrected: stackop_drift_corrected_total grew (the reverting write is done),
- cleared: the gauge is back to 0 (the follow-up observe confirmed it).
Expected: detection within one resync period (uniform, so median ~resync/2), the
correction in the same reconcile, the gauge cleared ~1 s later.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bench.common import BIN, ROOT, free_port, moto_server, portal_data, print_table

BUCKET = "bench-drift"
SCRAPE_EVERY = 0.05


def client(service: str, url: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1")


class Operator:
    def __init__(self, url: str, workdir: Path, resync: float) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "STACKOP_ENDPOINT_URL": url,
            "STACKOP_BUCKET": BUCKET,
            "STACKOP_PORT": str(self.port),
            "STACKOP_RESYNC": str(resync),
            "STACKOP_POLL": "2",
            "PYTHONUNBUFFERED": "1",
        }
        with open(workdir / f"op-{resync:g}.log", "wb") as out:
            self.proc = subprocess.Popen(
                [str(BIN / "stackop"), "run"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
            )
        self.wait(lambda: self.get("/healthz"), 30, "/healthz")

    def get(self, path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
            return str(resp.read().decode())

    def metrics(self, stack: str) -> dict[str, float]:
        """Sums over the stack's series of the metrics this bench reads."""
        wanted = {
            "stackop_drifted_resources",
            "stackop_drift_detected_total",
            "stackop_drift_corrected_total",
            "stackop_resources",
        }
        out: dict[str, float] = dict.fromkeys(wanted, 0.0)
        out["not_in_sync"] = 0.0
        for family in text_string_to_metric_families(self.get("/metrics")):
            for s in family.samples:
                if s.name in wanted and s.labels.get("stack") == stack:
                    out[s.name] += s.value
                    if s.name == "stackop_resources" and s.labels.get("state") != "in_sync":
                        out["not_in_sync"] += s.value
        return out

    @staticmethod
    def wait(check: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                got = check()
                if got:
                    return got
            except OSError:
                pass
            time.sleep(SCRAPE_EVERY)
        raise TimeoutError(f"{what} not within {timeout}s")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def alb_group(url: str, stack: str) -> str:
    groups = client("ec2", url).describe_security_groups(
        Filters=[
            {"Name": "tag:stackop:stack", "Values": [stack]},
            {"Name": "tag:stackop:logical-id", "Values": ["security_group/alb"]},
        ]
    )["SecurityGroups"]
    return str(groups[0]["GroupId"])


def sample(url: str, op: Operator, stack: str, group: str, port: int) -> tuple[float, ...]:
    before = op.metrics(stack)
    client("ec2", url).authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": port,
                "ToPort": port,
                "IpRanges": [{"CidrIp": "203.0.113.7/32"}],
            }
        ],
    )
    injected = time.monotonic()
    detected = corrected = cleared = None
    deadline = injected + 300
    while cleared is None and time.monotonic() < deadline:
        m = op.metrics(stack)
        now = time.monotonic() - injected
        seen = m["stackop_drift_detected_total"] > before["stackop_drift_detected_total"]
        if detected is None and (m["stackop_drifted_resources"] > 0 or seen):
            detected = now
        if corrected is None and (
            m["stackop_drift_corrected_total"] > before["stackop_drift_corrected_total"]
        ):
            corrected = now
        if detected is not None and corrected is not None and m["stackop_drifted_resources"] == 0:
            cleared = now
        time.sleep(SCRAPE_EVERY)
    if detected is None or corrected is None or cleared is None:
        raise TimeoutError("drift not detected and corrected within 300 s")
    return detected, corrected, cleared


def run(resync: float, samples: int, rng: random.Random, workdir: Path) -> list[tuple[float, ...]]:
    with moto_server() as url:
        data = portal_data()
        stack = str(data["metadata"]["name"])
        client("s3", url).create_bucket(Bucket=BUCKET)
        op = Operator(url, workdir, resync)
        try:
            client("s3", url).put_object(
                Bucket=BUCKET, Key="specs/portal.yaml", Body=yaml.safe_dump(data).encode()
            )
            op.wait(
                lambda: (m := op.metrics(stack))["stackop_resources"] > 0 and not m["not_in_sync"],
                300,
                "the portal converged",
            )
            group = alb_group(url, stack)
            out = []
            for i in range(samples):
                time.sleep(rng.uniform(0, resync))
                out.append(sample(url, op, stack, group, 3000 + i))
                print(
                    f"  resync {resync:g}s sample {i + 1}: detected {out[-1][0]:.2f}s, "
                    f"corrected {out[-1][1]:.2f}s, gauge cleared {out[-1][2]:.2f}s",
                    flush=True,
                )
            return out
        finally:
            op.stop()


def stats(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--resync", type=float, nargs="+", default=[30.0, 5.0])
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print(f"seed {seed}")
    rng = random.Random(seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for resync in args.resync:
            got = run(resync, args.samples, rng, Path(tmp))
            rows.append(
                (
                    f"{resync:g}",
                    len(got),
                    stats([g[0] for g in got]),
                    stats([g[1] for g in got]),
                    stats([g[2] for g in got]),
                )
            )
    print("\nDrift injected -> seen in /metrics -> corrected (seconds, min / median / max)")
    print_table(("resync s", "samples", "detected", "corrected", "gauge back to 0"), rows)


if __name__ == "__main__":
    main()
