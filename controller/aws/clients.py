"""One aioboto3 session and one client per service, reused for the process."""

from __future__ import annotations

import asyncio
import functools
import os
from contextlib import AsyncExitStack
from typing import Any, Self

import aioboto3
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from controller.aws import datacache
from controller.aws.calls import CallRecorder, outcome_of
from controller.aws.tls import session_class
from controller.testhooks import fault_injector

DEFAULT_REGION = "us-east-1"


VERSIONED_READ = "stackop_versioned_read"


def _note_versioned_read(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """A GetObject naming a VersionId needs s3:GetObjectVersion: mark it for the call log."""
    if params.get("VersionId"):
        context[VERSIONED_READ] = True


class ClientsOnlySession(aioboto3.Session):  # type: ignore[misc]
    """aioboto3's session without its S3 transfer and resource customisations.

    stackop makes plain client calls only; the customisation of S3 clients imports boto3's
    transfer manager on the first S3 client (~18 ms of every `stackop plan`).
    """

    def _register_default_handlers(self) -> None:
        pass


class AwsClients:
    """Creates clients lazily, once each; records every call they make."""

    def __init__(
        self,
        region: str | None = None,
        endpoint_url: str | None = None,
        recorder: CallRecorder | None = None,
        max_attempts: int = 8,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
    ) -> None:
        self.region = region or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        self.endpoint_url = endpoint_url or None
        self.recorder = recorder or CallRecorder()
        botocore_session = get_session()
        datacache.install(botocore_session)  # parsed data files kept between processes
        self._session = ClientsOnlySession(
            botocore_session=botocore_session, region_name=self.region
        )
        self._config = AioConfig(
            http_session_cls=session_class(self.endpoint_url),
            # standard, not adaptive: adaptive's client-side token bucket falls to ~0.5
            # requests/s under steady throttling (30 % throttled: 35 actions in 4 min, and
            # lease renewals so late the lease expired); standard retries each call with
            # jittered exponential backoff and never slows the calls that succeed
            retries={"mode": "standard", "max_attempts": max_attempts},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=20,
        )
        self._faults = fault_injector()
        self._stack = AsyncExitStack()
        self._clients: dict[str, Any] = {}
        self._lock = asyncio.Lock()

    async def client(self, service: str) -> Any:
        existing = self._clients.get(service)
        if existing is not None:
            return existing
        async with self._lock:
            if service not in self._clients:
                client = await self._stack.enter_async_context(
                    self._session.client(
                        service, endpoint_url=self.endpoint_url, config=self._config
                    )
                )
                service_id = client.meta.service_model.service_id.hyphenize()
                client.meta.events.register(
                    f"response-received.{service_id}.*",
                    functools.partial(self._on_response, service),
                )
                client.meta.events.register(
                    f"provide-client-params.{service_id}.GetObject", _note_versioned_read
                )
                if self._faults is not None:
                    self._faults.register(client)
                self._clients[service] = client
            return self._clients[service]

    def _on_response(self, service: str, **kwargs: Any) -> None:
        operation = str(kwargs.get("event_name", "")).rsplit(".", 1)[-1]
        if (kwargs.get("context") or {}).get(VERSIONED_READ):
            operation = "GetObjectVersion"  # what IAM authorises: counted as such
        self.recorder.record(
            service, operation, outcome_of(kwargs.get("parsed_response"), kwargs.get("exception"))
        )

    async def close(self) -> None:
        await self._stack.aclose()
        self._clients.clear()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
