"""Converge from empty: wall time, AWS calls and the critical path of the whole portal.

    python -m bench.bench_converge [--services 9 45] [--trials 1] [--concurrency 8 16]

Each trial resets a fresh moto server and reconciles the spec until it is in sync
(passes, as `stackop apply` does), timing every action. The critical path is the
longest chain of dependent actions by their measured durations: the floor that
concurrency cannot go below.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import moto_server, portal_data, print_table, reset, with_services, write_spec
from controller.aws import AwsClients, is_write
from controller.engine import ActionReport, DesiredResource
from controller.render import render
from controller.spec import load_spec_file
from controller.stack import StackRunner

MAX_PASSES = 10


@dataclass
class Trial:
    seconds: float = 0.0
    passes: list[tuple[int, int, int, float]] = field(default_factory=list)
    """(actions done, calls, writes, seconds) per pass."""
    durations: dict[str, float] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    converged: bool = False


async def converge(
    endpoint: str, spec_path: Path, concurrency: int
) -> tuple[Trial, list[DesiredResource]]:
    loaded = load_spec_file(spec_path)
    trial = Trial()

    def on_event(phase: str, report: ActionReport) -> None:
        if phase == "end":  # a resource written in several passes counts every write
            key = report.action.key
            trial.durations[key] = trial.durations.get(key, 0.0) + report.elapsed

    async with AwsClients(endpoint_url=endpoint) as clients:
        runner = StackRunner(clients, concurrency=concurrency)
        started = time.perf_counter()
        for _ in range(MAX_PASSES):
            mark, pass_started = clients.recorder.mark(), time.perf_counter()
            result = await runner.reconcile(loaded, on_event=on_event)
            calls = clients.recorder.since(mark)
            done = 0 if result.execution is None else len(result.execution.completion_order)
            trial.passes.append(
                (
                    done,
                    len(calls),
                    sum(1 for c in calls if is_write(c.operation)),
                    time.perf_counter() - pass_started,
                )
            )
            if result.execution is None:
                trial.converged = result.plan.in_sync
                break
        trial.seconds = time.perf_counter() - started
        trial.calls = clients.recorder.counts()
    return trial, render(loaded.spec)


def critical_path(
    desired: list[DesiredResource], durations: dict[str, float]
) -> list[tuple[str, float]]:
    """The chain of dependent actions with the largest summed duration."""
    deps = {d.key: {k for k in d.dependencies() if k in durations} for d in desired}
    best: dict[str, tuple[float, str | None]] = {}

    def longest(key: str) -> float:
        if key not in best:
            prior = max(deps.get(key, ()), key=longest, default=None)
            best[key] = (durations[key] + (longest(prior) if prior else 0.0), prior)
        return best[key][0]

    end = max(durations, key=longest)
    chain: list[tuple[str, float]] = []
    key: str | None = end
    while key is not None:
        chain.append((key, durations[key]))
        key = best[key][1]
    return chain[::-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, nargs="*", default=[9])
    parser.add_argument("--trials", type=int, default=1)
    parser.add_argument("--concurrency", type=int, nargs="*", default=[8], help="writes at once")
    args = parser.parse_args()
    summary, paths = [], {}
    with moto_server() as endpoint, tempfile.TemporaryDirectory() as tmp:
        for services, concurrency in itertools.product(args.services, args.concurrency):
            spec = write_spec(with_services(portal_data(), services), Path(tmp) / "s.yaml")
            for n in range(args.trials):
                reset(endpoint)
                trial, desired = asyncio.run(converge(endpoint, spec, concurrency))
                path = critical_path(desired, trial.durations)
                paths[services] = (trial, path)
                total_calls = sum(trial.calls.values())
                writes = sum(n for op, n in trial.calls.items() if is_write(op.split(":")[1]))
                summary.append(
                    [
                        f"{services} services, {concurrency} at once #{n + 1}",
                        len(desired),
                        len(trial.passes),
                        f"{trial.seconds:.2f}",
                        total_calls,
                        writes,
                        f"{sum(s for _, s in path):.2f}",
                        "yes" if trial.converged else "NO",
                    ]
                )
    print("Converge from empty against a moto server (in-process, as `stackop apply`)")
    print_table(
        [
            "variant",
            "resources",
            "passes",
            "wall s",
            "AWS calls",
            "writes",
            "crit. path s",
            "in sync",
        ],
        summary,
    )
    for services, (trial, path) in paths.items():
        print(f"\nPasses, {services} services:")
        print_table(
            ["pass", "actions", "AWS calls", "writes", "seconds"],
            [[i + 1, a, c, w, f"{s:.2f}"] for i, (a, c, w, s) in enumerate(trial.passes)],
        )
        print(f"\nCritical path, {services} services (last run):")
        cumulative = 0.0
        rows = []
        for key, seconds in path:
            cumulative += seconds
            rows.append([key, f"{seconds:.3f}", f"{cumulative:.3f}"])
        print_table(["action", "seconds", "cumulative"], rows)


if __name__ == "__main__":
    main()
