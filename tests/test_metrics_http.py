"""/metrics is prometheus_client's own aiohttp handler; the work queue is exported; stale
series go through prometheus_client's public removal API."""

from __future__ import annotations

import asyncio
import inspect
import urllib.request
from pathlib import Path

from prometheus_client import REGISTRY

from controller.operator import metrics
from controller.operator.workqueue import WorkQueue
from tests.operator_harness import Operator, make_bucket, stop_all


def test_metrics_negotiates_openmetrics_and_exports_the_work_queue(
    endpoint: str, tmp_path: Path
) -> None:
    make_bucket(endpoint, "metrics")
    op = Operator(endpoint, "metrics", tmp_path).start()
    try:
        url = f"http://127.0.0.1:{op.port}/metrics"
        request = urllib.request.Request(url, headers={"Accept": "application/openmetrics-text"})
        with urllib.request.urlopen(request, timeout=5) as resp:
            body = resp.read().decode()
            assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
        assert body.rstrip().endswith(
            "# EOF"
        )  # OpenMetrics, which only the library's handler offers
        plain = op.get("/metrics")
        for name in ("stackop_workqueue_depth", "stackop_reconciles_in_flight"):
            assert f"# TYPE {name} gauge" in plain
            assert any(line.startswith(f"{name} ") for line in plain.splitlines()), name
    finally:
        stop_all([op])


def test_queue_gauges_follow_the_queue() -> None:
    async def scenario() -> tuple[float | None, float | None, float | None]:
        queue = WorkQueue()
        metrics.track_queue(queue)
        queue.add("a")
        queue.add("b")
        depth = REGISTRY.get_sample_value("stackop_workqueue_depth")
        await queue.get()
        return (
            depth,
            REGISTRY.get_sample_value("stackop_workqueue_depth"),
            REGISTRY.get_sample_value("stackop_reconciles_in_flight"),
        )

    assert asyncio.run(scenario()) == (2.0, 1.0, 1.0)


def test_clear_stack_removes_only_that_stacks_series_by_public_api() -> None:
    metrics.RESOURCES.labels("gone", "vpc", "in_sync").set(1)
    metrics.RESOURCES.labels("kept", "vpc", "in_sync").set(2)
    metrics.LEASE_HELD.labels("gone").set(1)
    metrics.clear_stack("gone")
    value = REGISTRY.get_sample_value
    assert value("stackop_resources", {"stack": "gone", "kind": "vpc", "state": "in_sync"}) is None
    assert value("stackop_lease_held", {"stack": "gone"}) is None
    assert value("stackop_resources", {"stack": "kept", "kind": "vpc", "state": "in_sync"}) == 2
    metrics.clear_stack("kept")
    source = inspect.getsource(metrics)
    assert "._metrics" not in source and "._lock" not in source  # no private attributes
