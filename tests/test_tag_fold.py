"""The frontend bucket's and the distribution's tags come from the shared tagging-API read.

One `tag:GetResources` per observe pass (stack_tags) answers for S3 buckets and, in
us-east-1, CloudFront distributions, so a steady cycle reads neither GetBucketTagging
nor cloudfront ListTagsForResource. The answer is fresh every pass (user tags are
compared for drift), a candidate missing from it is read alone, and ownership is
decided from the tags exactly as before.

moto's tagging API is never behind (AWS's is eventually consistent): to show a
candidate missing from the answer, a test kind observed in an earlier wave of the same
pass takes the shared answer first and then changes the resource out of band, so the
kinds of the next wave get an answer that is really stale.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from controller.aws import AwsClients, classify
from controller.engine import (
    DesiredResource,
    Kind,
    KindContext,
    Observed,
    Outcome,
    PlanOptions,
    Resolved,
    plan_stack,
    reconcile_stack,
)
from controller.engine.observe import observe_all
from controller.engine.resource import OWNER_TAG, STACK_TAG
from controller.kinds import all_kinds
from controller.kinds.stack_tags import CLIENT, RESOURCE_TYPES, stack_tags
from tests.aws import client
from tests.kinds.test_data_edge_kinds import DESIRED, STACK, closure

EDGE = closure("distribution/main")  # the distribution, the bucket and what they reference
BUCKET = DESIRED["frontend_bucket/main"]
NAME = str(BUCKET.params["name"])
TAG_READS = ("s3:GetBucketTagging", "cloudfront:ListTagsForResource")
GET_RESOURCES = "resourcegroupstaggingapi:GetResources"
OPTIONS = PlanOptions(guard_deletions=False)


def _ctx(clients: AwsClients) -> KindContext:
    return KindContext(STACK, "v1", clients, {"Team": "qa"})


def _kinds(desired: Sequence[DesiredResource]) -> dict[str, Kind]:
    wanted = {d.kind for d in desired}
    return {name: kind for name, kind in all_kinds().items() if name in wanted}


async def _converge(ctx: KindContext, kinds: Mapping[str, Kind], desired: Sequence[Any]) -> None:
    result = await reconcile_stack(kinds, ctx, desired, OPTIONS, write=True, classify=classify)
    assert result.execution is not None and result.execution.converged, result.execution


def _dist_arn(endpoint: str) -> str:
    (item,) = client("cloudfront", endpoint).list_distributions()["DistributionList"]["Items"]
    return str(item["ARN"])


def _indexed(endpoint: str) -> dict[str, dict[str, str]]:
    """What the tagging API answers right now for the stack, read by a separate client."""
    out = client("resourcegroupstaggingapi", endpoint).get_resources(
        TagFilters=[{"Key": STACK_TAG, "Values": [STACK]}]
    )
    return {
        m["ResourceARN"]: {t["Key"]: t["Value"] for t in m["Tags"]}
        for m in out["ResourceTagMappingList"]
    }


# ---------------------------------------------------------------- (1) the steady cycle


def test_steady_cycle_reads_no_bucket_or_distribution_tags_alone(endpoint: str) -> None:
    async def run() -> tuple[Counter[str], bool]:
        async with AwsClients(endpoint_url=endpoint) as clients:
            ctx, kinds = _ctx(clients), _kinds(EDGE)
            await _converge(ctx, kinds, EDGE)
            await plan_stack(kinds, ctx, EDGE, OPTIONS)  # warm
            mark = clients.recorder.mark()
            plan = await plan_stack(kinds, ctx, EDGE, OPTIONS)
            return clients.recorder.counts(mark), plan.in_sync

    counts, in_sync = asyncio.run(run())
    assert in_sync
    assert not {op for op in TAG_READS if counts[op]}, counts
    assert counts[GET_RESOURCES] == 1, counts
    # both really are in the shared answer, under the ARNs the kinds use
    indexed = _indexed(endpoint)
    assert f"arn:aws:s3:::{NAME}" in indexed and _dist_arn(endpoint) in indexed


# ---------------------------------------------------------------- (2) drift of a user tag


def test_user_tag_changed_by_hand_is_drift_and_apply_restores_it(endpoint: str) -> None:
    s3, cf = client("s3", endpoint), client("cloudfront", endpoint)

    async def run() -> tuple[list[str], Counter[str], bool]:
        async with AwsClients(endpoint_url=endpoint) as clients:
            ctx, kinds = _ctx(clients), _kinds(EDGE)
            await _converge(ctx, kinds, EDGE)
            assert (await plan_stack(kinds, ctx, EDGE, OPTIONS)).in_sync
            tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=NAME)["TagSet"]}
            tags["Team"] = "by-hand"
            s3.put_bucket_tagging(
                Bucket=NAME, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}
            )
            cf.tag_resource(
                Resource=_dist_arn(endpoint),
                Tags={"Items": [{"Key": "Team", "Value": "by-hand"}]},
            )
            mark = clients.recorder.mark()
            plan = await plan_stack(kinds, ctx, EDGE, OPTIONS)
            counts = clients.recorder.counts(mark)
            drifted = sorted(f"{a.key} {p}" for a in plan.actions for p in a.delta.paths)
            await _converge(ctx, kinds, EDGE)
            return drifted, counts, (await plan_stack(kinds, ctx, EDGE, OPTIONS)).in_sync

    drifted, counts, in_sync = asyncio.run(run())
    assert drifted == ["distribution/main tags.Team", "frontend_bucket/main tags.Team"]
    # Seen in the shared read, except that the bucket's tags were written by us a moment
    # ago (its create): an answer that differs from what we wrote then is not believed
    # (tags_common.INDEX_LAG, tests/test_tag_index_lag.py), so the bucket reads its own.
    assert counts["cloudfront:ListTagsForResource"] == 0, counts
    assert counts["s3:GetBucketTagging"] == 1, counts
    assert in_sync
    bucket_tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=NAME)["TagSet"]}
    dist_tags = cf.list_tags_for_resource(Resource=_dist_arn(endpoint))["Tags"]["Items"]
    assert bucket_tags["Team"] == "qa"
    assert {t["Key"]: t["Value"] for t in dist_tags}["Team"] == "qa"


# ---------------------------------------------------------------- (3) the fallback


class ReadThenChange(Kind):
    """Test kind: takes the pass's shared tagging-API answer, then changes AWS by hand."""

    name = "read_then_change"
    service = "test"
    iam_actions = ()

    def __init__(self, change: Callable[[], None]) -> None:
        self.change = change
        self.answer: Mapping[str, dict[str, str]] = {}

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        self.answer = await stack_tags(ctx)
        self.change()
        return {}

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        raise NotImplementedError

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Any
    ) -> Observed:
        raise NotImplementedError

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        raise NotImplementedError


FIRST = DesiredResource(ReadThenChange.name, "first", {})


def _after_first(keys: Sequence[str]) -> list[DesiredResource]:
    """The resources `keys`, observed in a wave after the test kind."""
    return [
        DesiredResource(d.kind, d.logical_id, d.params, (*d.depends_on, FIRST.key))
        for d in (DESIRED[k] for k in keys)
    ]


async def _observe_after(
    endpoint: str, change: Callable[[], None], keys: Sequence[str]
) -> tuple[dict[str, Observed], ReadThenChange, Counter[str]]:
    first = ReadThenChange(change)
    async with AwsClients(endpoint_url=endpoint) as clients:
        kinds: dict[str, Kind] = {first.name: first, **_kinds([DESIRED[k] for k in keys])}
        mark = clients.recorder.mark()
        found = await observe_all(kinds, _ctx(clients), [FIRST, *_after_first(keys)])
        return found, first, clients.recorder.counts(mark)


def test_resources_missing_from_a_stale_answer_are_read_alone(endpoint: str) -> None:
    """Our tags are written just after the pass read the tagging API (AWS's index lags
    like this): the answer lacks both, and each kind reads its candidate's own tags."""
    s3, cf = client("s3", endpoint), client("cloudfront", endpoint)

    async def converge() -> None:
        async with AwsClients(endpoint_url=endpoint) as clients:
            await _converge(_ctx(clients), _kinds(EDGE), EDGE)

    asyncio.run(converge())
    arn = _dist_arn(endpoint)
    bucket_tags = s3.get_bucket_tagging(Bucket=NAME)["TagSet"]
    dist_tags = cf.list_tags_for_resource(Resource=arn)["Tags"]["Items"]
    s3.delete_bucket_tagging(Bucket=NAME)
    cf.untag_resource(Resource=arn, TagKeys={"Items": [t["Key"] for t in dist_tags]})

    def retag() -> None:
        s3.put_bucket_tagging(Bucket=NAME, Tagging={"TagSet": bucket_tags})
        cf.tag_resource(Resource=arn, Tags={"Items": dist_tags})

    keys = ["distribution/main", "frontend_bucket/main"]
    found, first, counts = asyncio.run(_observe_after(endpoint, retag, keys))
    assert f"arn:aws:s3:::{NAME}" not in first.answer and arn not in first.answer
    indexed = _indexed(endpoint)  # the tagging API answers for both now: it was stale
    assert f"arn:aws:s3:::{NAME}" in indexed and arn in indexed
    assert sorted(found) == keys
    assert found["frontend_bucket/main"].fields["tags"]["Team"] == "qa"
    assert found["distribution/main"].fields["tags"]["Team"] == "qa"
    assert counts[GET_RESOURCES] == 1, counts
    assert all(counts[op] == 1 for op in TAG_READS), counts


def test_bucket_deleted_after_the_answer_is_not_observed(endpoint: str) -> None:
    """The answer still lists a bucket deleted a moment ago: it is absent, not an error."""
    s3 = client("s3", endpoint)

    async def converge() -> None:
        async with AwsClients(endpoint_url=endpoint) as clients:
            await _converge(_ctx(clients), _kinds([BUCKET]), [BUCKET])

    asyncio.run(converge())
    found, first, _ = asyncio.run(
        _observe_after(endpoint, lambda: s3.delete_bucket(Bucket=NAME), ["frontend_bucket/main"])
    )
    assert f"arn:aws:s3:::{NAME}" in first.answer
    assert found == {}


def test_outside_us_east_1_the_distribution_reads_its_own_tags(endpoint: str) -> None:
    """The tagging API answers for CloudFront (global) only in us-east-1. moto answers in
    every region, so this checks the request: outside us-east-1 no CloudFront type is asked
    for, and the distribution reads its tags with ListTagsForResource."""

    async def converge() -> None:
        async with AwsClients(endpoint_url=endpoint) as clients:
            await _converge(_ctx(clients), _kinds(EDGE), EDGE)

    asyncio.run(converge())
    sent: list[list[str]] = []

    async def observe_in_eu() -> tuple[dict[str, Observed], Counter[str]]:
        async with AwsClients(endpoint_url=endpoint, region="eu-west-1") as clients:
            tagging = await clients.client(CLIENT)
            tagging.meta.events.register(
                "provide-client-params.resource-groups-tagging-api.GetResources",
                lambda params, **_: sent.append(list(params["ResourceTypeFilters"])),
            )
            ctx = _ctx(clients)
            kinds = _kinds([DESIRED["distribution/main"]])
            found = await observe_all(kinds, ctx, [DESIRED["distribution/main"]])
            counts = clients.recorder.counts(0)
            await stack_tags(ctx)  # what the shared read asks for in this region
            return found, counts

    found, counts = asyncio.run(observe_in_eu())
    assert found["distribution/main"].fields["tags"]["Team"] == "qa"
    assert counts["cloudfront:ListTagsForResource"] == 1, counts
    assert counts[GET_RESOURCES] == 0, counts  # nothing to ask it for the distribution
    assert sent == [list(RESOURCE_TYPES)]
    assert not [t for t in RESOURCE_TYPES if t.startswith("cloudfront")]


# ---------------------------------------------------------------- (4) ownership


@pytest.mark.parametrize(
    ("tags", "in_answer"),
    [
        # our stack tag, but not managed by us: in the shared answer, still not ours
        ({STACK_TAG: STACK, "Team": "other"}, True),
        # another stack's bucket under our name: read alone, not ours
        ({OWNER_TAG: "stack-operator", STACK_TAG: "other", "Team": "other"}, False),
    ],
)
def test_same_named_bucket_not_tagged_by_us_is_not_adopted(
    endpoint: str, tags: dict[str, str], in_answer: bool
) -> None:
    s3 = client("s3", endpoint)
    s3.create_bucket(Bucket=NAME)
    s3.put_object(Bucket=NAME, Key="index.html", Body=b"theirs")
    tag_set = [{"Key": k, "Value": v} for k, v in tags.items()]
    s3.put_bucket_tagging(Bucket=NAME, Tagging={"TagSet": tag_set})
    assert (f"arn:aws:s3:::{NAME}" in _indexed(endpoint)) is in_answer

    async def run() -> tuple[list[str], Any]:
        async with AwsClients(endpoint_url=endpoint) as clients:
            ctx, kinds = _ctx(clients), _kinds([BUCKET])
            plan = await plan_stack(kinds, ctx, [BUCKET], OPTIONS)
            result = await reconcile_stack(
                kinds, ctx, [BUCKET], OPTIONS, write=True, classify=classify
            )
            return [f"{a.type.value} {a.key}" for a in plan.actions], result

    actions, result = asyncio.run(run())
    assert actions == ["create frontend_bucket/main"]
    assert result.execution is not None
    (report,) = result.execution.of(Outcome.FAILED)
    assert "is not this stack's" in report.message
    live = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=NAME)["TagSet"]}
    assert live == tags
    assert s3.get_object(Bucket=NAME, Key="index.html")["Body"].read() == b"theirs"
