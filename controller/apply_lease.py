"""`stackop apply` under the stack's lease, so it never writes while an operator does.

The lease is the operator's (`leases/<stack>.json` in the spec bucket, taken with S3
conditional writes by `LeaseManager`): apply takes it before its first write, renews it
in the background, stops writing the moment it is no longer held, and releases it at
the end. `NoLease` is the `--no-lease` stand-in with the same interface.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import os
import socket
import time
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TypeVar

from controller.aws import AwsClients
from controller.operator import lease_doc
from controller.operator.leases import LeaseManager

T = TypeVar("T")


class LeaseRefused(Exception):
    """Another holder has the stack's lease (or it cannot be read): nothing was written."""


class LeaseLost(Exception):
    """The lease stopped being ours while apply ran: writing stopped."""


def apply_identity() -> str:
    """Who holds the lease, as another process's refusal will name it."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in a bare container
        user = str(os.getuid())
    return f"stackop-apply:{user}@{socket.gethostname()}:{os.getpid()}-{uuid.uuid4().hex[:4]}"


def describe_lease(body: bytes, now: float | None = None) -> str:
    """The holder and expiry in a lease object's bytes, for a one-line message.

    Whether the bytes are a lease at all is the operator's rule (lease_doc.parse), so apply
    and the operator never disagree about a garbage object.
    """
    holder, problem, _ = lease_doc.parse(body)
    if holder is None:
        return f"an unreadable lease object ({problem})"
    expires = float(json.loads(body)["expiresAt"])  # parse checked it is a finite number
    try:
        at = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError, OSError):
        return f"holder {lease_doc.describe(holder or 'nobody')!r} with an impossible expiresAt"
    left = expires - (time.time() if now is None else now)
    when = f"expires in {left:.0f}s" if left > 0 else f"expired {-left:.0f}s ago"
    return f"holder {lease_doc.describe(holder or 'nobody')!r}, {when} ({at})"


def _error(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


class StackLease:
    """The stack's lease for the length of one apply."""

    def __init__(self, clients: AwsClients, bucket: str, stack: str, lease_seconds: float) -> None:
        self.clients = clients
        self.bucket = bucket
        self.stack = stack
        self.lease_seconds = lease_seconds
        self.manager = LeaseManager(clients, bucket, apply_identity(), lease_seconds)
        self.renewing: asyncio.Task[None] | None = None

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.manager.key(self.stack)}"

    async def read_lease(self) -> bytes:
        s3 = await self.clients.client("s3")
        obj = await s3.get_object(Bucket=self.bucket, Key=self.manager.key(self.stack))
        async with obj["Body"] as body:
            raw: bytes = await body.read()
        return raw

    async def holder(self) -> str:
        try:
            return describe_lease(await self.read_lease())
        except Exception as exc:
            return f"a lease that cannot be read ({_error(exc)})"

    async def acquire(self) -> None:
        try:
            taken = await self.manager.ensure(self.stack)
            current = b"" if taken else await self.read_lease()
        except Exception as exc:
            raise LeaseRefused(
                f"cannot take the lease of stack {self.stack} at {self.where} "
                f"({_error(exc)}); apply wrote nothing"
            ) from None
        if not taken:
            raise LeaseRefused(
                f"stack {self.stack} is locked by another writer: {self.where} has "
                f"{describe_lease(current)}; apply wrote nothing (stop that operator or "
                "wait for its lease to expire)"
            )
        self.renewing = asyncio.create_task(self._renew_loop(), name="apply-lease-renewal")

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 4)
            await self.manager.renew_all()

    def held(self) -> bool:
        return self.manager.holds(self.stack)

    async def check(self) -> None:
        """Raise LeaseLost unless the lease is still ours (call before every write step).

        Between writes, a lease that lapsed locally (a renewal late behind slow planning)
        is taken again when the object still names us: the conditional write proves that
        nobody else has held it meanwhile."""
        if not self.held() and not await self._still_ours():
            raise LeaseLost(
                f"lost the lease on stack {self.stack} ({self.where} now has "
                f"{await self.holder()}); stopped writing"
            )

    async def _still_ours(self) -> bool:
        try:
            return await self.manager.ensure(self.stack)
        except Exception:  # an unreadable lease object: not provably ours
            return False

    async def guard(self, work: Awaitable[T]) -> T:
        """Run `work`; cancel it the moment the lease is no longer held."""
        task = asyncio.ensure_future(work)
        tick = min(0.5, self.lease_seconds / 8)
        while not task.done():
            await asyncio.wait([task], timeout=tick)
            if not task.done() and not self.held():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                raise LeaseLost(
                    f"lost the lease on stack {self.stack} while writing ({self.where} now "
                    f"has {await self.holder()}); stopped writing"
                )
        return task.result()

    async def release(self) -> None:
        if self.renewing is not None:
            self.renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.renewing
        await self.manager.release(self.stack)


class NoLease:
    """`--no-lease`: apply without looking for a running operator."""

    async def acquire(self) -> None:
        return None

    async def check(self) -> None:
        return None

    async def guard(self, work: Awaitable[T]) -> T:
        return await work

    async def release(self) -> None:
        return None


Lease = StackLease | NoLease


def quiet_lease_logs() -> None:
    """LeaseManager logs through structlog: in the CLI only its errors, on stderr (apply
    reports a lease it cannot take or loses in one line of its own)."""
    import logging
    import sys

    import structlog

    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.KeyValueRenderer(key_order=["level", "event"]),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
