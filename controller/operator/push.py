"""`stackop push`: find the other spec objects that already define the pushed stack.

The spec objects themselves are the source of truth (status documents may be stale or
missing when no operator runs): every other spec under the prefix is read and those that
validly name the stack are returned. The key recorded in status/<stack>.json is added
when it still exists, since an invalid object keeps the stack it managed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from controller.aws import AwsClients
from controller.operator.identity import read_status_raw
from controller.operator.source import SUFFIXES, read_at_most
from controller.spec import SpecError, load_spec
from controller.spec.yamlsafe import MAX_BYTES


async def spec_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    """The keys the operator reads: direct children of `prefix` ending .yaml/.yml."""
    keys: list[str] = []
    paginator = s3.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = str(obj["Key"])
            if key.endswith(SUFFIXES) and "/" not in key[len(prefix) :]:
                keys.append(key)
    return sorted(keys)


async def _names(s3: Any, bucket: str, key: str) -> str | None:
    obj = await s3.get_object(Bucket=bucket, Key=key)
    stream = obj["Body"]
    async with stream:
        raw = await read_at_most(stream, MAX_BYTES + 1)
    try:
        return load_spec(f"s3://{bucket}/{key}", raw).name
    except SpecError:
        return None


async def keys_defining(
    clients: AwsClients, bucket: str, prefix: str, stack: str, exclude: str
) -> list[str]:
    """Other keys than `exclude` under `prefix` that define `stack`."""
    s3 = await clients.client("s3")
    others = [k for k in await spec_keys(s3, bucket, prefix) if k != exclude]
    limit = asyncio.Semaphore(16)

    async def one(key: str) -> str | None:
        async with limit:
            return await _names(s3, bucket, key)

    names = await asyncio.gather(*(one(k) for k in others))
    found = {key for key, name in zip(others, names, strict=True) if name == stack}
    doc = await read_status_raw(clients, bucket, stack)
    recorded = doc.get("specKey") if isinstance(doc, dict) and not doc.get("orphaned") else None
    if isinstance(recorded, str) and recorded in others:
        found.add(recorded)
    return sorted(found)
