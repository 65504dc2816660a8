"""Which spec object key defines which stack.

A stack is defined by exactly one object key. The decision is made from the whole
listing at once (after each poll) and from what status/<stack>.json records, never
from the order in which objects happened to be fetched, so every process that sees
the same bucket reaches the same decision:

- two keys naming one stack: a conflict, neither is applied;
- a key that managed stack A and now names B: a rename, held (unless
  `spec.safety.allowRename` or A is torn down or orphaned), A keeps its last spec;
- an invalid key stays with the stack it managed; one that never managed a stack
  is a phantom of its own, named after the file, that never touches a real stack.

A stack no object can be applied to keeps the spec last applied to it; a process that
never applied it (fresh standby, restart) reads that version back from the versioned
bucket (status/<stack>.json records its key and VersionId).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal

from controller.aws import AwsClients, is_not_found
from controller.operator.source import read_at_most
from controller.operator.status import STATUS_PREFIX, status_key
from controller.spec import LoadedSpec, SpecError, load_spec
from controller.spec.yamlsafe import MAX_BYTES

ClaimKind = Literal["apply", "invalid", "held"]


@dataclass(frozen=True)
class KeyContent:
    """The latest content of one spec object: a valid spec or its error."""

    key: str
    loaded: LoadedSpec | None = None
    error: SpecError | None = None


@dataclass(frozen=True)
class Recorded:
    """What status/<stack>.json says of a stack (the key->stack map across restarts)."""

    stack: str
    key: str
    resources: int
    orphaned: bool
    torn_down: bool
    phantom: bool
    updated: str
    """lastReconcileTime (ISO): the newest record wins when two name the same key."""
    version: str = ""
    """specVersion: the S3 VersionId of the spec last applied (kept by a versioned bucket)."""
    history: tuple[dict[str, Any], ...] = ()
    """driftHistory: the drift records, carried over a restart."""


@dataclass(frozen=True)
class Claim:
    """Key `key` asks for stack `stack`: apply its spec, report its error, or hold a rename."""

    stack: str
    key: str
    kind: ClaimKind
    content: KeyContent
    renamed_to: str = ""
    """For a held rename: the name the key now asks for."""


def recorded_from(doc: Any) -> Recorded | None:
    if not isinstance(doc, dict) or not isinstance(doc.get("stack"), str):
        return None
    summary = doc.get("summary") if isinstance(doc.get("summary"), dict) else {}
    assert isinstance(summary, dict)
    counts = {str(k): int(v) for k, v in summary.items() if isinstance(v, int)}
    left = sum(n for state, n in counts.items() if state != "retained")
    return Recorded(
        stack=doc["stack"],
        key=str(doc.get("specKey") or ""),
        resources=sum(counts.values()),
        orphaned=bool(doc.get("orphaned")),
        torn_down=bool(doc.get("teardown"))
        and bool(doc.get("lastReconcileTime"))
        and not doc.get("lastError")
        and left == 0,
        phantom=bool(doc.get("phantom")),
        updated=str(doc.get("lastReconcileTime") or ""),
        version=str(doc.get("specVersion") or ""),
        history=tuple(h for h in _list(doc.get("driftHistory")) if isinstance(h, dict)),
    )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


async def read_status_raw(clients: AwsClients, bucket: str, stack: str) -> Any:
    """status/<stack>.json parsed, or None when absent or not JSON."""
    s3 = await clients.client("s3")
    try:
        obj = await s3.get_object(Bucket=bucket, Key=status_key(stack))
        async with obj["Body"] as body:
            raw = await body.read()
    except Exception as exc:
        if is_not_found(exc):
            return None
        raise
    try:
        return json.loads(raw)
    except ValueError:
        return None


async def read_status_doc(clients: AwsClients, bucket: str, stack: str) -> Recorded | None:
    return recorded_from(await read_status_raw(clients, bucket, stack))


async def read_recorded(clients: AwsClients, bucket: str) -> dict[str, Recorded]:
    """Every stack's status document (one listing, then the reads concurrently)."""
    s3 = await clients.client("s3")
    stacks: list[str] = []
    paginator = s3.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=bucket, Prefix=STATUS_PREFIX):
        for obj in page.get("Contents", []):
            key = str(obj["Key"])
            if key.endswith(".json"):
                stacks.append(key[len(STATUS_PREFIX) : -len(".json")])
    limit = asyncio.Semaphore(16)

    async def one(stack: str) -> Recorded | None:
        async with limit:
            return await read_status_doc(clients, bucket, stack)

    found = await asyncio.gather(*(one(s) for s in stacks))
    return {r.stack: r for r in found if r is not None}


def managed_keys(recorded: Iterable[Recorded]) -> dict[str, str]:
    """Key -> the stack it manages, as the status documents record it."""
    names: dict[str, str] = {}
    # a torn-down stack yields its key to a live one recorded under the same key, and
    # an older record to a newer one
    for rec in sorted(recorded, key=lambda r: (not r.torn_down, r.updated, r.stack)):
        if rec.key and not rec.orphaned and not rec.phantom:
            names[rec.key] = rec.stack
    return names


def claims(
    contents: Mapping[str, KeyContent],
    managed: Mapping[str, str],
    renamable: Callable[[str], bool],
) -> tuple[dict[str, list[Claim]], list[KeyContent]]:
    """Stack -> the keys that claim it (sorted by key), and the phantom keys.

    `managed` maps a key to the stack it manages now; `renamable(stack)` says whether
    that stack may lose its key without holding a rename (torn down, orphaned, unknown).
    """
    by_stack: dict[str, list[Claim]] = {}
    phantoms: list[KeyContent] = []
    for key in sorted(contents):
        content = contents[key]
        current = managed.get(key)
        if content.loaded is None:
            if current is None:
                phantoms.append(content)
                continue
            claim = Claim(current, key, "invalid", content)
        else:
            wanted = content.loaded.name
            allowed = content.loaded.spec.spec.safety.allow_rename
            if current is None or current == wanted or allowed or renamable(current):
                claim = Claim(wanted, key, "apply", content)
            else:
                claim = Claim(current, key, "held", content, renamed_to=wanted)
        by_stack.setdefault(claim.stack, []).append(claim)
    return by_stack, phantoms


def conflict_message(stack: str, found: list[Claim], enforcing: str | None) -> str:
    def describe(claim: Claim) -> str:
        if claim.kind == "invalid":
            return f"{claim.key} (invalid)"
        if claim.kind == "held":
            return f"{claim.key} (renaming it to {claim.renamed_to})"
        return claim.key

    keys = ", ".join(describe(c) for c in found)
    kept = f"still enforcing version {enforcing}" if enforcing else "nothing is enforced"
    return (
        f"stack {stack} is defined by {len(found)} spec objects: {keys}; none is applied "
        f"until only one remains ({kept})"
    )


def rename_message(old: str, new: str, resources: int | None) -> str:
    what = f"{old}'s {resources} resources" if resources is not None else f"{old}'s resources"
    return (
        f"renaming stack {old} to {new} would orphan {what} and build a new stack; "
        f"set spec.safety.allowRename: true or tear {old} down first"
    )


def phantom_name(key: str, taken: set[str]) -> str:
    """The file's stem, or its file name when the stem is a real stack's name (a file
    name has a dot, which no stack name can have)."""
    path = PurePosixPath(key)
    for candidate in (path.stem, path.name, key):
        if candidate not in taken:
            return candidate
    return key


async def delete_phantom_status(clients: AwsClients, bucket: str, stack: str, key: str) -> bool:
    """Delete status/<stack>.json only if it is the phantom entry of `key` (read first)."""
    try:
        doc = await read_status_raw(clients, bucket, stack)
    except Exception:
        return False
    if not (isinstance(doc, dict) and doc.get("phantom") is True and doc.get("specKey") == key):
        return False
    s3 = await clients.client("s3")
    await s3.delete_object(Bucket=bucket, Key=status_key(stack))
    return True


async def read_applied(clients: AwsClients, bucket: str, record: Recorded) -> LoadedSpec | None:
    """The spec version a status document says was last applied to its stack, read back
    from the versioned bucket (None when there is none, or it no longer validates)."""
    if not record.key or not record.version or record.orphaned or record.phantom:
        return None
    s3 = await clients.client("s3")
    obj = await s3.get_object(Bucket=bucket, Key=record.key, VersionId=record.version)
    stream = obj["Body"]
    async with stream:
        raw = await read_at_most(stream, MAX_BYTES + 1)
    try:
        loaded = load_spec(f"s3://{bucket}/{record.key}", raw)
    except SpecError:
        return None
    if loaded.name != record.stack:
        return None
    return LoadedSpec(loaded.spec, loaded.source, record.version)
