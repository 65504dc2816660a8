"""A work queue keyed by stack, in the manner of client-go's rate-limited queue.

A key is processed by one worker at a time; adding a key that is being processed
marks it dirty so it runs again once done. Failures requeue with exponential
backoff and jitter; `forget` resets a key's backoff after a success.
"""

from __future__ import annotations

import asyncio
import random
import time


class WorkQueue:
    def __init__(self, base_delay: float = 1.0, max_delay: float = 300.0) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._processing: set[str] = set()
        self._dirty: set[str] = set()
        self._failures: dict[str, int] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._due: dict[str, float] = {}
        self._closed = False

    def add(self, key: str) -> None:
        if self._closed:
            return
        self._cancel_timer(key)
        if key in self._processing:
            self._dirty.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def add_after(self, key: str, delay: float) -> None:
        """Add `key` after `delay` seconds; an earlier pending time wins."""
        if self._closed:
            return
        if delay <= 0:
            self.add(key)
            return
        due = time.monotonic() + delay
        if key in self._timers and self._due[key] <= due:
            return
        self._cancel_timer(key)
        loop = asyncio.get_running_loop()
        self._due[key] = due
        self._timers[key] = loop.call_later(delay, self._fire, key)

    def add_rate_limited(self, key: str) -> float:
        """Requeue after an exponential, jittered backoff; returns the delay chosen."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        delay: float = min(self.max_delay, self.base_delay * 2.0**failures)
        delay *= random.uniform(0.8, 1.2)
        self.add_after(key, delay)
        return delay

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def failures(self, key: str) -> int:
        return self._failures.get(key, 0)

    def remove(self, key: str) -> None:
        """Drop pending timers and backoff for `key` (a queued entry is skipped when got)."""
        self._cancel_timer(key)
        self._failures.pop(key, None)
        self._dirty.discard(key)
        self._queued.discard(key)

    async def get(self) -> str:
        while True:
            key = await self._queue.get()
            if key not in self._queued:
                continue  # removed while waiting
            self._queued.discard(key)
            self._processing.add(key)
            return key

    def done(self, key: str) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)

    @property
    def in_flight(self) -> set[str]:
        return set(self._processing)

    @property
    def depth(self) -> int:
        """Keys ready and waiting for a worker (not those waiting out a backoff)."""
        return len(self._queued)

    def shut_down(self) -> None:
        self._closed = True
        for key in list(self._timers):
            self._cancel_timer(key)

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self._due.pop(key, None)
        self.add(key)

    def _cancel_timer(self, key: str) -> None:
        timer = self._timers.pop(key, None)
        self._due.pop(key, None)
        if timer is not None:
            timer.cancel()
