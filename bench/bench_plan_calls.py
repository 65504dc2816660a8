"""AWS API calls and wall time of one no-change plan, as the stack grows.

    python -m bench.bench_plan_calls [--network-only] [--services 9 45 90] [--azs 2 6]
                                     [--runs 5] [--by-operation] [--no-data-cache]

For each variant: converge it against a fresh moto server, then measure --runs
in-process no-change plans with warm clients and kinds (the operator's resync cycle:
calls, median seconds) and --runs `stackop plan` processes (process start included:
calls, median and best seconds), cold (no bucket) and with `--bucket` (starting from
the operator's memory in status/<stack>.json: the bench puts there what the warm
runner remembers, in the shape the operator writes); botocore's data files come from
stackop's cache unless --no-data-cache. Budgets (DESIGN.md, issue 12): <= 40 calls for
the portal, 90 services <= 1.5x the calls of 9; a fresh plan <= 45 calls and <= 1.2x
the cycle; `stackop plan` <= 1.0 s, resync cycle <= 0.3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import (
    BIN,
    compile_package,
    moto_server,
    network_only,
    portal_data,
    print_table,
    reset,
    with_azs,
    with_services,
    write_spec,
)
from controller.aws import AwsClients
from controller.operator.status import status_key
from controller.spec import load_spec_file
from controller.stack import StackRunner

BUCKET = "bench-status"


async def converge_and_measure(
    endpoint: str, spec_path: Path, runs: int
) -> tuple[int, float, Counter[str], bool, dict[str, Any]]:
    """Converge, then `runs` no-change plans: (calls, median seconds, calls by op, clean,
    what the warm runner remembers)."""
    loaded = load_spec_file(spec_path)
    async with AwsClients(endpoint_url=endpoint) as clients:
        runner = StackRunner(clients)
        for _ in range(6):
            result = await runner.reconcile(loaded)
            if result.execution is None:
                break
        await runner.plan(loaded)  # warm clients (first call per client costs ~30 ms)
        times, clean = [], True
        for _ in range(runs):
            mark = clients.recorder.mark()
            started = time.perf_counter()
            plan = await runner.plan(loaded)
            times.append(time.perf_counter() - started)
            counts = clients.recorder.counts(mark)
            clean = clean and plan.in_sync
        memory = runner.remember(loaded.name)
    return sum(counts.values()), statistics.median(times), counts, clean, memory


async def put_memory(endpoint: str, stack: str, memory: dict[str, Any]) -> None:
    """status/<stack>.json as the operator writes it (the fields plan reads)."""
    async with AwsClients(endpoint_url=endpoint) as clients:
        s3 = await clients.client("s3")
        await s3.create_bucket(Bucket=BUCKET)
        await s3.put_object(
            Bucket=BUCKET,
            Key=status_key(stack),
            Body=json.dumps({"stack": stack, "memory": memory}).encode(),
        )


def cli_plan(
    endpoint: str, spec: Path, runs: int, tmp: str, *extra: str, data_cache: bool = True
) -> tuple[Counter[str], float, float, bool]:
    """`stackop plan` processes: (calls of one by operation, median s, best s, all exit 0)."""
    log = Path(tmp) / "calls.jsonl"
    env = {**os.environ, "STACKOP_CALL_LOG": str(log)}
    if not data_cache:
        env["STACKOP_CACHE_DIR"] = ""
    times, ok = [], True
    for _ in range(runs):
        log.unlink(missing_ok=True)
        started = time.perf_counter()
        proc = subprocess.run(
            [str(BIN / "stackop"), "--endpoint-url", endpoint, *extra, "plan", str(spec)],
            capture_output=True,
            text=True,
            env=env,
        )
        times.append(time.perf_counter() - started)
        ok = ok and proc.returncode == 0
    lines = log.read_text().splitlines() if log.exists() else []
    calls: Counter[str] = Counter()
    for line in lines:
        call = json.loads(line)
        if call.get("operation"):
            calls[f"{call['service']}:{call['operation']}"] += 1
    return calls, statistics.median(times), min(times), ok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--network-only", action="store_true")
    parser.add_argument("--services", type=int, nargs="*", default=[9, 45, 90])
    parser.add_argument("--azs", type=int, nargs="*", default=[2])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--by-operation", action="store_true")
    parser.add_argument("--no-data-cache", action="store_true")
    args = parser.parse_args()
    rows = []
    details: dict[str, Counter[str]] = {}
    cli_details: dict[str, Counter[str]] = {}
    cold_details: dict[str, Counter[str]] = {}
    calls_by_services: dict[int, int] = {}
    compile_package()
    load_before = os.getloadavg()[0]
    with moto_server() as endpoint, tempfile.TemporaryDirectory() as tmp:
        for azs in args.azs:
            for services in args.services:
                data = with_azs(with_services(portal_data(), services), azs)
                if args.network_only:
                    data = network_only(data)
                spec = write_spec(data, Path(tmp) / f"s{services}-{azs}.yaml")
                reset(endpoint)
                calls, seconds, counts, clean, memory = asyncio.run(
                    converge_and_measure(endpoint, spec, args.runs)
                )
                cache = not args.no_data_cache
                cold, cold_median, cold_best, cold_ok = cli_plan(
                    endpoint, spec, args.runs, tmp, data_cache=cache
                )
                asyncio.run(put_memory(endpoint, load_spec_file(spec).name, memory))
                cli_calls, cli_median, cli_best, cli_ok = cli_plan(
                    endpoint, spec, args.runs, tmp, "--bucket", BUCKET, data_cache=cache
                )
                label = f"{services} services, {azs} AZs"
                details[label] = counts
                cli_details[label] = cli_calls
                cold_details[label] = cold
                calls_by_services.setdefault(services, calls)
                rows.append(
                    [
                        label,
                        calls,
                        f"{seconds:.3f}",
                        sum(cold.values()),
                        f"{cold_median:.2f} / {cold_best:.2f}",
                        sum(cli_calls.values()),
                        f"{cli_median:.2f} / {cli_best:.2f}",
                        "yes" if clean and cli_ok and cold_ok else "NO",
                    ]
                )
    scope = "networking part" if args.network_only else "whole stack"
    print(
        f"No-change plan, {scope}, against moto server; {args.runs} runs each; "
        f"load average {load_before:.2f} -> {os.getloadavg()[0]:.2f}"
    )
    print_table(
        [
            "variant",
            "cycle calls",
            "cycle s (median)",
            "plan calls (cold)",
            "plan s (cold)",
            "plan --bucket calls",
            "plan --bucket s (median / best)",
            "clean",
        ],
        rows,
    )
    if 9 in calls_by_services and 90 in calls_by_services:
        ratio = calls_by_services[90] / calls_by_services[9]
        print(f"\n90 services / 9 services: {ratio:.2f}x the calls (budget 1.5x)")
    for label, counts in details.items():
        cycle = max(1, sum(counts.values()))
        warm = sum(cli_details[label].values()) / cycle
        cold_ratio = sum(cold_details[label].values()) / cycle
        print(f"{label}: stackop plan / cycle = {warm:.2f}x the calls ({cold_ratio:.2f}x cold)")
    if args.by_operation:
        for label, counts in details.items():
            ops = sorted(set(counts) | set(cli_details[label]) | set(cold_details[label]))
            print(f"\n{label}:")
            print_table(
                ["operation", "cycle calls", "plan calls (cold)", "plan --bucket calls"],
                [[op, counts[op], cold_details[label][op], cli_details[label][op]] for op in ops],
            )


if __name__ == "__main__":
    main()
