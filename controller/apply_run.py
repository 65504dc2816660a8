"""`stackop apply`: converge one stack in passes, under its lease, with approval.

Each pass plans, checks the plan may run (a saved plan must still match; deletions and
replacements need approval; the lease must still be ours), then executes it while the
lease is watched. Observe mode and paused specs only plan.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from dataclasses import dataclass

from controller.apply_lease import Lease, LeaseLost, LeaseRefused
from controller.approval import Approval, NotApproved
from controller.aws import classify
from controller.engine import ActionReport, ExecutionReport, Executor, Outcome, Plan
from controller.planfile import PlanFileError, SavedPlan
from controller.planview import render_plan
from controller.render import unreconciled_sections
from controller.spec import LoadedSpec
from controller.stack import StackRunner

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


@dataclass(frozen=True)
class ApplySettings:
    max_passes: int
    approval: Approval
    saved: SavedPlan | None = None


def read_only_reason(loaded: LoadedSpec) -> str:
    """Why apply must not write for this spec ("" when it may)."""
    body = loaded.spec.spec
    if body.paused:
        return "spec.paused is true: the stack is paused, nothing is written"
    if body.mode == "observe":
        return "spec.mode is observe: drift is reported, nothing is written"
    return ""


async def plan_only(runner: StackRunner, loaded: LoadedSpec, reason: str) -> int:
    plan = await runner.plan(loaded)
    print(render_plan(plan, unreconciled_sections()))
    print(f"Not applied: {reason}.")
    return EXIT_OK if plan.in_sync else EXIT_CHANGES


def print_event(phase: str, report: ActionReport) -> None:
    action = report.action
    if phase == "start":
        print(f"  {action.type.value:7} {action.key} ...", flush=True)
        return
    if report.outcome is Outcome.DONE:
        print(f"  {action.type.value:7} {action.key} done in {report.elapsed:.2f}s", flush=True)
    else:
        print(f"  {action.type.value:7} {action.key} FAILED: {report.message}", flush=True)


async def _execute(runner: StackRunner, loaded: LoadedSpec, plan: Plan) -> ExecutionReport:
    executor = Executor(
        runner.kinds,
        runner.context(loaded),
        concurrency=runner.concurrency,
        on_event=print_event,
        classify=classify,
    )
    return await executor.run(plan)


class Applier:
    def __init__(
        self, runner: StackRunner, loaded: LoadedSpec, lease: Lease, settings: ApplySettings
    ) -> None:
        self.runner = runner
        self.loaded = loaded
        self.lease = lease
        self.settings = settings
        self.wrote = False

    async def warm_up(self) -> None:
        """Create the kinds' AWS clients first: creating one blocks the event loop for
        ~0.1-0.3 s, which would otherwise delay lease renewals during the first plan."""
        services = {kind.service for kind in self.runner.kinds.values()} | {"s3"}
        for service in sorted(services):
            with contextlib.suppress(Exception):  # a kind's service is its IAM prefix
                await self.runner.clients.client(service)

    async def run(self) -> int:
        await self.warm_up()
        try:
            await self.lease.acquire()
        except LeaseRefused as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        try:
            return await self._passes()
        except (LeaseLost, NotApproved, PlanFileError) as exc:
            done = "" if self.wrote else "; nothing written"
            print(f"error: {exc}{done}", file=sys.stderr)
            return EXIT_ERROR
        finally:
            await self.lease.release()

    async def _gate(self, plan: Plan, first: bool) -> None:
        """Raise unless this pass's plan may run now."""
        saved = self.settings.saved
        if first and saved is not None:
            saved.check_matches(plan)
        await self.settings.approval.approve(
            plan, lambda: print(render_plan(plan, unreconciled_sections()))
        )
        await self.lease.check()

    async def _passes(self) -> int:
        started = time.monotonic()
        plan: Plan | None = None
        for attempt in range(1, self.settings.max_passes + 1):
            await self.lease.check()
            plan = await self.runner.plan(self.loaded)
            await self._gate(plan, first=attempt == 1)
            print(f"pass {attempt}: {plan.summary()}")
            for note in plan.notes:
                print(f"  {note}")
            if plan.in_sync:
                break
            self.wrote = True
            execution = await self.lease.guard(_execute(self.runner, self.loaded, plan))
            for report in execution.of(Outcome.HELD):
                print(f"  held {report.action.key}: {report.message}")
            for report in execution.of(Outcome.WAITING):
                print(f"  waiting {report.action.key}: {report.message}")
            if execution.converged:
                if not execution.of(Outcome.DONE):
                    break  # only held actions are left: another pass changes nothing
                continue  # one more pass proves the stack is in sync
            if execution.terminal_failures and execution.requeue_after(5.0) is None:
                print(
                    "stopped: these failures need a change to the spec or the account",
                    file=sys.stderr,
                )
                return EXIT_ERROR
            delay = execution.requeue_after(waiting_interval=5.0) or 5.0
            print(f"  not converged; next pass in {delay:.0f}s")
            await asyncio.sleep(min(delay, 15.0))
        else:
            print(f"not converged after {self.settings.max_passes} passes", file=sys.stderr)
            return EXIT_ERROR
        assert plan is not None
        held = [a for a in plan.actions if a.held]
        skipped = unreconciled_sections()
        print(
            f"Converged in {time.monotonic() - started:.1f}s"
            + (f"; {len(held)} held" if held else "")
        )
        if skipped:
            print("Not reconciled yet (no kinds for them): " + ", ".join(skipped))
        return EXIT_OK if plan.in_sync or not held else EXIT_CHANGES
