"""Spec pushed -> first action started, and the operator's steady-state cycle.

    python -m bench.bench_spec_push [--trials 3] [--poll 10] [--cycle]

Latency: a real `stackop run` against a fresh moto server; each trial puts a new
(network-only) spec with boto3 and reads the operator's JSON log for the stack's
first `action_started`. Two operators run one after the other: with `--queue-url`
(S3 event notifications delivered to SQS) and with polling only. Budget (DESIGN.md):
<= 2 s with S3 events, <= the poll interval without.

`--cycle`: converge the portal, then count the AWS calls (STACKOP_CALL_LOG) and the
reconcile wall time of the operator's steady-state resync cycles.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import yaml

from bench.common import BIN, ROOT, free_port, moto_server, network_only, portal_data, print_table

BUCKET = "bench-specs"


def client(service: str, url: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1")


def setup_bucket(url: str) -> str:
    s3, sqs = client("s3", url), client("sqs", url)
    s3.create_bucket(Bucket=BUCKET)
    queue_url = sqs.create_queue(QueueName="spec-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "specs/"}]}},
                }
            ]
        },
    )
    return str(queue_url)


class Run:
    def __init__(self, url: str, workdir: Path, name: str, *args: str) -> None:
        self.log = workdir / f"{name}.log"
        self.calls = workdir / f"{name}.calls.jsonl"
        self.port = free_port()
        env = {
            **os.environ,
            "STACKOP_ENDPOINT_URL": url,
            "STACKOP_BUCKET": BUCKET,
            "STACKOP_PORT": str(self.port),
            "STACKOP_IDENTITY": name,
            "STACKOP_CALL_LOG": str(self.calls),
        }
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [str(BIN / "stackop"), "run", *args],
                stdout=out,
                stderr=subprocess.DEVNULL,
                env=env,
                cwd=ROOT,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1).read()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text().splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out

    def first(self, event: str, stack: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.events():
                if e.get("event") == event and e.get("stack") == stack:
                    return datetime.fromisoformat(e["timestamp"]).timestamp()
            time.sleep(0.05)
        raise TimeoutError(f"no {event} for {stack} within {timeout}s")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def spec_bytes(name: str) -> bytes:
    data = network_only(portal_data())
    data["metadata"]["name"] = name
    return yaml.safe_dump(data, sort_keys=False).encode()


def latency(url: str, run: Run, label: str, trials: int) -> list[float]:
    s3 = client("s3", url)
    out = []
    for i in range(trials):
        stack = f"push-{label}-{i}"
        time.sleep(1.0)  # not aligned with the poll
        started = time.time()
        s3.put_object(Bucket=BUCKET, Key=f"specs/{stack}.yaml", Body=spec_bytes(stack))
        out.append(run.first("action_started", stack, timeout=60) - started)
    return out


def bench_latency(trials: int, poll: float) -> None:
    rows = []
    with moto_server() as url, tempfile.TemporaryDirectory() as tmp:
        queue_url = setup_bucket(url)
        for label, args in (
            ("S3 events via SQS", ["--queue-url", queue_url]),
            ("polling only", []),
        ):
            run = Run(url, Path(tmp), label.split()[0].lower(), "--poll", str(poll), *args)
            try:
                times = latency(url, run, label.split()[0].lower(), trials)
            finally:
                run.stop()
            rows.append(
                (
                    label,
                    f"{poll:g}",
                    trials,
                    f"{min(times):.2f}",
                    f"{statistics.median(times):.2f}",
                    f"{max(times):.2f}",
                    " ".join(f"{t:.2f}" for t in times),
                )
            )
    print("Spec pushed -> first action started (seconds)")
    print_table(("source", "poll s", "trials", "min", "median", "max", "each"), rows)


def bench_cycle(resync: float, cycles: int) -> None:
    with moto_server() as url, tempfile.TemporaryDirectory() as tmp:
        client("s3", url).create_bucket(Bucket=BUCKET)
        run = Run(url, Path(tmp), "cycle", "--resync", str(resync), "--poll", str(resync))
        try:
            client("s3", url).put_object(
                Bucket=BUCKET,
                Key="specs/portal.yaml",
                Body=(ROOT / "specs/portal.yaml").read_bytes(),
            )
            name = portal_data()["metadata"]["name"]
            deadline = time.monotonic() + 300
            while True:  # converged: a reconcile that planned nothing
                done = [
                    e
                    for e in run.events()
                    if e.get("event") == "reconcile_done"
                    and "0 to create, 0 to update" in e.get("plan", "")
                    and " 0 to delete" in e.get("plan", "")
                ]
                if done or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            mark = len(run.calls.read_text().splitlines())
            seen = len([e for e in run.events() if e.get("event") == "reconcile_done"])
            cpu0, t0 = cpu_seconds(run.proc.pid), time.monotonic()
            time.sleep(resync * cycles + resync / 2)
            cpu = (cpu_seconds(run.proc.pid) - cpu0) / (time.monotonic() - t0)
            rss = rss_mb(run.proc.pid)
            events = [e for e in run.events() if e.get("event") == "reconcile_done"][seen:]
            calls = [json.loads(x) for x in run.calls.read_text().splitlines()[mark:]]
        finally:
            run.stop()
    n = max(1, len(events))
    by_op = Counter(f"{c['service']}:{c['operation']}" for c in calls)
    print(f"Steady-state cycle of the portal ({name}), {len(events)} resyncs of {resync:g}s:")
    print(f"  AWS calls per cycle (all, incl. spec poll and lease renewal): {len(calls) / n:.1f}")
    print(f"  reconcile wall time: median {statistics.median(e['elapsed'] for e in events):.3f}s")
    print(f"  operator process at rest: CPU {cpu * 100:.1f}% of one core, RSS {rss:.0f} MB")
    print_table(("operation", "calls/cycle"), [(k, f"{v / n:.1f}") for k, v in by_op.most_common()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--poll", type=float, default=10.0)
    parser.add_argument("--cycle", action="store_true", help="steady-state cycle instead")
    parser.add_argument("--resync", type=float, default=5.0)
    parser.add_argument("--cycles", type=int, default=4)
    args = parser.parse_args()
    if args.cycle:
        bench_cycle(args.resync, args.cycles)
    else:
        bench_latency(args.trials, args.poll)


if __name__ == "__main__":
    main()
