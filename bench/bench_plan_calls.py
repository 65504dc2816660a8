"""AWS API calls and wall time of one no-change plan, as the stack grows.

    .venv/bin/python bench/bench_plan_calls.py [--network-only] [--services 9 45 90] [--azs 2 6]

For each variant: converge it against a fresh moto server, then measure one in-process
no-change plan (calls by operation, seconds) and one `stackop plan` process (seconds,
process start included). Budget (DESIGN.md): <= 40 calls for the portal, and 90
services <= 1.5x the calls of 9.
"""

from __future__ import annotations

import argparse
import asyncio
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
    endpoint: str, spec_path: Path
) -> tuple[int, float, Counter[str], bool]:
    loaded = load_spec_file(spec_path)
    async with AwsClients(endpoint_url=endpoint) as clients:
        runner = StackRunner(clients)
        for _ in range(6):
            result = await runner.reconcile(loaded)
            if result.execution is None:
                break
        await runner.plan(loaded)  # warm clients (first call per client costs ~30 ms)
        mark = clients.recorder.mark()
        started = time.perf_counter()
        plan = await runner.plan(loaded)
        elapsed = time.perf_counter() - started
        counts = clients.recorder.counts(mark)
    return sum(counts.values()), elapsed, counts, plan.in_sync


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--network-only", action="store_true")
    parser.add_argument("--services", type=int, nargs="*", default=[9, 45, 90])
    parser.add_argument("--azs", type=int, nargs="*", default=[2])
    parser.add_argument("--by-operation", action="store_true")
    args = parser.parse_args()
    rows = []
    details: dict[str, Counter[str]] = {}
    with moto_server() as endpoint, tempfile.TemporaryDirectory() as tmp:
        for azs in args.azs:
            for services in args.services:
                data = with_azs(with_services(portal_data(), services), azs)
                if args.network_only:
                    data = network_only(data)
                spec = write_spec(data, Path(tmp) / f"s{services}-{azs}.yaml")
                reset(endpoint)
                calls, seconds, counts, clean = asyncio.run(converge_and_measure(endpoint, spec))
                started = time.perf_counter()
                proc = subprocess.run(
                    [str(BIN / "stackop"), "--endpoint-url", endpoint, "plan", str(spec)],
                    capture_output=True,
                    text=True,
                )
                cli_seconds = time.perf_counter() - started
                label = f"{services} services, {azs} AZs"
                details[label] = counts
                rows.append(
                    [
                        label,
                        calls,
                        f"{seconds:.3f}",
                        f"{cli_seconds:.2f}",
                        "yes" if clean and proc.returncode == 0 else f"NO (exit {proc.returncode})",
                    ]
                )
    scope = "networking part" if args.network_only else "whole stack (registered kinds)"
    print(f"No-change plan, {scope}, against moto server")
    print_table(["variant", "AWS calls", "in-process s", "stackop plan s", "clean"], rows)
    if args.by_operation:
        for label, counts in details.items():
            print(f"\n{label}:")
            print_table(["operation", "calls"], sorted(counts.items()))


if __name__ == "__main__":
    main()
