"""Every write goes through `Changes.call`: printed, counted, and skipped on --dry-run."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from controller.aws import AwsClients, error_code, is_not_found

ABSENT_CODES = frozenset(
    {"NoSuchEntity", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "404"}
)


def camel(operation: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in operation.split("_"))


@dataclass(frozen=True)
class Change:
    service: str
    operation: str
    params: dict[str, Any]
    why: str


@dataclass
class Changes:
    clients: AwsClients
    dry_run: bool = False
    out: TextIO = field(default_factory=lambda: sys.stdout)
    made: list[Change] = field(default_factory=list)

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    async def read(
        self, service: str, operation: str, /, absent: frozenset[str] = frozenset(), **params: Any
    ) -> Any:
        """A read call; None when the thing read does not exist (or fails with `absent`)."""
        client = await self.clients.client(service)
        try:
            return await getattr(client, operation)(**params)
        except Exception as exc:
            if is_not_found(exc) or error_code(exc) in ABSENT_CODES | absent:
                return None
            raise

    async def call(self, service: str, operation: str, why: str, /, **params: Any) -> Any:
        """A write call: printed; made unless this is a dry run (then returns None)."""
        change = Change(service, operation, params, why)
        self.made.append(change)
        name = f"{service}:{camel(operation)}"
        if self.dry_run:
            self.say(f"  would call {name}  # {why}")
            self.say(f"    {json.dumps(params, sort_keys=True, default=_shown)}")
            return None
        self.say(f"  + {name}  # {why}")
        client = await self.clients.client(service)
        return await getattr(client, operation)(**params)


def _shown(value: Any) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)
