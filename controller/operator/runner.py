"""The operator process: startup -> loops -> shutdown.

Loops (each a named, guarded task): the spec poller, the optional SQS listener,
lease renewal, and N workers draining the per-stack work queue. The first SIGTERM
or SIGINT asks to stop (in-flight reconciles get `shutdown_grace` seconds, then
leases are released); a second one forces the exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import PurePosixPath
from typing import Any

from controller.aws import AwsClients, error_code
from controller.engine import KindContext, PlanOptions, plan_stack
from controller.operator import http, metrics
from controller.operator.config import OperatorConfig
from controller.operator.leases import LeaseManager
from controller.operator.logs import configure, get_logger
from controller.operator.reconciler import StackReconciler
from controller.operator.source import QueueListener, SpecEvent, SpecSource
from controller.operator.state import ResourceStatus, StackState
from controller.operator.status import fingerprint, status_doc, status_key, update_conditions
from controller.operator.workqueue import WorkQueue
from controller.stack import StackRunner

STATUS_CHECK_EVERY = 5
"""Unchanged status writes between two checks that the status object still exists."""


class Operator:
    def __init__(self, config: OperatorConfig, clients: AwsClients) -> None:
        self.config = config
        self.clients = clients
        self.log = get_logger(component="operator", identity=config.identity)
        self.stacks: dict[str, StackState] = {}
        self.names: dict[str, str] = {}
        """Spec object key -> stack name."""
        self.queue = WorkQueue(base_delay=1.0, max_delay=max(60.0, config.resync * 4))
        self.source = SpecSource(clients, config.bucket, config.norm_prefix, self.on_spec)
        self.leases = LeaseManager(clients, config.bucket, config.identity, config.lease_seconds)
        self.reconciler = StackReconciler(
            StackRunner(clients), config.resync, config.scaling_interval
        )
        self.stopping = asyncio.Event()
        self.dead: list[str] = []
        self.inflight: dict[str, asyncio.Task[float | None]] = {}
        self.revoked: set[str] = set()

    # ---- spec events -------------------------------------------------------------

    async def on_spec(self, event: SpecEvent) -> None:
        if event.kind == "removed":
            self._orphan(self.names.pop(event.key, None), event.key)
        elif event.kind == "invalid":
            self._invalid(event)
        elif event.loaded is not None:
            self._loaded(event)

    def _loaded(self, event: SpecEvent) -> None:
        loaded = event.loaded
        assert loaded is not None
        name = loaded.name
        previous = self.names.get(event.key)
        other = self.stacks.get(name)
        if other is not None and other.key != event.key and other.key in self.names:
            message = f"{event.key}: stack {name} is already defined by {other.key}"
            self.log.error("spec_invalid", stack=name, key=event.key, error=message)
            metrics.SPEC_ERRORS.labels(name).inc()
            return
        if previous is not None and previous != name:
            self._orphan(previous, event.key)
        self.names[event.key] = name
        state = self.stacks.setdefault(name, StackState(name, event.key))
        state.key, state.loaded, state.spec_error, state.orphaned = event.key, loaded, "", False
        body = loaded.spec.spec
        metrics.clear_stack(name, (metrics.SPEC_INFO, metrics.MODE, metrics.ORPHANED))
        metrics.SPEC_INFO.labels(name, loaded.version).set(1)
        metrics.SPEC_INVALID.labels(name).set(0)
        metrics.PAUSED.labels(name).set(1 if body.paused else 0)
        for mode in metrics.MODES:
            metrics.MODE.labels(name, mode).set(1 if body.mode == mode else 0)
        self.log.info(
            "spec_loaded",
            stack=name,
            key=event.key,
            version=loaded.version,
            mode=body.mode,
            paused=body.paused,
            teardown=body.teardown,
        )
        self.queue.add(name)

    def _invalid(self, event: SpecEvent) -> None:
        name = self.names.get(event.key) or PurePosixPath(event.key).stem
        state = self.stacks.setdefault(name, StackState(name, event.key))
        state.spec_error = str(event.error)
        metrics.SPEC_ERRORS.labels(name).inc()
        metrics.SPEC_INVALID.labels(name).set(1)
        issues = event.error.issues if event.error is not None else []
        for issue in issues:
            self.log.error(
                "spec_invalid",
                stack=name,
                key=event.key,
                file=issue.source,
                line=issue.line,
                column=issue.column,
                field=issue.path,
                error=issue.message,
                enforcing=state.loaded.version if state.loaded else None,
            )
        self.queue.add(name)

    def _orphan(self, name: str | None, key: str) -> None:
        state = self.stacks.get(name or "")
        if state is None or state.key != key:
            return
        state.orphaned = True
        self.log.warning("stack_orphaned", stack=state.name, key=key, detail="nothing deleted")
        metrics.clear_stack(state.name)
        metrics.ORPHANED.labels(state.name).set(1)
        self.queue.add(state.name)

    # ---- the work ----------------------------------------------------------------

    async def process(self, name: str) -> None:
        state = self.stacks.get(name)
        if state is None:
            return
        if state.orphaned:
            await self._retire(state)
            return
        held = await self.leases.ensure(name)
        self._set_lease(state, held)
        if not held:
            self.queue.add_after(name, self.leases.retry_in(name))
            return
        if state.loaded is None:  # only an invalid spec so far: report, enforce nothing
            update_conditions(state)
            await self.write_status(state)
            return
        write = state.writes_allowed and self.leases.holds(name)
        before = state.resources
        task = asyncio.create_task(self.reconciler.reconcile(state, write))
        self.inflight[name] = task
        try:
            delay = await task
        except asyncio.CancelledError:
            if name not in self.revoked:
                raise
            self.revoked.discard(name)
            metrics.RECONCILES.labels(name, "skipped").inc()
            self.log.warning("reconcile_abandoned", stack=name, reason="lease lost")
            self.queue.add_after(name, self.leases.retry_in(name))
            return
        finally:
            self.inflight.pop(name, None)
        _note_observation(state, before)
        update_conditions(state)
        await self.write_status(state)
        if delay is None:
            backoff = self.queue.add_rate_limited(name)
            self.log.info("requeued", stack=name, after=round(backoff, 2), reason="error")
        else:
            self.queue.forget(name)
            self.queue.add_after(name, delay)

    async def _retire(self, state: StackState) -> None:
        if self.leases.holds(state.name):
            update_conditions(state)
            await self.write_status(state)
            await self.leases.release(state.name)
        self._set_lease(state, False)
        metrics.clear_stack(state.name)
        metrics.ORPHANED.labels(state.name).set(1)

    def _set_lease(self, state: StackState, held: bool) -> None:
        holder, problem = self.leases.holder(state.name), self.leases.problem(state.name)
        if (state.lease_held, state.lease_holder, state.lease_problem) != (held, holder, problem):
            self.log.info("lease_state", stack=state.name, held=held, holder=holder)
        state.lease_held = held
        state.lease_holder, state.lease_problem = holder, problem
        if not state.orphaned:
            metrics.LEASE_HELD.labels(state.name).set(1 if held else 0)

    async def write_status(self, state: StackState) -> None:
        """Put status/<stack>.json when it changed or is gone (only the lease holder
        writes). Whether it is gone costs one HeadObject every STATUS_CHECK_EVERY
        unchanged writes, i.e. every few resyncs, not one call per reconcile."""
        if not self.leases.holds(state.name):
            return
        doc = status_doc(state, self.config.identity)
        mark = fingerprint(doc)
        if mark == state.written and not await self._status_gone(state):
            return
        s3 = await self.clients.client("s3")
        try:
            reply = await s3.put_object(
                Bucket=self.config.bucket,
                Key=status_key(state.name),
                Body=json.dumps(doc, indent=2).encode(),
                ContentType="application/json",
            )
            state.written, state.status_etag = mark, str(reply.get("ETag", ""))
            state.status_unchanged = 0
        except Exception as exc:
            self.log.warning("status_write_failed", stack=state.name, error=str(exc))

    async def _status_gone(self, state: StackState) -> bool:
        """True when the status object written last was deleted or overwritten since."""
        state.status_unchanged += 1
        if state.status_unchanged < STATUS_CHECK_EVERY or not state.status_etag:
            return False
        state.status_unchanged = 0
        s3 = await self.clients.client("s3")
        key = status_key(state.name)
        try:
            await s3.head_object(Bucket=self.config.bucket, Key=key, IfMatch=state.status_etag)
            return False
        except Exception as exc:
            code = error_code(exc)
            if code not in ("404", "NoSuchKey", "412", "PreconditionFailed"):
                self.log.warning("status_check_failed", stack=state.name, error=str(exc))
                return False
            gone = "deleted" if code in ("404", "NoSuchKey") else "overwritten"
            self.log.warning("status_rewritten", stack=state.name, key=key, reason=gone)
            return True

    # ---- loops -------------------------------------------------------------------

    async def worker(self) -> None:
        while True:
            name = await self.queue.get()
            try:
                await self.process(name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one failing stack must not stop the others
                self.log.exception("process_failed", stack=name, error=str(exc))
                self.queue.add_rate_limited(name)
            finally:
                self.queue.done(name)

    async def lease_loop(self) -> None:
        """Renew every lease_seconds/4; between renewals, drop expired leases promptly."""
        renew_every = self.config.lease_seconds / 4
        tick = min(0.5, renew_every / 2)
        renewing: asyncio.Task[None] | None = None
        next_renew = time.monotonic() + renew_every
        while not self.stopping.is_set():
            await asyncio.sleep(tick)
            if time.monotonic() >= next_renew and (renewing is None or renewing.done()):
                next_renew = time.monotonic() + renew_every
                renewing = asyncio.create_task(self.leases.renew_all())
            self.leases.expire()
            for state in self.stacks.values():
                if state.lease_held and not self.leases.holds(state.name):
                    self._revoke(state)

    def _revoke(self, state: StackState) -> None:
        """Lease lost: stop writing for the stack now (cancel its in-flight reconcile)."""
        self._set_lease(state, False)
        task = self.inflight.get(state.name)
        if task is not None and not task.done():
            self.revoked.add(state.name)
            task.cancel()
        self.queue.add(state.name)

    def status(self, stack: str | None) -> dict[str, Any]:
        docs = []
        for state in sorted(self.stacks.values(), key=lambda s: s.name):
            if stack and state.name != stack:
                continue
            update_conditions(state)
            docs.append(status_doc(state, self.config.identity))
        return {"identity": self.config.identity, "stacks": docs}

    def healthy(self) -> tuple[bool, str]:
        if self.dead:
            return False, "dead loops: " + ", ".join(self.dead)
        return True, "ok"

    def ready(self) -> tuple[bool, str]:
        if self.source.last_error:  # before "not loaded yet": the first listing may fail
            return False, _listing_problem(self.config.bucket, self.source.last_error)
        if self.source.polls == 0:
            return False, "specs not loaded yet"
        stale = self.source.stale_for()
        if stale > self.config.ready_stale_after:
            return False, f"AWS not reachable: no spec listing succeeded for {stale:.0f}s"
        return True, f"ok: {len(self.stacks)} stack(s)"

    async def warm_up(self) -> None:
        """Create every kind's AWS client now (no API call), not in the first reconcile."""
        services = {kind.service for kind in self.reconciler.runner.kinds.values()}
        services |= {"s3", "sqs"} if self.config.queue_url else {"s3"}

        async def one(service: str) -> None:
            # a kind's `service` is its IAM prefix, not always a client name: best effort
            with contextlib.suppress(Exception):
                await self.clients.client(service)

        await asyncio.gather(*(one(s) for s in sorted(services)))

    async def warm_observe(self) -> None:
        """One read-only observe of an empty stack, so every client's first-call cost
        (models, endpoint rules, connections: ~2 s together) is not paid by the first
        reconcile of a pushed spec."""
        started = time.monotonic()
        ctx = KindContext(stack="stackop-warm-up", spec_version="0", clients=self.clients)
        try:
            await plan_stack(self.reconciler.runner.kinds, ctx, [], PlanOptions())
        except Exception as exc:
            self.log.warning("warm_up_failed", error=str(exc))
            return
        self.log.info("warmed_up", elapsed=round(time.monotonic() - started, 3))

    def guarded(self, name: str, factory: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        async def run() -> None:
            try:
                await factory()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.dead.append(name)
                self.log.exception("loop_died", loop=name, error=str(exc))

        return asyncio.create_task(run(), name=name)

    async def run(self) -> None:
        cfg = self.config
        app = http.make_app(self.status, self.healthy, self.ready)
        site = await http.start(app, cfg.host, cfg.port)
        await self.warm_up()
        await self.warm_observe()
        self.log.info(
            "operator_started",
            bucket=cfg.bucket,
            prefix=cfg.norm_prefix,
            port=cfg.port,
            resync=cfg.resync,
            poll=cfg.poll,
            lease_seconds=cfg.lease_seconds,
            queue_url=cfg.queue_url,
        )
        loops = [
            self.guarded("source", lambda: self.source.run(cfg.poll, self.stopping)),
            self.guarded("leases", self.lease_loop),
        ]
        if cfg.queue_url:
            listener = QueueListener(self.clients, cfg.queue_url, self.source)
            loops.append(self.guarded("queue", lambda: listener.run(self.stopping)))
        workers = [self.guarded(f"worker-{i}", self.worker) for i in range(cfg.workers)]
        await self.stopping.wait()
        await self.shutdown(loops, workers, site)

    async def shutdown(
        self, loops: list[asyncio.Task[None]], workers: list[asyncio.Task[None]], site: Any
    ) -> None:
        started = time.monotonic()
        self.log.info("shutdown_started", in_flight=sorted(self.queue.in_flight))
        self.queue.shut_down()
        for task in loops:  # lease renewal goes on while in-flight reconciles finish
            if task.get_name() != "leases":
                task.cancel()
        deadline = started + self.config.shutdown_grace
        while self.queue.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        abandoned = sorted(self.queue.in_flight)
        for task in [*workers, *loops]:
            task.cancel()
        await asyncio.gather(*loops, *workers, return_exceptions=True)
        held = sorted(self.leases.held)
        await self.leases.release_all()
        for name in held:
            metrics.LEASE_HELD.labels(name).set(0)
        await site.cleanup()
        self.log.info(
            "shutdown_done",
            released=held,
            abandoned=abandoned,
            elapsed=round(time.monotonic() - started, 3),
        )


def _note_observation(state: StackState, before: list[ResourceStatus]) -> None:
    """After a reconcile: did it observe (new resources), or end before it could?"""
    state.observe_failed = state.resources is before and bool(state.last_error)
    if not state.observe_failed and state.resources is not before:
        state.observed_at = state.last_reconcile


def _listing_problem(bucket: str, error: str) -> str:
    """/readyz's reason when the spec listing fails, naming the bucket when it is the cause."""
    if "NoSuchBucket" in error:
        return f"spec bucket {bucket} does not exist (NoSuchBucket)"
    if "AccessDenied" in error:
        return f"no access to spec bucket {bucket} (AccessDenied): {error}"
    return f"AWS not reachable: {error}"


async def _main(config: OperatorConfig) -> int:
    loop = asyncio.get_running_loop()
    async with AwsClients(config.region, config.endpoint_url) as clients:
        operator = Operator(config, clients)
        signals = 0

        def on_signal(sig: signal.Signals) -> None:
            nonlocal signals
            signals += 1
            if signals > 1:
                operator.log.warning("forced_exit", signal=sig.name)
                os._exit(1)
            operator.log.info("signal", signal=sig.name)
            operator.stopping.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal, sig)
        await operator.run()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(clients.close(), timeout=3.0)
    return 0


def run_operator(config: OperatorConfig) -> int:
    configure()
    return asyncio.run(_main(config))
