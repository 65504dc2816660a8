"""Map botocore errors onto the engine's typed errors."""

from __future__ import annotations

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from controller.aws.calls import THROTTLE_CODES
from controller.engine.errors import EngineError, NotFound, Retryable, Terminal

RETRYABLE_CODES = frozenset(
    {
        "DependencyViolation",
        "IncorrectState",
        "InvalidStateException",
        "ResourceInUse",
        "ResourceInUseException",
        "OperationAbortedException",
        "ConcurrentModificationException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "InvalidDBInstanceState",
        "InvalidDBInstanceStateFault",
        "PreconditionFailed",
    }
)


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_not_found(exc: BaseException) -> bool:
    code = error_code(exc)
    return "NotFound" in code or code.startswith("NoSuch") or code.endswith("NotFoundFault")


def classify(exc: BaseException) -> EngineError:
    """The engine error for a botocore exception."""
    code = error_code(exc)
    if is_not_found(exc):
        return NotFound(str(exc))
    if code in THROTTLE_CODES:
        return Retryable(str(exc), after=5.0)
    if code in RETRYABLE_CODES:
        return Retryable(str(exc), after=10.0)
    if isinstance(exc, EndpointConnectionError | ConnectionClosedError | ReadTimeoutError):
        return Retryable(f"AWS unreachable: {exc}", after=5.0)
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        if isinstance(status, int) and status >= 500:
            return Retryable(str(exc), after=5.0)
        return Terminal(str(exc))
    return Retryable(f"{type(exc).__name__}: {exc}", after=10.0)
