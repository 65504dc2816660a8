"""Confirmation before destructive work, as `terraform apply` asks for it.

A plan that deletes or replaces anything (held actions excluded: they do not run) needs
`yes` typed on a terminal, `--auto-approve`, or a saved plan file that contained exactly
those actions. Anything else refuses before the first write.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterable

from controller.engine import Plan
from controller.planfile import destructive_keys

PROMPT = (
    "\nDo you want to perform these actions?\n"
    "  stackop will delete or replace the resources marked - and -/+ above.\n"
    "  Only 'yes' will be accepted to approve.\n\n"
    "  Enter a value: "
)


class NotApproved(Exception):
    """The destructive actions were not approved: one line naming them."""


def _named(keys: list[str]) -> str:
    shown = ", ".join(keys[:5])
    return shown + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


class Approval:
    def __init__(
        self,
        *,
        auto: bool,
        interactive: bool,
        saved: Iterable[str] | None = None,
        ask: Callable[[str], str] | None = None,
    ) -> None:
        self.auto = auto
        self.interactive = interactive
        self.from_plan_file = saved is not None
        self.approved: set[str] = set(saved or ())
        self.ask = ask or _ask_terminal

    async def approve(self, plan: Plan, show: Callable[[], None]) -> None:
        """Return when the plan may run; raise NotApproved otherwise."""
        pending = [key for key in destructive_keys(plan) if key not in self.approved]
        if not pending or self.auto:
            self.approved |= set(pending)
            return
        count = f"{len(pending)} resource{'s' if len(pending) != 1 else ''}"
        if self.from_plan_file:
            raise NotApproved(
                f"the stack would now delete or replace {count} the saved plan did not "
                f"({_named(pending)}); run stackop plan again"
            )
        if not self.interactive:
            show()
            raise NotApproved(
                f"the plan deletes or replaces {count} ({_named(pending)}) and there is no "
                "terminal to confirm it: run on a terminal, or pass --auto-approve"
            )
        show()
        answer = await asyncio.to_thread(self.ask, PROMPT)
        if answer.strip() != "yes":
            raise NotApproved(f"apply cancelled (answer {answer.strip()!r}, not 'yes')")
        self.approved |= set(pending)


def _ask_terminal(prompt: str) -> str:
    sys.stdout.write(prompt)
    sys.stdout.flush()
    return sys.stdin.readline()
