"""The metrics contract of DESIGN.md: every metric the operator serves."""

from __future__ import annotations

from typing import Protocol

from prometheus_client import Counter, Gauge, Histogram

from controller.aws.calls import count_calls_with

AWS_API_CALLS = Counter(
    "stackop_aws_api_calls_total",
    "AWS API calls by service, operation and outcome (each HTTP attempt counts).",
    ["service", "operation", "outcome"],
)
count_calls_with(lambda *labels: AWS_API_CALLS.labels(*labels).inc())

STATES = ("in_sync", "drifted", "missing", "pending", "failed")
MODES = ("enforce", "observe")

RESOURCES = Gauge("stackop_resources", "Resources by state.", ["stack", "kind", "state"])
DRIFTED = Gauge(
    "stackop_drifted_resources", "Resources that differ from the spec.", ["stack", "kind"]
)
DRIFT_DETECTED = Counter(
    "stackop_drift_detected_total", "Drifted resources found by a reconcile.", ["stack", "kind"]
)
DRIFT_CORRECTED = Counter(
    "stackop_drift_corrected_total", "Drifted resources put back by an update.", ["stack", "kind"]
)
DRIFTED_FIELDS = Gauge(
    "stackop_drifted_fields",
    "1 per drifted field.",
    ["stack", "kind", "resource", "field"],
)
RECONCILES = Counter("stackop_reconcile_total", "Reconciles by result.", ["stack", "result"])
RECONCILE_SECONDS = Histogram(
    "stackop_reconcile_duration_seconds",
    "Wall time of one reconcile (observe, plan, execute).",
    ["stack"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
ACTIONS = Counter(
    "stackop_actions_total", "Writes carried out.", ["stack", "kind", "action", "result"]
)
ACTIONS_HELD = Gauge(
    "stackop_actions_held", "Actions held by a safety rule (e.g. mass deletion).", ["stack"]
)
SPEC_INFO = Gauge("stackop_spec_info", "The spec version being enforced.", ["stack", "version"])
SPEC_ERRORS = Counter("stackop_spec_errors_total", "Invalid specs rejected.", ["stack"])
SPEC_INVALID = Gauge("stackop_spec_invalid", "1 while the latest spec is invalid.", ["stack"])
LAST_SUCCESS = Gauge(
    "stackop_last_success_timestamp_seconds", "Last reconcile that succeeded.", ["stack"]
)
PAUSED = Gauge("stackop_stack_paused", "1 when spec.paused stops all writes.", ["stack"])
MODE = Gauge("stackop_stack_mode", "1 for the stack's current mode.", ["stack", "mode"])
LEASE_HELD = Gauge("stackop_lease_held", "1 when this process holds the stack's lease.", ["stack"])
ORPHANED = Gauge("stackop_stack_orphaned", "1 when the spec object was removed.", ["stack"])

SERVICE_DESIRED = Gauge("stackop_service_desired_tasks", "Desired tasks.", ["stack", "service"])
SERVICE_RUNNING = Gauge("stackop_service_running_tasks", "Running tasks.", ["stack", "service"])
SERVICE_PENDING = Gauge("stackop_service_pending_tasks", "Pending tasks.", ["stack", "service"])
SERVICE_MIN = Gauge("stackop_service_min_tasks", "Autoscaling minimum.", ["stack", "service"])
SERVICE_MAX = Gauge("stackop_service_max_tasks", "Autoscaling maximum.", ["stack", "service"])
SERVICE_CPU = Gauge(
    "stackop_service_cpu_utilization", "Average CPU, percent.", ["stack", "service"]
)
SERVICE_MEMORY = Gauge(
    "stackop_service_memory_utilization", "Average memory, percent.", ["stack", "service"]
)
TARGET_HEALTHY = Gauge("stackop_target_healthy", "Healthy targets.", ["stack", "service"])
TARGET_UNHEALTHY = Gauge("stackop_target_unhealthy", "Unhealthy targets.", ["stack", "service"])

SERVICE_GAUGES = (
    SERVICE_DESIRED,
    SERVICE_RUNNING,
    SERVICE_PENDING,
    SERVICE_MIN,
    SERVICE_MAX,
    SERVICE_CPU,
    SERVICE_MEMORY,
    TARGET_HEALTHY,
    TARGET_UNHEALTHY,
)
PER_STACK_GAUGES = (
    RESOURCES,
    DRIFTED,
    DRIFTED_FIELDS,
    ACTIONS_HELD,
    SPEC_INFO,
    SPEC_INVALID,
    PAUSED,
    MODE,
    LEASE_HELD,
    *SERVICE_GAUGES,
)


QUEUE_DEPTH = Gauge(
    "stackop_workqueue_depth", "Stacks queued and waiting for a worker (backoffs excluded)."
)
IN_FLIGHT = Gauge("stackop_reconciles_in_flight", "Reconciles running now.")


class QueueView(Protocol):
    @property
    def depth(self) -> int: ...
    @property
    def in_flight(self) -> set[str]: ...


def track_queue(queue: QueueView) -> None:
    """Read the work queue's depth and in-flight count at every scrape."""
    QUEUE_DEPTH.set_function(lambda: queue.depth)
    IN_FLIGHT.set_function(lambda: len(queue.in_flight))


DRIFT_EVENTS = Counter(
    "stackop_drift_events_total",
    "CloudTrail change events received, by stack and what was done with them "
    "(reconcile; own: made by the operator's own principal; unmatched: no stack's).",
    ["stack", "result"],
)
DRIFT_CORRECTED_AT = Gauge(
    "stackop_drift_last_corrected_timestamp_seconds",
    "When the latest drift of a field was corrected, and who had changed it "
    "(principal and event name from CloudTrail, empty when no event matched).",
    ["stack", "kind", "resource", "field", "principal", "event"],
)


def clear_stack(stack: str, gauges: tuple[Gauge, ...] = PER_STACK_GAUGES) -> None:
    """Remove every gauge series of `stack` (before re-setting them, or when it goes away)."""
    for gauge in gauges:
        gauge.remove_by_labels({"stack": stack})
