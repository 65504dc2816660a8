"""An untagged bucket with our derived name: adopted only when empty.

CreateBucket cannot carry tags, so a crash between create and tagging leaves an empty,
untagged bucket with our name: that one is taken over. A bucket holding objects is
somebody's: never modified, and the error says why.
"""

from __future__ import annotations

import asyncio

import pytest
from botocore.exceptions import ClientError

from controller.aws import AwsClients, classify
from controller.engine import KindContext, Outcome, PlanOptions, ReconcileResult, reconcile_stack
from controller.kinds import all_kinds
from tests.aws import client
from tests.kinds.test_data_edge_kinds import DESIRED, STACK

BUCKET = DESIRED["frontend_bucket/main"]
NAME = str(BUCKET.params["name"])


async def _apply(endpoint: str) -> ReconcileResult:
    kinds = {"frontend_bucket": all_kinds()["frontend_bucket"]}
    async with AwsClients(endpoint_url=endpoint) as clients:
        ctx = KindContext(STACK, "v1", clients, {})
        return await reconcile_stack(
            kinds, ctx, [BUCKET], PlanOptions(), write=True, classify=classify
        )


def test_untagged_bucket_with_objects_is_not_taken_over(endpoint: str) -> None:
    s3 = client("s3", endpoint)
    s3.create_bucket(Bucket=NAME)
    s3.put_object(Bucket=NAME, Key="index.html", Body=b"<h1>theirs</h1>")
    result = asyncio.run(_apply(endpoint))
    assert result.execution is not None
    (report,) = result.execution.of(Outcome.FAILED)
    assert "without our tags and holds objects" in report.message
    assert report.retry_after is None  # terminal: retrying cannot help
    tags = s3.get_bucket_tagging(Bucket=NAME)["TagSet"] if _has_tags(endpoint) else []
    assert tags == []
    assert s3.get_object(Bucket=NAME, Key="index.html")["Body"].read() == b"<h1>theirs</h1>"
    with pytest.raises(ClientError, match="NoSuchPublicAccessBlockConfiguration"):
        s3.get_public_access_block(Bucket=NAME)  # no setting of ours was written


def test_empty_untagged_bucket_left_by_a_crash_is_adopted(endpoint: str) -> None:
    s3 = client("s3", endpoint)
    s3.create_bucket(Bucket=NAME)
    result = asyncio.run(_apply(endpoint))
    assert result.execution is not None and result.execution.converged
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=NAME)["TagSet"]}
    assert tags["stackop:stack"] == STACK
    assert tags["stackop:logical-id"] == "frontend_bucket/main"


def _has_tags(endpoint: str) -> bool:
    try:
        client("s3", endpoint).get_bucket_tagging(Bucket=NAME)
    except Exception:  # NoSuchTagSet
        return False
    return True
