"""The tagging API is eventually consistent: our own tag writes never read back as drift.

AWS documents the Resource Groups Tagging API as eventually consistent, so for a while
after we write a resource's tags its answer may still show the old ones. moto's answer
never lags (it is the service's own state), so the lag is shown by telling the kinds'
shared registry that we wrote a value moto does not hold (what a lagging index looks
like from our side): the pass then reads that resource's own tags instead of believing
the answer. An answer that agrees with what we wrote costs nothing extra.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from controller.aws import AwsClients
from controller.engine import plan_stack
from controller.kinds import tags_common
from controller.kinds.tags_common import index_lags, tags_written
from tests.test_tag_fold import EDGE, NAME, OPTIONS, TAG_READS, _converge, _ctx, _kinds

ARN = f"arn:aws:s3:::{NAME}"


def test_an_answer_lacking_what_we_wrote_is_not_believed() -> None:
    tags_written("arn:aws:s3:::lag-unit", {"Team": "new"})
    assert index_lags("arn:aws:s3:::lag-unit", {"Team": "old"})
    assert index_lags("arn:aws:s3:::lag-unit", {})
    assert not index_lags("arn:aws:s3:::lag-unit", {"Team": "new", "Other": "x"})
    assert not index_lags("arn:aws:s3:::never-written", {"Team": "old"})


def test_after_the_lag_window_the_answer_is_believed_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tags_written("arn:aws:s3:::lag-window", {"Team": "new"})
    monkeypatch.setattr(tags_common, "INDEX_LAG", 0.0)
    assert not index_lags("arn:aws:s3:::lag-window", {"Team": "old"})


def test_a_lagging_answer_makes_the_kind_read_its_own_tags(endpoint: str) -> None:
    async def run() -> tuple[Counter[str], Counter[str], bool, bool]:
        async with AwsClients(endpoint_url=endpoint) as clients:
            ctx, kinds = _ctx(clients), _kinds(EDGE)
            await _converge(ctx, kinds, EDGE)
            await plan_stack(kinds, ctx, EDGE, OPTIONS)
            # caught up (moto always is): the shared answer serves, no tag read alone
            mark = clients.recorder.mark()
            caught_up = await plan_stack(kinds, ctx, EDGE, OPTIONS)
            settled = clients.recorder.counts(mark)
            # a tag we "wrote" that the index does not show yet: read the bucket itself
            tags_written(ARN, {"Written": "a moment ago"})
            mark = clients.recorder.mark()
            lagging = await plan_stack(kinds, ctx, EDGE, OPTIONS)
            return settled, clients.recorder.counts(mark), caught_up.in_sync, lagging.in_sync

    settled, lagging, caught_up_in_sync, lagging_in_sync = asyncio.run(run())
    assert caught_up_in_sync and lagging_in_sync
    assert not {op for op in TAG_READS if settled[op]}, settled
    assert lagging["s3:GetBucketTagging"] == 1, lagging
    assert lagging["cloudfront:ListTagsForResource"] == 0, lagging
