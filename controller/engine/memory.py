"""Readings a kind keeps between observe passes, and hands to a later process.

Some values cost one call per resource to read (the cloud has no batched form), so a
kind reads them on a rotation instead of every pass: `Readings.due` names the ones to
read now. Another process (a fresh `stackop plan`) may start from the readings the
operator last exported (`export` / `load`): each carries its age, so a reading too old
is read again. The caller makes the ages it hands to `load` comparable (see
`load`'s `age_offset`). Wall clocks never enter: ages are measured on one clock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.engine.ids import is_named

MAX_AGE = 600.0
"""Seconds after which a reading is read again whatever the rotation says."""
ROTATION_SHARE = 10
"""Each pass re-reads the oldest 1/ROTATION_SHARE of the readings (at least one)."""
MAX_ENTRIES = 5000
"""Entries a kind takes per stack from another process: a bigger memory is not ours."""


@dataclass(frozen=True)
class Reading:
    value: Any
    read_at: float
    """time.monotonic() of this process when the value was read (or the equivalent)."""


class Readings:
    """{stack: {physical id: Reading}} with a rotation, an age limit and forgetting."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._by_stack: dict[str, dict[str, Reading]] = {}

    def get(self, stack: str, pid: str) -> Reading | None:
        return self._by_stack.get(stack, {}).get(pid)

    def put(self, stack: str, pid: str, value: Any) -> None:
        self._by_stack.setdefault(stack, {})[pid] = Reading(value, self._clock())

    def due(self, stack: str, pids: Iterable[str], max_age: float = MAX_AGE) -> set[str]:
        """The ids to read this pass: never read, forgotten, older than `max_age`, and
        the oldest 1/ROTATION_SHARE of the rest (so each is re-read every few passes)."""
        wanted = list(dict.fromkeys(pids))
        known = self._by_stack.get(stack, {})
        now = self._clock()
        due = {p for p in wanted if p not in known or now - known[p].read_at > max_age}
        rest = sorted((p for p in wanted if p not in due), key=lambda p: known[p].read_at)
        share = math.ceil(len(wanted) / ROTATION_SHARE) if wanted else 0
        return due | set(rest[: max(0, share - len(due))])

    def keep_only(self, stack: str, pids: Iterable[str]) -> None:
        """Drop readings of resources no longer there."""
        alive = set(pids)
        known = self._by_stack.get(stack, {})
        for pid in [p for p in known if p not in alive]:
            del known[pid]

    def forget(self, stack: str, names: frozenset[str]) -> None:
        """Drop readings of the resources `names` (an event's identifiers) name."""
        known = self._by_stack.get(stack, {})
        for pid in [p for p in known if is_named(p, names)]:
            del known[pid]

    def export(self, stack: str) -> list[dict[str, Any]]:
        """JSON-able entries with their ages in seconds (for another process's `load`)."""
        now = self._clock()
        return [
            {"id": pid, "value": r.value, "age": round(max(0.0, now - r.read_at), 3)}
            for pid, r in sorted(self._by_stack.get(stack, {}).items())
        ]

    def load(
        self,
        stack: str,
        entries: Any,
        age_offset: float,
        accept: Callable[[Any], bool],
    ) -> int:
        """Take `export`ed entries, each `age_offset` seconds older than it says (the time
        since they were exported). Malformed entries and values `accept` refuses are
        dropped; a reading this process made itself is never replaced. Returns the count."""
        if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
            return 0
        if not (isinstance(age_offset, int | float) and math.isfinite(age_offset)):
            return 0
        known = self._by_stack.setdefault(stack, {})
        now, taken = self._clock(), 0
        for entry in entries:
            parsed = _entry(entry)
            if parsed is None or parsed[0] in known or not accept(parsed[1]):
                continue
            pid, value, age = parsed
            known[pid] = Reading(value, now - age - max(0.0, age_offset))
            taken += 1
        return taken


def _entry(entry: Any) -> tuple[str, Any, float] | None:
    if not isinstance(entry, Mapping):
        return None
    pid, age = entry.get("id"), entry.get("age")
    if not isinstance(pid, str) or not pid or "value" not in entry:
        return None
    if isinstance(age, bool) or not isinstance(age, int | float):
        return None
    if not math.isfinite(age) or age < 0:
        return None
    return pid, entry["value"], float(age)
