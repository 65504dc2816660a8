"""AWS API calls and wall time of one no-change plan, as the stack grows.

    python -m bench.bench_plan_calls [--network-only] [--services 9 45 90] [--azs 2 6]
                                     [--runs 5] [--by-operation] [--no-data-cache]

For each variant: converge it against a fresh moto server, then measure --runs
in-process no-change plans with warm clients and kinds (the operator's resync cycle:
calls, median seconds) and --runs `stackop plan` processes (process start included:
calls, median and best seconds; botocore's data files from stackop's cache unless
--no-data-cache). Budgets (DESIGN.md): <= 40 calls for the portal, 90
services <= 1.5x the calls of 9; `stackop plan` <= 1.2 s, resync cycle <= 0.3 s.
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

from bench.common import (
    BIN,
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
from controller.spec import load_spec_file
from controller.stack import StackRunner


async def converge_and_measure(
    endpoint: str, spec_path: Path, runs: int
) -> tuple[int, float, Counter[str], bool]:
    """Converge, then `runs` no-change plans: (calls, median seconds, calls by op, clean)."""
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
    return sum(counts.values()), statistics.median(times), counts, clean


def cli_plan(
    endpoint: str, spec: Path, runs: int, tmp: str, data_cache: bool = True
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
            [str(BIN / "stackop"), "--endpoint-url", endpoint, "plan", str(spec)],
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
    calls_by_services: dict[int, int] = {}
    load_before = os.getloadavg()[0]
    with moto_server() as endpoint, tempfile.TemporaryDirectory() as tmp:
        for azs in args.azs:
            for services in args.services:
                data = with_azs(with_services(portal_data(), services), azs)
                if args.network_only:
                    data = network_only(data)
                spec = write_spec(data, Path(tmp) / f"s{services}-{azs}.yaml")
                reset(endpoint)
                calls, seconds, counts, clean = asyncio.run(
                    converge_and_measure(endpoint, spec, args.runs)
                )
                cli_calls, cli_median, cli_best, cli_ok = cli_plan(
                    endpoint, spec, args.runs, tmp, not args.no_data_cache
                )
                label = f"{services} services, {azs} AZs"
                details[label] = counts
                cli_details[label] = cli_calls
                calls_by_services.setdefault(services, calls)
                rows.append(
                    [
                        label,
                        calls,
                        f"{seconds:.3f}",
                        sum(cli_calls.values()),
                        f"{cli_median:.2f} / {cli_best:.2f}",
                        "yes" if clean and cli_ok else "NO",
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
            "stackop plan calls",
            "stackop plan s (median / best)",
            "clean",
        ],
        rows,
    )
    if 9 in calls_by_services and 90 in calls_by_services:
        ratio = calls_by_services[90] / calls_by_services[9]
        print(f"\n90 services / 9 services: {ratio:.2f}x the calls (budget 1.5x)")
    for label, counts in details.items():
        fresh = sum(cli_details[label].values()) / max(1, sum(counts.values()))
        print(f"{label}: stackop plan / cycle = {fresh:.2f}x the calls")
    if args.by_operation:
        for label, counts in details.items():
            ops = sorted(set(counts) | set(cli_details[label]))
            print(f"\n{label}:")
            print_table(
                ["operation", "cycle calls", "stackop plan calls"],
                [[op, counts[op], cli_details[label][op]] for op in ops],
            )


if __name__ == "__main__":
    main()
