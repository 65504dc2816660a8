"""Spec source: every *.yaml under the bucket prefix is one stack.

An unchanged bucket costs one ListObjectsV2 call (per 1000 specs) per poll: objects
are fetched only when their ETag changes. S3 event notifications (via SQS) only
wake the poller early; the poll stays the source of truth and the safety net.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from controller.aws import AwsClients, is_not_found
from controller.operator.logs import get_logger
from controller.spec import LoadedSpec, SpecError, load_spec

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


def spec_version(head: dict[str, Any], loaded_version: str) -> str:
    version = head.get("VersionId")
    return str(version) if version and version != "null" else loaded_version


class SpecSource:
    def __init__(self, clients: AwsClients, bucket: str, prefix: str, handler: Handler) -> None:
        self.clients = clients
        self.bucket = bucket
        self.prefix = prefix
        self.handler = handler
        self.etags: dict[str, str] = {}
        self.polls = 0
        self.last_error = ""
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
        # removals first, so a spec moved to another key is adopted, not orphaned
        for key in sorted(set(self.etags) - set(listing)):
            del self.etags[key]
            await self.handler(SpecEvent(key, "removed"))
        for key, etag in sorted(listing.items()):
            if self.etags.get(key) != etag:
                await self._fetch(key, etag)
        self.polls += 1

    async def _list(self) -> dict[str, str]:
        s3 = await self.clients.client("s3")
        found: dict[str, str] = {}
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
                    found[key] = obj["ETag"]
            if not page.get("IsTruncated"):
                return found
            token = page["NextContinuationToken"]

    async def _fetch(self, key: str, etag: str) -> None:
        s3 = await self.clients.client("s3")
        try:
            obj = await s3.get_object(Bucket=self.bucket, Key=key)
            async with obj["Body"] as body:
                raw = await body.read()
        except Exception as exc:
            if not is_not_found(exc):
                self.log.error("spec_fetch_failed", key=key, error=str(exc))
            return  # retried on the next poll (the ETag is not recorded)
        self.etags[key] = etag
        source = f"s3://{self.bucket}/{key}"
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

    def __init__(self, clients: AwsClients, queue_url: str, source: SpecSource) -> None:
        self.clients = clients
        self.queue_url = queue_url
        self.source = source
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
