"""`stackop`: validate, schema, plan, apply (and the operator commands)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence

from controller.engine import ActionReport, Outcome
from controller.spec import LoadedSpec, SpecError, load_spec_file

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"STACKOP_{name}", default)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stackop", description=__doc__)
    parser.add_argument(
        "--endpoint-url",
        default=_env("ENDPOINT_URL"),
        help="AWS endpoint (moto, LocalStack); env STACKOP_ENDPOINT_URL",
    )
    parser.add_argument(
        "--region",
        default=_env("REGION"),
        help="AWS region; env STACKOP_REGION (default us-east-1)",
    )
    parser.add_argument("--bucket", default=_env("BUCKET"), help="spec bucket; env STACKOP_BUCKET")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check spec files offline")
    p.add_argument("files", nargs="+")
    sub.add_parser("schema", help="print the spec's JSON Schema")
    p = sub.add_parser("plan", help="show what apply would change (exit 0 in sync, 2 changes)")
    p.add_argument("spec")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser("apply", help="converge a stack once")
    p.add_argument("spec")
    p.add_argument("--max-passes", type=int, default=10)
    from controller.adopt.command import add_command as add_adopt
    from controller.operator.commands import add_commands

    add_adopt(sub)

    add_commands(sub)
    return parser


def cmd_validate(files: Sequence[str]) -> int:
    status = EXIT_OK
    for path in files:
        try:
            loaded = load_spec_file(path)
        except SpecError as exc:
            print(exc, file=sys.stderr)
            status = EXIT_ERROR
            continue
        print(f"{path}: ok (stack {loaded.name}, version {loaded.version})")
    return status


def cmd_schema() -> int:
    from controller.spec.schema import schema_text

    sys.stdout.write(schema_text())
    return EXIT_OK


def _load(path: str) -> LoadedSpec | None:
    try:
        return load_spec_file(path)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return None


async def _plan(args: argparse.Namespace, loaded: LoadedSpec) -> int:
    from controller.adopt import collisions
    from controller.aws import AwsClients
    from controller.planview import render_plan
    from controller.render import unreconciled_sections
    from controller.stack import StackRunner

    async with AwsClients(args.region, args.endpoint_url) as clients:
        plan = await StackRunner(clients).plan(loaded)
        taken = await collisions.preflight(StackRunner(clients), loaded, plan)
    if args.json:
        out = plan.to_json()
        out["notReconciled"] = unreconciled_sections()
        out["taken"] = collisions.as_json(taken)
        print(json.dumps(out, indent=2, sort_keys=True))
    else:
        print(render_plan(plan, unreconciled_sections()))
        if taken:
            print(collisions.report(taken))
    return EXIT_OK if plan.in_sync else EXIT_CHANGES


def _print_event(phase: str, report: ActionReport) -> None:
    action = report.action
    if phase == "start":
        print(f"  {action.type.value:7} {action.key} ...", flush=True)
        return
    if report.outcome is Outcome.DONE:
        print(f"  {action.type.value:7} {action.key} done in {report.elapsed:.2f}s", flush=True)
    else:
        print(f"  {action.type.value:7} {action.key} FAILED: {report.message}", flush=True)


async def _apply(args: argparse.Namespace, loaded: LoadedSpec) -> int:
    from controller.adopt import collisions
    from controller.aws import AwsClients
    from controller.render import unreconciled_sections
    from controller.stack import StackRunner

    started = time.monotonic()
    async with AwsClients(args.region, args.endpoint_url) as clients:
        runner = StackRunner(clients)
        taken = await collisions.preflight(runner, loaded)
        if taken:
            print(collisions.report(taken), file=sys.stderr)
            return EXIT_ERROR
        for attempt in range(1, args.max_passes + 1):
            result = await runner.reconcile(loaded, on_event=_print_event)
            print(f"pass {attempt}: {result.plan.summary()}")
            for note in result.plan.notes:
                print(f"  {note}")
            execution = result.execution
            if execution is None:
                break
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
            print(f"not converged after {args.max_passes} passes", file=sys.stderr)
            return EXIT_ERROR
    held = [a for a in result.plan.actions if a.held]
    skipped = unreconciled_sections()
    print(
        f"Converged in {time.monotonic() - started:.1f}s" + (f"; {len(held)} held" if held else "")
    )
    if skipped:
        print("Not reconciled yet (no kinds for them): " + ", ".join(skipped))
    return EXIT_OK if result.plan.in_sync or not held else EXIT_CHANGES


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "validate":
        return cmd_validate(args.files)
    if args.command == "schema":
        return cmd_schema()
    if args.command in ("run", "push", "status"):
        from controller.operator.commands import COMMANDS

        return COMMANDS[args.command](args)
    loaded = _load(args.spec)
    if loaded is None:
        return EXIT_ERROR
    try:
        if args.command == "plan":
            return asyncio.run(_plan(args, loaded))
        if args.command == "apply":
            return asyncio.run(_apply(args, loaded))
        if args.command == "adopt":
            from controller.adopt.command import run_adopt

            return asyncio.run(run_adopt(args, loaded))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
