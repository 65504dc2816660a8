"""Test-only fault injection: throttle or fail a share of AWS calls before they are sent.

Enabled by `STACKOP_FAULTS`, e.g. `throttle=0.3,error=0.05,latency=0.02,seed=7`: each HTTP
attempt is answered locally with a throttling error (HTTP 400) or an internal error
(HTTP 500) in the service's own wire format, so botocore's retries, our error mapping
and the `outcome` label of `stackop_aws_api_calls_total` all see what AWS would send.
Never set it against a real account.
"""

from __future__ import annotations

import asyncio
import os
import random
from dataclasses import dataclass
from typing import Any

_THROTTLE_CODES = {
    "ec2": "RequestLimitExceeded",
    "rest-xml": "SlowDown",
    "query": "Throttling",
    "json": "ThrottlingException",
    "rest-json": "ThrottlingException",
}


@dataclass(frozen=True)
class FaultPlan:
    throttle: float = 0.0
    error: float = 0.0
    latency: float = 0.0
    seed: int | None = None

    @classmethod
    def from_env(cls, value: str | None = None) -> FaultPlan | None:
        text = value if value is not None else os.environ.get("STACKOP_FAULTS", "")
        if not text.strip():
            return None
        parts = dict(item.split("=", 1) for item in text.split(",") if "=" in item)
        return cls(
            throttle=float(parts.get("throttle", 0)),
            error=float(parts.get("error", 0)),
            latency=float(parts.get("latency", 0)),
            seed=int(parts["seed"]) if "seed" in parts else None,
        )


class _FakeResponse:
    """Just enough of aiobotocore's AioAWSResponse for the parsers."""

    def __init__(self, url: str, status: int, headers: dict[str, str], body: bytes) -> None:
        self.url = url
        self.status_code = status
        self.headers = headers
        self._body = body
        self.raw = self

    @property
    def content(self) -> Any:
        async def read() -> bytes:
            return self._body

        return read()

    @property
    def text(self) -> Any:
        async def read() -> str:
            return self._body.decode()

        return read()


def _error_body(protocol: str, code: str, message: str) -> tuple[dict[str, str], bytes]:
    if protocol == "ec2":
        xml = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
            "</Error></Errors><RequestID>fault</RequestID></Response>"
        )
        return {"content-type": "text/xml"}, xml.encode()
    if protocol in ("query", "rest-xml"):
        xml = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
        )
        return {"content-type": "text/xml"}, xml.encode()
    body = f'{{"__type": "{code}", "message": "{message}"}}'.encode()
    return {"content-type": "application/x-amz-json-1.1", "x-amzn-errortype": code}, body


def error_response(protocol: str, url: str, status: int, code: str, message: str) -> Any:
    """An AWS error answer in `protocol`'s wire format, for a `before-send` hook to return."""
    headers, body = _error_body(protocol, code, message)
    return _FakeResponse(url, status, headers, body)


def xml_response(url: str, body: str) -> Any:
    """A successful XML answer (query protocol), for tests where moto cannot answer as AWS."""
    return _FakeResponse(url, 200, {"content-type": "text/xml"}, body.encode())


class FaultInjector:
    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.random = random.Random(plan.seed)

    async def before_send(self, protocol: str, request: Any, **_: Any) -> Any:
        if self.plan.latency:
            await asyncio.sleep(self.plan.latency)
        roll = self.random.random()
        if roll < self.plan.throttle:
            code = _THROTTLE_CODES.get(protocol, "Throttling")
            return error_response(protocol, request.url, 400, code, "Rate exceeded (injected)")
        if roll < self.plan.throttle + self.plan.error:
            code = "InternalError" if protocol in ("ec2", "rest-xml") else "InternalFailure"
            return error_response(protocol, request.url, 500, code, "Injected internal error")
        return None

    def register(self, client: Any) -> None:
        import functools

        model = client.meta.service_model
        service_id = model.service_id.hyphenize()
        client.meta.events.register(
            f"before-send.{service_id}.*",
            functools.partial(self.before_send, model.protocol),
        )
