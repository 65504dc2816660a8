"""`stackop plan --bucket`: start from what the operator last read (status/<stack>.json).

The operator keeps, in the stack's status object, the readings its kinds would
otherwise repeat one call per resource (engine.memory, Kind.remember): ownership tags
by (ARN, creation time), target group attributes with their ages. A fresh plan that
loads them makes the calls of the operator's steady cycle instead of a cold start's.
Only `plan` uses it (it writes nothing); each kind checks every entry and reads afresh
what it cannot trust, so a stale, foreign or garbage object costs calls, never truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from controller.aws import AwsClients
from controller.aws.errors import error_code, is_not_found
from controller.operator.lease_doc import AGE_SLACK, s3_age
from controller.operator.source import read_at_most
from controller.operator.status import status_key
from controller.stack import StackRunner

MEMORY_LIMIT = 16 * 1024 * 1024
"""A status object bigger than this is not read for memory."""


@dataclass(frozen=True)
class Recalled:
    entries: int
    note: str


async def recall(clients: AwsClients, runner: StackRunner, bucket: str, stack: str) -> Recalled:
    """Load the operator's memory of `stack` into `runner`'s kinds; never raises for a
    missing, unreadable or foreign object (the plan then reads everything itself)."""
    key = f"s3://{bucket}/{status_key(stack)}"
    s3 = await clients.client("s3")
    try:
        reply: dict[str, Any] = await s3.get_object(Bucket=bucket, Key=status_key(stack))
        stream = reply["Body"]
        async with stream:
            raw = await read_at_most(stream, MEMORY_LIMIT + 1)
    except Exception as exc:
        why = "not found" if is_not_found(exc) else (error_code(exc) or type(exc).__name__)
        return Recalled(0, f"Operator memory not used: {key}: {why}.")
    if len(raw) > MEMORY_LIMIT:
        return Recalled(0, f"Operator memory not used: {key} is too large.")
    try:
        doc = json.loads(raw)
    except ValueError:
        return Recalled(0, f"Operator memory not used: {key} is not JSON.")
    if not isinstance(doc, dict) or doc.get("stack") != stack:
        return Recalled(0, f"Operator memory not used: {key} is not this stack's status.")
    # S3's own clock on both sides: the age of the object, whatever our clock says
    age = s3_age(reply) + AGE_SLACK + 1.0
    taken = runner.recall(stack, doc.get("memory"), age)
    if not taken:
        return Recalled(0, f"Operator memory not used: {key} holds none.")
    return Recalled(
        taken, f"Started from {taken} readings of the operator ({key}, written {age:.0f} s ago)."
    )
