"""The AWS layer: shared session and clients, call metrics, error mapping."""

from controller.aws.calls import Call, CallRecorder, is_write
from controller.aws.clients import AwsClients
from controller.aws.errors import classify, error_code, is_not_found

__all__ = [
    "AwsClients",
    "Call",
    "CallRecorder",
    "classify",
    "error_code",
    "is_not_found",
    "is_write",
]
