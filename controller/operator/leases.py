"""Per-stack leases in the spec bucket, taken and renewed with S3 conditional writes.

`leases/<stack>.json` holds the holder's identity and an expiry time. Creating uses
If-None-Match: *, renewing and taking over use If-Match on the ETag read, so two
processes can never both write the lease.

Whether a lease another process holds is still alive is judged by S3, never by the
document's `expiresAt` against this process's clock (a standby whose clock ran fast
took live leases that way): a taker records each version of the object (ETag and
Last-Modified) with the monotonic time it first saw it, backdated by the object's age
by S3's clock (S3's Date minus Last-Modified), and takes the lease only once that
version is `lease period + take margin` old. A released lease (empty holder) is taken
at once; a document that is not a lease at all is treated like a lease nobody renews.

The holder stops writing `margin` before its own lease period ends, measured on its
monotonic clock from the start of its last successful write: that write reached S3
after it started, so every taker's wait began later still, and the holder has stopped
`margin + take margin` before any taker can take over.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from controller.aws import AwsClients, error_code
from controller.operator.clock import wall
from controller.operator.lease_doc import MAX_LEASE_BYTES, LeaseRead, describe, lease_read
from controller.operator.logs import get_logger
from controller.operator.source import read_at_most

LEASE_PREFIX = "leases/"
CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
MISSING_CODES = frozenset({"NoSuchKey", "404"})


@dataclass
class Held:
    etag: str
    valid_until: float
    """time.monotonic() after which this process no longer writes for the stack."""


@dataclass
class Watched:
    """One version of a lease another process holds (or that is unreadable)."""

    version: str
    since: float
    """time.monotonic() when this version was written, as far as S3's clock shows."""
    wait: float
    """Seconds the version must stay unchanged before it may be taken over."""
    holder: str | None
    problem: str

    def remaining(self, now: float) -> float:
        return self.since + self.wait - now


def _is_conflict(exc: BaseException) -> bool:
    return error_code(exc) in CONFLICT_CODES or "412" in str(exc)


class LeaseManager:
    def __init__(
        self, clients: AwsClients, bucket: str, identity: str, lease_seconds: float
    ) -> None:
        self.clients = clients
        self.bucket = bucket
        self.identity = identity
        self.lease_seconds = lease_seconds
        self.margin = max(1.0, lease_seconds * 0.3)
        """The holder stops writing this long before its lease period ends."""
        self.take_margin = max(0.5, lease_seconds * 0.1)
        """A taker waits this much longer than a lease period."""
        self.held: dict[str, Held] = {}
        self.watched: dict[str, Watched] = {}
        """Leases others hold (or unreadable ones), as last read."""
        self.log = get_logger(component="leases", identity=identity)

    def key(self, stack: str) -> str:
        return f"{LEASE_PREFIX}{stack}.json"

    def holds(self, stack: str) -> bool:
        held = self.held.get(stack)
        return held is not None and time.monotonic() < held.valid_until

    def holder(self, stack: str) -> str | None:
        """Who holds `stack`: this identity, the other holder last read, or None."""
        if self.holds(stack):
            return self.identity
        watched = self.watched.get(stack)
        return watched.holder if watched is not None else None

    def problem(self, stack: str) -> str:
        """Why the lease object of `stack` is not a lease ("" when it is one)."""
        watched = self.watched.get(stack)
        return watched.problem if watched is not None and not self.holds(stack) else ""

    def retry_in(self, stack: str) -> float:
        """When to look again at a lease another process holds: often enough to see
        every version it writes, and right when the version seen could be taken."""
        step = self.lease_seconds / 5
        watched = self.watched.get(stack)
        if watched is None:
            return max(0.2, step)
        return max(0.2, min(step, watched.remaining(time.monotonic()) + 0.05))

    async def ensure(self, stack: str) -> bool:
        """True if this process holds the lease (acquiring or renewing it as needed)."""
        if self.holds(stack):  # kept fresh by the renewal loop
            return True
        return await self.acquire(stack)

    async def acquire(self, stack: str) -> bool:
        s3 = await self.clients.client("s3")
        try:
            reply = await s3.get_object(Bucket=self.bucket, Key=self.key(stack))
            stream = reply["Body"]
            async with stream:
                raw = await read_at_most(stream, MAX_LEASE_BYTES + 1)
        except Exception as exc:
            if error_code(exc) not in MISSING_CODES:
                self.log.warning("lease_read_failed", stack=stack, error=str(exc))
                return self.holds(stack)
            self.watched.pop(stack, None)
            return await self._write(stack, IfNoneMatch="*")
        read = lease_read(reply, raw)
        if read.holder == self.identity or read.holder == "":
            return await self._take(stack, read, "released" if read.holder == "" else "")
        watched = self._watch(stack, read)
        if watched.remaining(time.monotonic()) <= 0:
            return await self._take(stack, read, "unchanged")
        self.held.pop(stack, None)
        return False

    def _watch(self, stack: str, read: LeaseRead) -> Watched:
        """The version of the lease object now seen, noted the first time it is seen."""
        written = time.monotonic() - read.age  # never before the write: read.age is a floor
        watched = self.watched.get(stack)
        if watched is not None and watched.version == read.version:
            watched.since = min(watched.since, written)
            return watched
        # the holder's own period if longer (up to 10 of ours: foreign input)
        claimed = min(read.lease_seconds, 10 * self.lease_seconds)
        wait = max(self.lease_seconds, claimed) + self.take_margin
        watched = Watched(read.version, written, wait, read.holder, read.problem)
        self.watched[stack] = watched
        if read.holder is None:  # once per version, not on every look
            self.log.warning(
                "lease_unreadable",
                stack=stack,
                key=self.key(stack),
                problem=read.problem,
                take_over_in=round(max(0.0, watched.remaining(time.monotonic())), 1),
            )
        return watched

    async def _take(self, stack: str, read: LeaseRead, why: str) -> bool:
        previous = self.watched.get(stack)
        taken = await self._write(stack, IfMatch=read.etag)
        if taken and why:
            self.log.info(
                "lease_taken_over",
                stack=stack,
                previous=describe(read.holder) if read.holder else None,
                reason=why if read.holder is not None else "unreadable",
                unchanged_for=round(time.monotonic() - previous.since, 1) if previous else None,
            )
        return taken

    async def _write(self, stack: str, **condition: str) -> bool:
        s3 = await self.clients.client("s3")
        started = time.monotonic()
        now = wall()
        body = self._body(stack, now, now + self.lease_seconds)
        try:
            reply = await s3.put_object(
                Bucket=self.bucket,
                Key=self.key(stack),
                Body=body,
                ContentType="application/json",
                **condition,
            )
        except Exception as exc:
            if _is_conflict(exc):
                self._lost(stack, "lease_conflict")
                return False
            self.log.warning("lease_write_failed", stack=stack, error=str(exc))
            return self.holds(stack)
        first = stack not in self.held
        self.watched.pop(stack, None)
        self.held[stack] = Held(str(reply["ETag"]), started + self.lease_seconds - self.margin)
        took = time.monotonic() - started
        if took > self.lease_seconds / 4:
            self.log.warning("lease_write_slow", stack=stack, seconds=round(took, 2))
        if first:
            self.log.info("lease_acquired", stack=stack)
        return True

    def _body(self, stack: str, now: float, expires: float, holder: str | None = None) -> bytes:
        data: dict[str, Any] = {
            "stack": stack,
            "holder": self.identity if holder is None else holder,
            "renewedAt": now,
            "expiresAt": expires,
            "leaseSeconds": self.lease_seconds,
        }
        return json.dumps(data).encode()

    def _lost(self, stack: str, event: str) -> None:
        if self.held.pop(stack, None) is not None:
            self.log.warning(event, stack=stack)

    def expire(self) -> list[str]:
        """Forget leases past their local validity; returns the stacks lost."""
        now = time.monotonic()
        lost = [stack for stack, held in self.held.items() if now >= held.valid_until]
        for stack in lost:
            self._lost(stack, "lease_expired")
        return lost

    async def renew_all(self) -> None:
        self.expire()
        await asyncio.gather(
            *(self._write(stack, IfMatch=held.etag) for stack, held in list(self.held.items()))
        )

    async def release(self, stack: str) -> None:
        """Give the lease up at once (an expired, holderless lease others may take)."""
        self.watched.pop(stack, None)
        held = self.held.pop(stack, None)
        if held is None:
            return
        s3 = await self.clients.client("s3")
        try:
            await s3.put_object(
                Bucket=self.bucket,
                Key=self.key(stack),
                Body=self._body(stack, wall(), 0.0, holder=""),
                ContentType="application/json",
                IfMatch=held.etag,
            )
            self.log.info("lease_released", stack=stack)
        except Exception as exc:
            self.log.warning("lease_release_failed", stack=stack, error=str(exc))

    async def release_all(self, timeout: float = 4.0) -> None:
        """Release every lease concurrently; one that cannot be written in time expires."""
        stacks = sorted(self.held)
        try:
            await asyncio.wait_for(asyncio.gather(*(self.release(s) for s in stacks)), timeout)
        except TimeoutError:
            self.log.warning("lease_release_timeout", stacks=stacks)
