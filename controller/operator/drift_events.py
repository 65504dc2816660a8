"""CloudTrail write events (via EventBridge and the operator's queue) -> stacks to reconcile.

`stack-bootstrap --events` routes `AWS API Call via CloudTrail` events of the services
we manage to the operator's SQS queue. Each event names what it changed in its
request parameters, response elements and resources; a stack owns the event when one
of those values is a physical id (or the last part of an ARN) of a resource the stack
last observed, or a name under the stack's naming prefix (`<stack>-`, `<stack>/`,
`/ecs/<stack>/`: a resource created by hand under our names). Events our own principal
caused (any session of the operator's role) are ignored: they are our corrections.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from controller.engine.graph import strings_in
from controller.engine.ids import MIN_ID, aliases, arn_tails
from controller.engine.kind import ClientSource
from controller.operator.logs import get_logger
from controller.operator.metrics import DRIFT_EVENTS

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
_ASSUMED = re.compile(r"^(arn:[^:]+:sts::\d+:assumed-role/[^/]+)/.*$")
RECENT = 50
"""Change events kept per stack to tell who changed a drifted resource."""


@dataclass(frozen=True)
class ChangeEvent:
    """What a CloudTrail event says: who did what, and the values it named."""

    event_name: str
    event_source: str
    principal: str
    event_time: str
    values: frozenset[str]


def principal_key(arn: str) -> str:
    """An ARN that names the principal, not the session: an assumed role's sessions
    (each operator task has its own) are one principal."""
    m = _ASSUMED.match(arn)
    return m.group(1) if m else arn


def parse_change(body: str | Mapping[str, Any]) -> ChangeEvent | None:
    """A CloudTrail API-call event from a queue message body, else None."""
    try:
        event = json.loads(body) if isinstance(body, str) else body
    except ValueError:
        return None
    if not isinstance(event, Mapping) or event.get("detail-type") != CLOUDTRAIL_DETAIL_TYPE:
        return None
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        return None
    identity = detail.get("userIdentity") or {}
    issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
    principal = str(identity.get("arn") or issuer.get("arn") or "")
    named = [
        detail.get("requestParameters"),
        detail.get("responseElements"),
        [r.get("ARN") for r in detail.get("resources") or [] if isinstance(r, Mapping)],
        event.get("resources"),
    ]
    return ChangeEvent(
        event_name=str(detail.get("eventName", "")),
        event_source=str(detail.get("eventSource", "")),
        principal=principal_key(principal),
        event_time=str(detail.get("eventTime") or event.get("time") or ""),
        values=frozenset(_identifiers(named)),
    )


def _identifiers(value: Any) -> Iterator[str]:
    for text in strings_in(value):
        if len(text) >= MIN_ID:
            yield text
            if text.startswith("arn:"):
                yield from (part for part in arn_tails(text) if len(part) >= MIN_ID)


def owning_stacks(change: ChangeEvent, stacks: Mapping[str, set[str]]) -> set[str]:
    """Stacks one of whose identifiers the event names, or under whose naming prefix a
    value falls (the longest stack name wins: `portal-dev-x` is portal-dev's)."""
    found = {name for name, ids in stacks.items() if change.values & ids}
    for value in change.values:
        named = [name for name in stacks if _under_prefix(value, name)]
        if named:
            found.add(max(named, key=len))
    return found


def _under_prefix(value: str, stack: str) -> bool:
    tail = value.rsplit(":", 1)[-1] if value.startswith("arn:") else value
    return tail.startswith((f"{stack}-", f"{stack}/", f"/ecs/{stack}/")) or (
        f"/{stack}-" in value or f"/{stack}/" in value
    )


class DriftEvents:
    """Reconciles the stacks CloudTrail change events name, at once."""

    def __init__(
        self,
        clients: ClientSource,
        physical_ids: Callable[[], Mapping[str, Iterable[str]]],
        wake: Callable[[str], None],
        forget: Callable[[str, frozenset[str]], None] = lambda stack, names: None,
    ) -> None:
        self.clients = clients
        self.physical_ids = physical_ids
        self.wake = wake
        self.forget = forget
        """Told what an event named before its stack is woken: kept readings of those
        resources are read afresh (e.g. a target group's attributes)."""
        self.recent: dict[str, deque[ChangeEvent]] = {}
        """Per stack, the latest change events that named it (who, what, when)."""
        self._own: str | None = None
        self.log = get_logger(component="drift-events")

    def who(self, stack: str, physical_id: str) -> tuple[str, str] | None:
        """(principal, event name) of the latest change event naming the resource."""
        ids = aliases([physical_id])
        for change in reversed(self.recent.get(stack, ())):
            if change.values & ids:
                return change.principal, change.event_name
        return None

    async def own_principal(self) -> str:
        """The operator's own principal (GetCallerIdentity, once)."""
        if self._own is None:
            sts = await self.clients.client("sts")
            self._own = principal_key(str((await sts.get_caller_identity())["Arn"]))
        return self._own

    async def handle_body(self, body: str) -> set[str]:
        """Stacks woken for one queue message (S3 notifications are not change events)."""
        change = parse_change(body)
        if change is None:
            return set()
        try:
            return await self.handle(change)
        except Exception as exc:  # a failed lookup must not stop the queue listener
            self.log.error("change_event_failed", event=change.event_name, error=str(exc))
            return set()

    async def handle(self, change: ChangeEvent) -> set[str]:
        """The stacks woken for `change` (none for our own calls)."""
        if change.principal and change.principal == await self.own_principal():
            DRIFT_EVENTS.labels("", "own").inc()
            return set()
        ids = {name: aliases(pids) for name, pids in self.physical_ids().items()}
        stacks = owning_stacks(change, ids)
        if not stacks:
            DRIFT_EVENTS.labels("", "unmatched").inc()
        for name in sorted(stacks):
            DRIFT_EVENTS.labels(name, "reconcile").inc()
            self.recent.setdefault(name, deque(maxlen=RECENT)).append(change)
            self.forget(name, change.values)
            self.wake(name)
            self.log.info(
                "change_event",
                stack=name,
                event=change.event_name,
                source=change.event_source,
                principal=change.principal,
            )
        return stacks
