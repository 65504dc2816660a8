"""Per-stack leases in the spec bucket, taken and renewed with S3 conditional writes.

`leases/<stack>.json` holds the holder's identity and an expiry time. Creating uses
If-None-Match: *, renewing and taking over an expired lease use If-Match on the
ETag read, so two processes can never both believe they hold a stack. A holder
stops writing `margin` before its own lease would expire, in case renewals fail.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from controller.aws import AwsClients, error_code, is_not_found
from controller.operator.clock import wall
from controller.operator.logs import get_logger

LEASE_PREFIX = "leases/"
CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})


@dataclass
class Held:
    etag: str
    valid_until: float
    """time.monotonic() after which this process no longer writes for the stack."""


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
        self.held: dict[str, Held] = {}
        self.expires: dict[str, float] = {}
        """Wall-clock expiry of leases others hold, as last read."""
        self.log = get_logger(component="leases", identity=identity)

    def key(self, stack: str) -> str:
        return f"{LEASE_PREFIX}{stack}.json"

    def holds(self, stack: str) -> bool:
        held = self.held.get(stack)
        return held is not None and time.monotonic() < held.valid_until

    def retry_in(self, stack: str) -> float:
        """When to look again at a lease another process holds."""
        remaining = self.expires.get(stack, 0.0) - wall()
        return max(0.2, min(self.lease_seconds / 5, remaining + 0.2))

    async def ensure(self, stack: str) -> bool:
        """True if this process holds the lease (acquiring or renewing it as needed)."""
        if self.holds(stack):  # kept fresh by the renewal loop
            return True
        return await self.acquire(stack)

    async def acquire(self, stack: str) -> bool:
        s3 = await self.clients.client("s3")
        try:
            obj = await s3.get_object(Bucket=self.bucket, Key=self.key(stack))
            async with obj["Body"] as body:
                current = json.loads(await body.read() or b"{}")
            etag = str(obj["ETag"])
        except Exception as exc:
            if not is_not_found(exc):
                self.log.warning("lease_read_failed", stack=stack, error=str(exc))
                return self.holds(stack)
            return await self._write(stack, IfNoneMatch="*")
        holder = str(current.get("holder", ""))
        expires = float(current.get("expiresAt", 0))
        if holder == self.identity:
            return await self._write(stack, IfMatch=etag)
        if not holder or expires <= wall():
            taken = await self._write(stack, IfMatch=etag)
            if taken:
                self.log.info("lease_taken_over", stack=stack, previous=holder or None)
            return taken
        self.held.pop(stack, None)
        self.expires[stack] = expires
        return False

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
