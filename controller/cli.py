"""`stackop`: validate, schema, plan, apply (and the operator commands)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from controller.cliopts import DEFAULT_REGION, add_global_options, env_option, seconds
from controller.spec import LoadedSpec, SpecError, load_spec_file
from controller.usererrors import Target, UsageError, explain

if TYPE_CHECKING:
    from controller.planfile import SavedPlan

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_USAGE = 0, 1, 2, 2
PLAN_FILE_LIMIT = 64 * 1024 * 1024


def _lease_period(value: float) -> str | None:
    return None if 2.0 <= value <= 3600.0 else "must be between 2 and 3600 seconds"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stackop", description=__doc__)
    add_global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check spec files offline")
    p.add_argument("files", nargs="+")
    sub.add_parser("schema", help="print the spec's JSON Schema")
    p = sub.add_parser("plan", help="show what apply would change (exit 0 in sync, 2 changes)")
    p.add_argument("spec")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("-out", "--out", metavar="FILE", help="save the plan for `stackop apply FILE`")
    p.add_argument(
        "--no-memory",
        action="store_true",
        help="read everything from AWS, not starting from the operator's readings in "
        "the --bucket's status object",
    )
    p = sub.add_parser("apply", help="converge a stack once (SPEC, or a plan file from plan -out)")
    p.add_argument("spec", metavar="SPEC_OR_PLAN")
    p.add_argument("--max-passes", type=int, default=10)
    p.add_argument(
        "--auto-approve",
        action="store_true",
        help="delete and replace without asking (otherwise `yes` on a terminal)",
    )
    p.add_argument(
        "--no-lease",
        action="store_true",
        help="do not take the stack's lease (no check for a running operator)",
    )
    env_option(
        p,
        "--lease-seconds",
        "LEASE_SECONDS",
        seconds,
        30.0,
        "lease period while applying",
        check=_lease_period,
    )
    from controller.adopt.command import add_command as add_adopt
    from controller.operator.commands import add_commands

    add_adopt(sub)
    add_commands(sub)
    for command in sub.choices.values():
        add_global_options(command, top=False)
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
        runner = StackRunner(clients)
        if args.bucket and not args.no_memory and not args.out:  # a saved plan reads all
            from controller import planmemory

            recalled = await planmemory.recall(clients, runner, args.bucket, loaded.name)
            print(recalled.note, file=sys.stderr)
        plan = await runner.plan(loaded)
        taken = await collisions.preflight(StackRunner(clients), loaded, plan)
    if args.out:
        from controller import planfile

        try:
            planfile.save(args.out, plan, loaded, Path(loaded.source).read_bytes())
        except (OSError, planfile.PlanFileError) as exc:
            print(f"error: cannot write the plan file {args.out}: {exc}", file=sys.stderr)
            return EXIT_ERROR
    if args.json:
        out = plan.to_json()
        out["notReconciled"] = unreconciled_sections()
        out["taken"] = collisions.as_json(taken)
        print(json.dumps(out, indent=2, sort_keys=True))
    else:
        print(render_plan(plan, unreconciled_sections()))
        if taken:
            print(collisions.report(taken))
        if args.out:
            print(f"Saved the plan to {args.out}: `stackop apply {args.out}` applies exactly it.")
    return EXIT_OK if plan.in_sync else EXIT_CHANGES


def _read_apply_input(path: str) -> tuple[LoadedSpec, SavedPlan | None] | None:
    """The spec to apply: SPEC itself, or the one saved in a plan file (told by content)."""
    from controller import planfile

    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
            if head.lstrip().startswith(b"{"):  # JSON: perhaps a plan file
                head += fh.read(PLAN_FILE_LIMIT)
    except OSError:
        head = b""  # the spec loader names the problem
    doc = planfile.parse(head)
    if doc is None:
        loaded = _load(path)
        return None if loaded is None else (loaded, None)
    try:
        saved = planfile.load(path, doc)
        saved.check_spec_unchanged()
        loaded = saved.loaded()
    except planfile.PlanFileError as exc:
        print(f"error: {exc}; nothing written", file=sys.stderr)
        return None
    except SpecError as exc:
        print(f"{path}: the saved spec is not valid: {exc}", file=sys.stderr)
        return None
    return loaded, saved


async def _apply(args: argparse.Namespace, loaded: LoadedSpec, saved: SavedPlan | None) -> int:
    from controller.adopt import collisions
    from controller.apply_lease import Lease, NoLease, StackLease, quiet_lease_logs
    from controller.apply_run import Applier, ApplySettings, plan_only, read_only_reason
    from controller.approval import Approval
    from controller.aws import AwsClients
    from controller.stack import StackRunner

    reason = read_only_reason(loaded)
    if not reason and not args.no_lease and not args.bucket:
        print(
            f"error: no spec bucket (--bucket or STACKOP_BUCKET), so apply cannot check "
            f"whether an operator is managing stack {loaded.name}; pass --no-lease to "
            "apply without that check",
            file=sys.stderr,
        )
        return EXIT_ERROR
    quiet_lease_logs()
    approval = Approval(
        auto=args.auto_approve,
        interactive=sys.stdin.isatty(),
        saved=saved.destructive if saved is not None else None,
    )
    settings = ApplySettings(max_passes=args.max_passes, approval=approval, saved=saved)
    if saved is not None:
        print(
            f"Applying the plan saved in {args.spec} for stack {saved.stack} "
            f"({saved.age()}), only if nothing changed since"
        )
    async with AwsClients(args.region, args.endpoint_url) as clients:
        runner = StackRunner(clients)
        if reason:
            return await plan_only(runner, loaded, reason)
        taken = await collisions.preflight(runner, loaded)
        if taken:
            print(collisions.report(taken), file=sys.stderr)
            return EXIT_ERROR
        lease: Lease = (
            NoLease()
            if args.no_lease
            else StackLease(clients, args.bucket, loaded.name, args.lease_seconds)
        )
        return await Applier(runner, loaded, lease, settings).run()


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "validate":
        return cmd_validate(args.files)
    if args.command == "schema":
        return cmd_schema()
    if args.command in ("run", "push", "status", "history"):
        from controller.operator.commands import COMMANDS

        return COMMANDS[args.command](args)
    if args.command == "plan":
        loaded = _load(args.spec)
        return EXIT_ERROR if loaded is None else asyncio.run(_plan(args, loaded))
    if args.command == "apply":
        found = _read_apply_input(args.spec)
        return EXIT_ERROR if found is None else asyncio.run(_apply(args, *found))
    if args.command == "adopt":
        from controller.adopt.command import run_adopt

        loaded = _load(args.spec)
        return EXIT_ERROR if loaded is None else asyncio.run(run_adopt(args, loaded))
    return EXIT_ERROR


def _exit_now(code: int) -> NoReturn:
    """End the process without the interpreter's teardown (finalising every module and
    object of a plan's imports: about a quarter of a second). Safe after a plan: its AWS
    clients are closed, a saved plan and the call log are written and closed, and the
    output is flushed here."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "plan" and argv is None:  # the process's own command line
        _exit_now(_main(args))
    return _main(args)


def _main(args: argparse.Namespace) -> int:
    """The command, with every error a user can cause as one line (exit 1; usage 2)."""
    region = args.region or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    target = Target(args.endpoint_url, region, args.bucket)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        return 130
    except UsageError as exc:
        print(f"stackop {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        message = explain(exc, target)
        if message is None:
            if os.environ.get("STACKOP_TRACEBACK"):
                raise
            message = f"{type(exc).__name__}: {exc} (STACKOP_TRACEBACK=1 shows where)"
        print(f"error: {message}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
