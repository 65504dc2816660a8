"""Spec source: every *.yaml under the bucket prefix is one stack.

An unchanged bucket costs one ListObjectsV2 call (per 1000 specs) per poll: objects
are fetched only when their ETag changes. S3 event notifications (via SQS) only
wake the poller early; the poll stays the source of truth and the safety net.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from controller.aws import AwsClients, is_not_found
from controller.operator.logs import get_logger
from controller.spec import LoadedSpec, SpecError, SpecIssue, load_spec
from controller.spec.yamlsafe import MAX_BYTES

SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class SpecEvent:
    key: str
    """The S3 object key."""
    kind: str
    """"loaded" | "invalid" | "removed"."""
    loaded: LoadedSpec | None = None
    error: SpecError | None = None
    version: str = ""


Handler = Callable[[SpecEvent], Awaitable[None]]
Settled = Callable[[], Awaitable[None]]


def spec_version(head: dict[str, Any], loaded_version: str) -> str:
    version = head.get("VersionId")
    return str(version) if version and version != "null" else loaded_version


async def read_at_most(stream: Any, limit: int) -> bytes:
    """Up to `limit` bytes of a streaming body (one read may return less than asked)."""
    chunks: list[bytes] = []
    total = 0
    while total < limit:
        chunk = await stream.read(limit - total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


class SpecSource:
    def __init__(
        self,
        clients: AwsClients,
        bucket: str,
        prefix: str,
        handler: Handler,
        settled: Settled | None = None,
    ) -> None:
        self.clients = clients
        self.bucket = bucket
        self.prefix = prefix
        self.handler = handler
        self.settled = settled
        """Called after every successful listing's events: decisions that depend on all
        the spec objects at once (which key defines which stack) are made there."""
        self.etags: dict[str, str] = {}
        self.listed: set[str] = set()
        """Spec keys of the last listing (also those whose fetch failed and is retried)."""
        self.polls = 0
        self.last_error = ""
        self.last_listed = 0.0
        """time.monotonic() of the last successful listing: a listing stuck in retries
        (AWS unreachable or hung) shows as staleness long before it fails."""
        self.wake = asyncio.Event()
        self.log = get_logger(component="source")

    @property
    def ready(self) -> bool:
        return self.polls > 0 and not self.last_error

    async def poll(self) -> None:
        """One listing; fetch new or changed specs; report removed ones."""
        try:
            listing = await self._list()
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            self.log.error("spec_list_failed", error=self.last_error)
            return
        self.last_error = ""
        self.last_listed = time.monotonic()
        self.listed = set(listing)
        # removals first, so a spec moved to another key is adopted, not orphaned
        for key in sorted(set(self.etags) - set(listing)):
            del self.etags[key]
            await self.handler(SpecEvent(key, "removed"))
        for key, (etag, size) in sorted(listing.items()):
            if self.etags.get(key) != etag:
                await self._fetch(key, etag, size)
        if self.settled is not None:
            try:
                await self.settled()
            except Exception as exc:  # decided again after the next listing
                self.log.exception("spec_settle_failed", error=str(exc))
        self.polls += 1
        self.last_listed = time.monotonic()

    def stale_for(self) -> float:
        """Seconds since the last successful listing (0 before the first poll ends)."""
        return time.monotonic() - self.last_listed if self.polls else 0.0

    async def _list(self) -> dict[str, tuple[str, int]]:
        s3 = await self.clients.client("s3")
        found: dict[str, tuple[str, int]] = {}
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix}
            if token:
                kwargs["ContinuationToken"] = token
            page = await s3.list_objects_v2(**kwargs)
            for obj in page.get("Contents", []):
                key = obj["Key"]
                # only direct children: leases/ and status/ may share a prefix-less bucket
                if key.endswith(SUFFIXES) and "/" not in key[len(self.prefix) :]:
                    found[key] = (obj["ETag"], int(obj.get("Size", 0)))
            if not page.get("IsTruncated"):
                return found
            token = page["NextContinuationToken"]

    async def _fetch(self, key: str, etag: str, size: int) -> None:
        source = f"s3://{self.bucket}/{key}"
        if size > MAX_BYTES:  # refused unread: memory stays bounded whatever is uploaded
            self.etags[key] = etag
            message = f"file is {size} bytes; the limit is 1 MiB"
            error = SpecError([SpecIssue(source, 1, 1, "", message)])
            await self.handler(SpecEvent(key, "invalid", error=error, version=etag.strip('"')))
            return
        s3 = await self.clients.client("s3")
        try:
            obj = await s3.get_object(Bucket=self.bucket, Key=key)
            stream = obj["Body"]
            async with stream:
                raw = await read_at_most(stream, MAX_BYTES + 1)  # load_spec rejects longer
        except Exception as exc:
            if not is_not_found(exc):
                self.log.error("spec_fetch_failed", key=key, error=str(exc))
            return  # retried on the next poll (the ETag is not recorded)
        self.etags[key] = etag
        try:
            loaded = load_spec(source, raw)
        except SpecError as exc:
            await self.handler(SpecEvent(key, "invalid", error=exc, version=etag.strip('"')))
            return
        version = spec_version(obj, loaded.version)
        loaded = LoadedSpec(loaded.spec, loaded.source, version)
        await self.handler(SpecEvent(key, "loaded", loaded=loaded, version=version))

    async def run(self, interval: float, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            self.wake.clear()
            await self.poll()
            waits = [
                asyncio.ensure_future(self.wake.wait()),
                asyncio.ensure_future(stopping.wait()),
            ]
            _, pending = await asyncio.wait(
                waits, timeout=interval, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()


class QueueListener:
    """Consumes S3 event notifications from SQS and wakes the poller for spec keys."""

    def __init__(
        self,
        clients: AwsClients,
        queue_url: str,
        source: SpecSource,
        on_message: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        self.clients = clients
        self.queue_url = queue_url
        self.source = source
        self.on_message = on_message
        """Also given every message body (CloudTrail change events share the queue)."""
        self.log = get_logger(component="queue")

    async def run(self, stopping: asyncio.Event) -> None:
        sqs = await self.clients.client("sqs")
        while not stopping.is_set():
            try:
                reply = await sqs.receive_message(
                    QueueUrl=self.queue_url, WaitTimeSeconds=5, MaxNumberOfMessages=10
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log.error("queue_receive_failed", error=str(exc))
                await asyncio.sleep(2.0)
                continue
            messages = reply.get("Messages", [])
            if any(self._relevant(m.get("Body", "")) for m in messages):
                self.source.wake.set()
            if self.on_message is not None:
                for m in messages:
                    await self.on_message(m.get("Body", ""))
            if messages:
                await sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(messages)
                    ],
                )

    def _relevant(self, body: str) -> bool:
        try:
            event = json.loads(body)
        except ValueError:
            return False
        if isinstance(event, dict) and "Message" in event:  # wrapped by SNS
            try:
                event = json.loads(event["Message"])
            except (TypeError, ValueError):
                return False
        records = event.get("Records", []) if isinstance(event, dict) else []
        # event keys are URL-encoded ("+" for spaces; moto also encodes "/")
        keys = [
            unquote_plus(str(r.get("s3", {}).get("object", {}).get("key", ""))) for r in records
        ]
        return any(k.startswith(self.source.prefix) for k in keys)
