"""Drift -> corrected with CloudTrail change events, and the operator's calls per hour.

    python -m bench.bench_event_drift [--samples 20] [--window 120] [--network-only]

A real `stackop run` with a queue and the drift events rule (bootstrap's pattern) and
a 300 s resync converges the portal on a fresh moto server. Each sample adds an
ingress rule to the load-balancer security group with a separate boto3 client, then
puts the CloudTrail event AWS would emit for it on the default bus (moto emits no
CloudTrail events), and times until the rule is gone again (polled every 50 ms).
Then, idle, the AWS calls of the operator over --window seconds are counted with
events (resync 300 s) and without (no queue, resync 30 s), and given per hour.
Budget (issue 12): drift -> corrected <= 5 s p95 with events.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.bench_drift_latency import BUCKET, Operator, alb_group, client
from bench.common import ROOT, moto_server, network_only, portal_data, print_table
from bootstrap.drift_rule import RULE_NAME, event_pattern

SAMPLE = ROOT / "tests" / "specs" / "cloudtrail" / "ec2-authorize-security-group-ingress.json"
POLL = 0.05


def queue_with_rule(url: str) -> str:
    sqs = client("sqs", url)
    queue_url = str(sqs.create_queue(QueueName="bench-events")["QueueUrl"])
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events = client("events", url)
    events.put_rule(Name=RULE_NAME, EventPattern=json.dumps(event_pattern()), State="ENABLED")
    events.put_targets(Rule=RULE_NAME, Targets=[{"Id": "q", "Arn": arn}])
    return queue_url


def start(url: str, workdir: Path, resync: float, env: dict[str, str]) -> Operator:
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return Operator(url, workdir, resync)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def port_open(url: str, group: str, port: int) -> bool:
    (g,) = client("ec2", url).describe_security_groups(GroupIds=[group])["SecurityGroups"]
    return any(p.get("FromPort") == port for p in g.get("IpPermissions", []))


def one_sample(url: str, group: str, port: int) -> float:
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
    started = time.monotonic()
    event: dict[str, Any] = json.loads(SAMPLE.read_text())
    event["detail"]["requestParameters"]["groupId"] = group
    client("events", url).put_events(
        Entries=[
            {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
            }
        ]
    )
    while port_open(url, group, port):
        if time.monotonic() - started > 120:
            raise TimeoutError("drift not corrected within 120 s")
        time.sleep(POLL)
    return time.monotonic() - started


def calls_in(log: Path, seconds: float) -> int:
    before = len(log.read_text().splitlines()) if log.exists() else 0
    time.sleep(seconds)
    return len(log.read_text().splitlines()) - before


def converge(op: Operator, stack: str) -> None:
    op.wait(
        lambda: (m := op.metrics(stack))["stackop_resources"] > 0 and not m["not_in_sync"],
        300,
        "the portal converged",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--window", type=float, default=120.0)
    parser.add_argument("--network-only", action="store_true")
    args = parser.parse_args()
    data = portal_data()
    if args.network_only:
        data = network_only(data)
    stack = str(data["metadata"]["name"])
    with moto_server() as url, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        client("s3", url).create_bucket(Bucket=BUCKET)
        queue_url = queue_with_rule(url)
        log = work / "events.jsonl"
        op = start(url, work, 300, {"STACKOP_QUEUE_URL": queue_url, "STACKOP_CALL_LOG": str(log)})
        try:
            client("s3", url).put_object(
                Bucket=BUCKET, Key="specs/portal.yaml", Body=yaml.safe_dump(data).encode()
            )
            converge(op, stack)
            group = alb_group(url, stack)
            times = []
            for i in range(args.samples):
                times.append(one_sample(url, group, 3000 + i))
                print(f"  sample {i + 1}: corrected in {times[-1]:.2f}s", flush=True)
            time.sleep(2)  # the follow-up observe of the last correction
            with_events = calls_in(log, args.window)
        finally:
            op.stop()
        log = work / "resync.jsonl"
        op = start(url, work, 30, {"STACKOP_CALL_LOG": str(log)})
        try:
            converge(op, stack)
            without = calls_in(log, args.window)
        finally:
            op.stop()
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(f"\nDrift -> corrected with change events ({len(times)} samples, seconds)")
    print_table(
        ("min", "median", "p95", "max"),
        [[f"{t:.2f}" for t in (min(times), statistics.median(times), p95, max(times))]],
    )
    print(f"\nIdle operator, AWS calls over {args.window:g} s, per hour")
    per_hour = 3600 / args.window
    print_table(
        ("mode", f"calls in {args.window:g} s", "calls per hour"),
        [
            ["events, resync 300 s", with_events, round(with_events * per_hour)],
            ["no events, resync 30 s", without, round(without * per_hour)],
        ],
    )


if __name__ == "__main__":
    main()
