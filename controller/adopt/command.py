"""`stackop adopt SPEC`: take over existing resources by adding our ownership tags only."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from controller.adopt import ORIGIN
from controller.adopt.matching import ExplicitNames, Finder, hold_what_follows_badly, match
from controller.adopt.model import Adoption, AdoptionPlan
from controller.adopt.report import render_adoption
from controller.adopt.simulate import Simulation
from controller.adopt.tagging import add_ownership_tags
from controller.adopt.terraform import TerraformState
from controller.aws import AwsClients
from controller.engine import ActionType, KindContext, Plan, plan_stack
from controller.engine.origin import acting_as
from controller.kinds import all_kinds
from controller.spec import LoadedSpec

EXIT_OK, EXIT_ERROR = 0, 1
TAG_CONCURRENCY = 16


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("adopt", help="take over existing resources: add our ownership tags only")
    p.add_argument("spec")
    p.add_argument(
        "--from-terraform",
        metavar="STATE.json",
        help="match the resources of a Terraform state (`terraform show -json`)",
    )
    p.add_argument(
        "--match-names",
        action="store_true",
        help="adopt untagged resources named by spec.adopt or by the spec's own names",
    )
    p.add_argument("--auto-approve", action="store_true", help="tag without asking")
    p.add_argument(
        "--json", action="store_true", help="print the adoption plan as JSON, write nothing"
    )


@dataclass
class TagResult:
    calls: int
    seconds: float


def finders(args: argparse.Namespace, loaded: LoadedSpec) -> list[Finder]:
    found: list[Finder] = [ExplicitNames(loaded.spec.spec.adopt, by_name=bool(args.match_names))]
    if args.from_terraform:
        found.append(TerraformState.read(args.from_terraform))
    return found


def approved(prompt: Callable[[str], str] = input) -> bool:
    if not sys.stdin.isatty():
        print("refused: not a terminal; pass --auto-approve to adopt", file=sys.stderr)
        return False
    return prompt("Adopt these resources (tags only)? Type 'yes': ").strip() == "yes"


async def tag_all(ctx: KindContext, adoptions: Sequence[Adoption]) -> TagResult:
    """One tag call per resource, several at a time."""
    started = time.monotonic()
    gate = asyncio.Semaphore(TAG_CONCURRENCY)

    async def one(a: Adoption) -> int:
        async with gate:
            with acting_as(ORIGIN):
                return int(await add_ownership_tags(ctx, a.kind, a.logical_id, a.found.target))

    calls = sum(await asyncio.gather(*(one(a) for a in adoptions)))
    return TagResult(calls, time.monotonic() - started)


def unknown_adopt_keys(loaded: LoadedSpec, desired_keys: set[str]) -> list[str]:
    return [
        f"spec.adopt names {key!r}, which the spec does not describe"
        for key in sorted(loaded.spec.spec.adopt)
        if key not in desired_keys
    ]


async def foresee(
    adoption: AdoptionPlan, loaded: LoadedSpec, ctx: KindContext, clients: AwsClients
) -> None:
    """Plan as if the tags were on; hold what the next apply would replace or not find."""
    from controller.stack import desired_resources, plan_options

    sim = Simulation(ctx, [a for a in adoption.adoptions if not a.held], clients)
    try:
        sim_ctx = KindContext(ctx.stack, ctx.spec_version, sim, ctx.user_tags)
        desired = desired_resources(loaded)
        after = await plan_stack(all_kinds(), sim_ctx, desired, plan_options(loaded))
    finally:
        await sim.close()
    hold_what_follows_badly(adoption, after)


def not_found_after(adoption: AdoptionPlan, after: Plan) -> list[str]:
    creates = {a.key for a in after.actions if a.type is ActionType.CREATE}
    return [a.key for a in adoption.adoptions if not a.held and a.key in creates]


async def run_adopt(args: argparse.Namespace, loaded: LoadedSpec) -> int:
    from controller.stack import StackRunner

    started = time.monotonic()
    async with AwsClients(args.region, args.endpoint_url) as clients:
        runner = StackRunner(clients)
        ctx = runner.context(loaded)
        plan = await runner.plan(loaded)
        try:
            sources = finders(args, loaded)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        with acting_as(ORIGIN):
            adoption = await match(ctx, plan, sources)
        adoption.errors += unknown_adopt_keys(loaded, {a.key for a in plan.actions if a.desired})
        await foresee(adoption, loaded, ctx, clients)
        for source in sources:
            if isinstance(source, TerraformState):
                adoption.state_rm = source.state_rm(adoption.adoptions)
        if args.json:
            print(json.dumps(adoption.to_json(), indent=2, sort_keys=True))
            return EXIT_ERROR if adoption.errors else EXIT_OK
        print(render_adoption(adoption))
        if adoption.errors:
            print("refused: fix the errors above first; nothing was written", file=sys.stderr)
            return EXIT_ERROR
        adopted = [a for a in adoption.adoptions if not a.held]
        if not adopted:
            print("Nothing to adopt.")
            return EXIT_OK
        if not args.auto_approve and not approved():
            return EXIT_ERROR
        result = await tag_all(ctx, adoption.to_tag)
        after = await StackRunner(clients).plan(loaded)  # fresh kinds: no tags cached
    missing = not_found_after(adoption, after)
    print(
        f"Adopted {len(adopted)} resources with {result.calls} tag calls in "
        f"{result.seconds:.1f}s ({time.monotonic() - started:.1f}s in all)."
    )
    for key in missing:
        print(f"  ! {key}: tagged but not found by the stack's observe", file=sys.stderr)
    print(f"Next apply: {after.summary()}")
    return EXIT_ERROR if missing else EXIT_OK
