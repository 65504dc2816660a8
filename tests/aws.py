"""An independent boto3 client for tests: what a user with the AWS CLI would do."""

from __future__ import annotations

from typing import Any

import boto3

REGION = "us-east-1"


def client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def owned(items: list[dict[str, Any]], stack: str) -> list[dict[str, Any]]:
    """Items whose Tags mark them as the stack's."""
    return [
        i
        for i in items
        if {t["Key"]: t["Value"] for t in i.get("Tags", [])}.get("stackop:stack") == stack
    ]
