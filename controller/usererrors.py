"""One line for each error a user can cause: the cause and the fix, never a traceback."""

from __future__ import annotations

import errno
from dataclasses import dataclass

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    TokenRetrievalError,
)
from botocore.exceptions import (
    ConnectTimeoutError as BotoConnectTimeout,
)
from botocore.exceptions import (
    ReadTimeoutError as BotoReadTimeout,
)

from controller.aws.errors import error_code

CREDENTIAL_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidToken",
    }
)
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
CREDENTIALS_FIX = (
    "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
    "(any value works against moto: AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing)"
)


class UserError(Exception):
    """An error the user can fix; its text is the whole message (exit 1)."""


class UsageError(Exception):
    """A missing or wrong option: exit 2, like argparse's own errors."""


@dataclass(frozen=True)
class Target:
    """Where the command was talking to, for naming it in the message."""

    endpoint_url: str | None
    region: str
    bucket: str | None = None

    @property
    def endpoint(self) -> str:
        if self.endpoint_url:
            return f"{self.endpoint_url} (--endpoint-url / STACKOP_ENDPOINT_URL)"
        return f"AWS in {self.region} (--region / STACKOP_REGION)"


def explain(exc: BaseException, target: Target) -> str | None:
    """The one-line message for `exc`, or None when it is not the user's to fix."""
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return f"no AWS credentials ({exc}): {CREDENTIALS_FIX}"
    if isinstance(exc, ProfileNotFound | TokenRetrievalError):
        return f"{exc}: fix AWS_PROFILE or log in again (aws sso login)"
    if isinstance(exc, NoRegionError):
        return "no AWS region: pass --region or set STACKOP_REGION"
    if isinstance(exc, EndpointConnectionError | BotoConnectTimeout | ConnectionClosedError):
        return f"cannot reach {target.endpoint}: is it running and is the URL right?"
    if isinstance(exc, BotoReadTimeout):
        return f"{target.endpoint} does not answer (read timeout): is it overloaded or hung?"
    if isinstance(exc, ClientError):
        return _client_error(exc, target)
    return None


def _client_error(exc: ClientError, target: Target) -> str | None:
    code = error_code(exc)
    operation = getattr(exc, "operation_name", "") or "the call"
    if code == "NoSuchBucket" or (code == "404" and operation == "HeadBucket"):
        return (
            f"bucket {target.bucket} does not exist at {target.endpoint}: create it "
            f"(stack-bootstrap --bucket {target.bucket}) or fix --bucket / STACKOP_BUCKET"
        )
    if code in CREDENTIAL_CODES:
        return f"AWS rejected the credentials ({code}): {CREDENTIALS_FIX}"
    if code in DENIED_CODES or code == "403":
        return (
            f"access denied for {operation} ({code}): grant the permission to these "
            "credentials (see the IAM policy in README) or use other credentials"
        )
    return None


def listen_error(exc: OSError, host: str, port: int) -> str:
    """The message for an HTTP listener that could not bind."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is in use (another `stackop run`?): stop it, "
            "or pass --port / STACKOP_PORT"
        )
    if exc.errno == errno.EACCES:
        return f"no permission to listen on port {port}: use a port above 1023 (--port)"
    return f"cannot listen on {host}:{port} ({exc.strerror or exc}): fix --host / STACKOP_HOST"
