"""The per-stack work queue: one reconcile per key at a time, re-adds, backoff with jitter.

Pure asyncio (no AWS): the queue is domain-free.
"""

from __future__ import annotations

import asyncio

from controller.operator.workqueue import WorkQueue


def test_a_key_is_processed_once_at_a_time_and_rerun_when_added_meanwhile() -> None:
    async def scenario() -> list[str]:
        queue = WorkQueue()
        queue.add("a")
        queue.add("a")  # already queued: one entry
        queue.add("b")
        first = await queue.get()
        queue.add(first)  # added while processing: runs again after done()
        second = await queue.get()
        assert second != first
        queue.done(second)
        queue.done(first)
        third = await queue.get()
        queue.done(third)
        assert queue._queue.empty()
        return [first, second, third]

    assert asyncio.run(scenario()) == ["a", "b", "a"]


def test_backoff_grows_exponentially_with_jitter_and_forget_resets_it() -> None:
    async def scenario() -> tuple[list[float], float]:
        queue = WorkQueue(base_delay=1.0, max_delay=10.0)
        delays = [queue.add_rate_limited("a") for _ in range(6)]
        queue.forget("a")
        again = queue.add_rate_limited("a")
        queue.shut_down()
        return delays, again

    delays, again = asyncio.run(scenario())
    for n, delay in enumerate(delays):
        expected = min(10.0, 2.0**n)
        assert 0.8 * expected <= delay <= 1.2 * expected
    assert 0.8 <= again <= 1.2


def test_add_after_keeps_the_earliest_time() -> None:
    async def scenario() -> str:
        queue = WorkQueue()
        queue.add_after("a", 5.0)
        queue.add_after("a", 0.05)  # earlier wins
        queue.add_after("a", 3.0)  # later: ignored
        return await asyncio.wait_for(queue.get(), timeout=1.0)

    assert asyncio.run(scenario()) == "a"
