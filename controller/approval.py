"""Confirmation before destructive work, as `terraform apply` asks for it.

A plan that deletes or replaces anything (held actions excluded: they do not run) needs
`yes` typed on a terminal, `--auto-approve`, or a saved plan file that contained exactly
those actions. Anything else refuses before the first write.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
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
    ) -> None:
        self.auto = auto
        self.interactive = interactive
        self.from_plan_file = saved is not None
        self.approved: set[str] = set(saved or ())

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
        answer = await _in_daemon_thread(_ask_terminal, PROMPT)
        if answer.strip() != "yes":
            raise NotApproved(f"apply cancelled (answer {answer.strip()!r}, not 'yes')")
        self.approved |= set(pending)


async def _in_daemon_thread(ask: Callable[[str], str], prompt: str) -> str:
    """Read the answer in a daemon thread: unlike the default executor's, it does not
    keep the process alive after Ctrl-C at the prompt (terraform exits there too)."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()

    def read() -> None:
        try:
            text = ask(prompt)
        except Exception:  # EOF or a closed terminal: no answer
            text = ""
        with contextlib.suppress(RuntimeError):  # the loop is gone (Ctrl-C)
            loop.call_soon_threadsafe(_settle, answer, text)

    threading.Thread(target=read, name="apply-approval", daemon=True).start()
    return await answer


def _settle(future: asyncio.Future[str], text: str) -> None:
    if not future.done():
        future.set_result(text)


def _ask_terminal(prompt: str) -> str:
    sys.stdout.write(prompt)
    sys.stdout.flush()
    return sys.stdin.readline()
