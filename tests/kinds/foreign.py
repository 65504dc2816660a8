"""A resource under the stack's naming prefix that is not ours, observed by a new process.

The tagging API returns only resources with our stack tag, so such a candidate is read
alone (ListTagsForResource) and, not carrying our tags, never counted as the stack's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from controller.aws import AwsClients
from controller.engine import Kind, KindContext, Resolved
from tests.kinds.compute_desired import STACK


def observe_fresh(endpoint: str, kind: Kind, desired: Sequence[Resolved]) -> tuple[int, list[str]]:
    """(resources found, operations called) of one observe by a new kind instance."""

    async def run() -> tuple[int, list[str]]:
        async with AwsClients(endpoint_url=endpoint) as clients:
            ctx = KindContext(STACK, "v1", clients)
            found = await kind.observe(ctx, desired)
            return len(found), [c.operation for c in clients.recorder.calls]

    return asyncio.run(run())
