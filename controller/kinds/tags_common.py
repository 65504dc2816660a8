"""Tag helpers shared by every kind: conversions, the tags we write, ownership reads.

The tags we write are the context's (user tags, Name, ownership) plus the desired
`tags` param; ownership tags always win. Only the keys we write are compared, so
tags others add are never drift.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from controller.aws.errors import is_not_found
from controller.engine.ids import is_named
from controller.engine.kind import KindContext
from controller.engine.memory import MAX_ENTRIES
from controller.engine.resource import LOGICAL_ID_TAG, OWNER_TAG, STACK_TAG

OWNERSHIP_KEYS = frozenset({OWNER_TAG, STACK_TAG, LOGICAL_ID_TAG})

INDEX_LAG = 300.0
"""Seconds the Resource Groups Tagging API may show a resource's tags as they were before
we wrote them (it is eventually consistent). For so long, an answer that lacks what we
wrote is not believed: the kind reads the resource's own tags, so our own correction
never reads back as drift (and an answer that has caught up costs nothing extra)."""
_tags_written: dict[str, tuple[float, dict[str, str]]] = {}


def tags_written(arn: str, tags: Mapping[str, str]) -> None:
    """We just wrote these tags on `arn` (in a create or tag call)."""
    now = time.monotonic()
    for old in [a for a, (t, _) in _tags_written.items() if now - t > INDEX_LAG]:
        del _tags_written[old]
    _tags_written[arn] = (now, dict(tags))


def index_lags(arn: str, indexed: Mapping[str, str]) -> bool:
    """The tagging API's tags for `arn` lack tags we wrote less than INDEX_LAG ago."""
    written = _tags_written.get(arn)
    if written is None or time.monotonic() - written[0] > INDEX_LAG:
        return False
    return any(indexed.get(k) != v for k, v in written[1].items())


def tag_map(
    tags: Iterable[Mapping[str, str]] | None, key: str = "Key", value: str = "Value"
) -> dict[str, str]:
    """`[{"Key": k, "Value": v}]` (or other key names, e.g. ECS's key/value) -> `{k: v}`."""
    return {t[key]: t[value] for t in tags or ()}


def tag_list(
    tags: Mapping[str, str], key: str = "Key", value: str = "Value"
) -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in tags.items()]


def desired_tags(
    ctx: KindContext,
    kind: str,
    logical_id: str,
    params: Mapping[str, Any] | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Tags to write: the context's, then the desired `tags` param; ownership wins."""
    base = ctx.tags(kind, logical_id)
    wanted = dict((params or {}).get("tags") or {})
    return {**base, **wanted, **(extra or {}), **{k: base[k] for k in OWNERSHIP_KEYS}}


def live_tags(
    ctx: KindContext,
    kind: str,
    logical_id: str,
    live: Mapping[str, str],
    params: Mapping[str, Any] | None = None,
) -> dict[str, str | None]:
    """Live values of the tag keys the `tags` field manages (None where missing)."""
    keys = [k for k in desired_tags(ctx, kind, logical_id, params) if k not in OWNERSHIP_KEYS]
    return {k: live.get(k) for k in keys}


def params_by_id(desired: Iterable[Any]) -> dict[str, Mapping[str, Any]]:
    return {d.logical_id: d.params for d in desired}


async def ignore_not_found(coro: Any) -> Any:
    """Await an idempotent call: a resource that is already gone is success (None)."""
    try:
        return await coro
    except Exception as exc:
        if not is_not_found(exc):
            raise
        return None


class TagCache:
    """Tags per resource, read once per (ARN, creation time) and kept for the process.

    For APIs that list resources without their tags (ECR, CloudWatch Logs, Cloud Map,
    CloudWatch alarms), where the kind reads only tags we write and nobody else should
    change: ownership, written in the create call, and our own policy tags. An ARN
    recreated under the same name has a new creation time, so it is read again. Not
    for kinds that compare user tags for drift: a cache would hide a changed tag.
    """

    def __init__(self) -> None:
        self._tags: dict[tuple[str, str], dict[str, str]] = {}

    async def tags_of(
        self,
        items: Iterable[tuple[str, str]],
        fetch: Callable[[str], Awaitable[dict[str, str]]],
    ) -> dict[str, dict[str, str]]:
        """{arn: tags} for (arn, created) pairs; fetches only the ones not seen yet."""
        pairs = list(items)
        missing = [p for p in pairs if p not in self._tags]
        fetched = await asyncio.gather(*(fetch(arn) for arn, _ in missing))
        for pair, tags in zip(missing, fetched, strict=True):
            self._tags[pair] = tags
        return {arn: self._tags[(arn, created)] for arn, created in pairs}

    def put(self, arn: str, created: str, tags: Mapping[str, str]) -> None:
        """Tags we just wrote (create or tag call): also kept from the tagging API's lag."""
        self._tags[(arn, created)] = dict(tags)
        tags_written(arn, tags)

    def merge(self, arn: str, created: str, tags: Mapping[str, str]) -> None:
        self._tags[(arn, created)] = {**self._tags.get((arn, created), {}), **tags}
        tags_written(arn, tags)

    def export(self, stack: str) -> list[dict[str, Any]]:
        """The entries of `stack`'s resources (by their stack tag), JSON-able."""
        return [
            {"arn": arn, "created": created, "tags": dict(tags)}
            for (arn, created), tags in sorted(self._tags.items())
            if tags.get(STACK_TAG) == stack
        ]

    def load(self, stack: str, entries: Any) -> int:
        """Take `export`ed entries of another process: only well-formed ones tagged for
        `stack`, never replacing one this process read. They count only for the exact
        (ARN, creation time): a resource recreated under the ARN is read afresh."""
        if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
            return 0
        taken = 0
        for entry in entries:
            parsed = _cache_entry(entry)
            if parsed is None or parsed[2].get(STACK_TAG) != stack or parsed[:2] in self._tags:
                continue
            self._tags[parsed[:2]] = parsed[2]
            taken += 1
        return taken

    def forget(self, names: frozenset[str]) -> None:
        """Drop the entries of ARNs that `names` (an event's identifiers) name: read afresh."""
        for key in [k for k in self._tags if is_named(k[0], names)]:
            del self._tags[key]


def _cache_entry(entry: Any) -> tuple[str, str, dict[str, str]] | None:
    if not isinstance(entry, Mapping):
        return None
    arn, created, tags = entry.get("arn"), entry.get("created"), entry.get("tags")
    if not (isinstance(arn, str) and arn.startswith("arn:") and isinstance(created, str)):
        return None
    if not created:  # no creation time: a recreated resource could not be told apart
        return None
    if not isinstance(tags, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
    ):
        return None
    return arn, created, dict(tags)


class RemembersTags:
    """Kind hooks (remember, recall, forget) for a kind whose TagCache is `_tags`."""

    _tags: TagCache

    def remember(self, stack: str) -> Any:
        return self._tags.export(stack) or None

    def recall(self, stack: str, memory: Any, age_offset: float) -> int:
        # ownership tags are ours and nobody else's to change: age does not matter
        return self._tags.load(stack, memory)

    def forget(self, stack: str, names: frozenset[str]) -> None:
        self._tags.forget(names)
