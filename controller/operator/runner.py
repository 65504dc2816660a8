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
from typing import Any

from controller.aws import AwsClients, error_code
from controller.engine import KindContext, PlanOptions, plan_stack
from controller.operator import http, metrics
from controller.operator.config import OperatorConfig
from controller.operator.drift_events import DriftEvents
from controller.operator.identity import (
    Claim,
    KeyContent,
    Recorded,
    claims,
    conflict_message,
    delete_phantom_status,
    managed_keys,
    phantom_name,
    read_applied,
    read_recorded,
    read_status_doc,
    rename_message,
)
from controller.operator.leases import LeaseManager
from controller.operator.logs import configure, get_logger
from controller.operator.reconciler import StackReconciler
from controller.operator.source import QueueListener, SpecEvent, SpecSource
from controller.operator.state import ResourceStatus, StackState
from controller.operator.status import (
    MEMORY_REFRESH,
    fingerprint,
    status_doc,
    status_key,
    update_conditions,
)
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
        """Spec object key -> the stack it manages (applied, or holding it for a rename)."""
        self.contents: dict[str, KeyContent] = {}
        """Spec object key -> its latest content (valid spec or error)."""
        self.fresh: set[str] = set()
        """Keys whose content changed since the last `settle`."""
        self.recorded: dict[str, Recorded] | None = None
        """status/<stack>.json as read at start-up (None until read)."""
        self.recovery_tried: set[str] = set()
        """Stacks whose last applied spec was looked for in the bucket's versions."""
        self.queue = WorkQueue(base_delay=1.0, max_delay=max(60.0, config.resync * 4))
        metrics.track_queue(self.queue)
        self.source = SpecSource(
            clients, config.bucket, config.norm_prefix, self.on_spec, self.settle
        )
        self.leases = LeaseManager(clients, config.bucket, config.identity, config.lease_seconds)
        self.reconciler = StackReconciler(
            StackRunner(clients), config.resync, config.scaling_interval
        )
        self.stopping = asyncio.Event()
        self.dead: list[str] = []
        self.inflight: dict[str, asyncio.Task[float | None]] = {}
        self.revoked: set[str] = set()
        self.drift_events: DriftEvents | None = None
        """CloudTrail change events (with a queue): who changed which stack."""

    # ---- spec events -------------------------------------------------------------

    async def on_spec(self, event: SpecEvent) -> None:
        """Record the object's latest content; `settle` decides once the listing is read."""
        if event.kind == "removed":
            self.contents.pop(event.key, None)
        else:
            self.contents[event.key] = KeyContent(event.key, event.loaded, event.error)
        self.fresh.add(event.key)

    async def settle(self) -> None:
        """Decide from every spec object at once which key defines which stack, and act on
        what changed (nothing is queued when nothing changed)."""
        if self.recorded is None:
            try:
                self.recorded = await read_recorded(self.clients, self.config.bucket)
            except Exception as exc:  # decided on the next poll: never without the records
                self.log.error("status_read_failed", error=str(exc), detail="specs wait")
                return
            for key, stack in managed_keys(self.recorded.values()).items():
                self.names.setdefault(key, stack)
            await self._drop_stale_phantoms()
        # a key listed but not read yet (a failed fetch, retried) keeps its stack
        gone = [k for k in self.names if k not in self.contents and k not in self.source.listed]
        for key in gone:
            del self.names[key]
        await self._refresh_renamed()
        by_stack, phantoms = claims(self.contents, self.names, self._renamable)
        await self._recover(by_stack)
        real = {s.name for s in self.stacks.values() if not s.phantom}
        for name in sorted(set(by_stack) | real):
            self._settle_stack(name, by_stack.get(name, []))
        recorded = {r.stack for r in self.recorded.values() if not r.phantom}
        self._settle_phantoms(phantoms, set(by_stack) | real | recorded)
        self.fresh.clear()

    async def _drop_stale_phantoms(self) -> None:
        """Status documents of phantoms whose object went while no operator ran."""
        assert self.recorded is not None
        for record in list(self.recorded.values()):
            if record.phantom and record.key not in self.contents:
                bucket = self.config.bucket
                with contextlib.suppress(Exception):
                    if await delete_phantom_status(self.clients, bucket, record.stack, record.key):
                        self.log.info("phantom_dropped", stack=record.stack, key=record.key)
                del self.recorded[record.stack]

    async def _recover(self, by_stack: dict[str, list[Claim]]) -> None:
        """A stack no object can be applied to now (conflict, held rename, invalid) keeps
        the spec its status document says was last applied, also in a process that never
        applied it (a fresh standby, a restart): every process enforces the same spec."""
        assert self.recorded is not None
        for name, found in sorted(by_stack.items()):
            if (len(found) == 1 and found[0].kind == "apply") or name in self.recovery_tried:
                continue
            state = self.stacks.get(name)
            if state is not None and not state.phantom and state.loaded is not None:
                continue
            record = self.recorded.get(name)
            if record is None:
                continue
            try:
                loaded = await read_applied(self.clients, self.config.bucket, record)
            except Exception as exc:
                self.log.warning("spec_recover_failed", stack=name, error=str(exc))
                loaded = None
            self.recovery_tried.add(name)
            if loaded is None:
                continue
            state = self._real_state(name, found)
            state.loaded = loaded
            metrics.SPEC_INFO.labels(name, loaded.version).set(1)
            self.log.info("spec_recovered", stack=name, key=record.key, version=loaded.version)
            self.queue.add(name)

    async def _refresh_renamed(self) -> None:
        """Re-read status/<old>.json of a stack a key wants to rename away from, unless this
        process reconciles it itself: its holder records a finished teardown there."""
        assert self.recorded is not None
        for key, content in sorted(self.contents.items()):
            old = self.names.get(key)
            if content.loaded is None or old is None or old == content.loaded.name:
                continue
            state = self.stacks.get(old)
            if state is not None and state.reconciled_once and self.leases.holds(old):
                continue
            try:
                record = await read_status_doc(self.clients, self.config.bucket, old)
            except Exception as exc:
                self.log.warning("status_read_failed", stack=old, error=str(exc))
                continue
            if record is None:
                self.recorded.pop(old, None)
            else:
                self.recorded[old] = record

    def _renamable(self, old: str) -> bool:
        """May the key that manages `old` name another stack without holding the rename?"""
        assert self.recorded is not None
        state = self.stacks.get(old)
        record = self.recorded.get(old)
        if state is not None and not state.phantom:
            if state.orphaned:
                return True
            if state.reconciled_once and self.leases.holds(old):
                return _torn_down(state)
            return record is not None and (record.orphaned or record.torn_down)
        return record is None or record.orphaned or record.torn_down

    def _settle_stack(self, name: str, found: list[Claim]) -> None:
        if not found:
            state = self.stacks.get(name)
            if state is not None and not state.phantom and not state.orphaned:
                self._orphan(state)
            return
        state = self._real_state(name, found)
        if len(found) > 1:
            self._conflict(state, found)
        elif found[0].kind == "apply":
            self._loaded(state, found[0])
        elif found[0].kind == "invalid":
            self._invalid(state, found[0])
        else:
            self._held(state, found[0])

    def _real_state(self, name: str, found: list[Claim]) -> StackState:
        state = self.stacks.get(name)
        if state is not None and not state.phantom:
            return state
        if state is not None:  # a phantom under a name a real stack now has: it moves
            metrics.clear_stack(name)
        managing = [c.key for c in found if self.names.get(c.key) == name]
        state = StackState(name, (managing or [found[0].key])[0])
        record = (self.recorded or {}).get(name)
        state.history = list(record.history) if record is not None else []
        self.stacks[name] = state
        return state

    def _loaded(self, state: StackState, claim: Claim) -> None:
        loaded = claim.content.loaded
        assert loaded is not None
        name = state.name
        previous = self.names.get(claim.key)
        self.names[claim.key] = name
        if previous is not None and previous != name:
            self._renamed(previous, claim)
        unchanged = state.loaded is loaded and state.key == claim.key
        if unchanged and not (state.orphaned or state.conflict or state.spec_error):
            return
        state.key, state.loaded, state.spec_error, state.orphaned = claim.key, loaded, "", False
        state.conflict = state.conflict_reason = ""
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
            key=claim.key,
            version=loaded.version,
            mode=body.mode,
            paused=body.paused,
            teardown=body.teardown,
        )
        self.queue.add(name)

    def _renamed(self, old: str, claim: Claim) -> None:
        """A rename that may go on: the old stack is orphaned (nothing deleted)."""
        assert claim.content.loaded is not None
        allowed = claim.content.loaded.spec.spec.safety.allow_rename
        self.log.warning(
            "stack_renamed",
            stack=claim.stack,
            previous=old,
            key=claim.key,
            reason="allowRename" if allowed else f"{old} is torn down or orphaned",
            detail=f"{old} orphaned; nothing deleted",
        )
        if old not in self.stacks:  # known from its status document only: record the orphan
            self.stacks[old] = StackState(old, claim.key, orphaned=True)
            self.queue.add(old)

    def _invalid(self, state: StackState, claim: Claim) -> None:
        """The key that manages the stack is invalid now: report, keep the last valid spec."""
        error = claim.content.error
        message = str(error)
        if state.spec_error == message and not state.conflict and claim.key not in self.fresh:
            return
        state.spec_error, state.orphaned = message, False
        state.conflict = state.conflict_reason = ""
        self._report_invalid(state, claim.content)
        self.queue.add(state.name)

    def _report_invalid(self, state: StackState, content: KeyContent) -> None:
        metrics.SPEC_ERRORS.labels(state.name).inc()
        metrics.SPEC_INVALID.labels(state.name).set(1)
        for issue in content.error.issues if content.error is not None else []:
            self.log.error(
                "spec_invalid",
                stack=state.name,
                key=content.key,
                file=issue.source,
                line=issue.line,
                column=issue.column,
                field=issue.path,
                error=issue.message,
                enforcing=state.loaded.version if state.loaded else None,
            )

    def _conflict(self, state: StackState, found: list[Claim]) -> None:
        """Several keys name the stack: none is applied; the last applied spec stays."""
        enforcing = state.loaded.version if state.loaded and not state.orphaned else None
        message = conflict_message(state.name, found, enforcing)
        fresh = any(c.key in self.fresh for c in found)
        if state.conflict == message and not fresh:
            return
        state.conflict, state.conflict_reason, state.spec_error = message, "DuplicateName", ""
        metrics.SPEC_ERRORS.labels(state.name).inc()
        metrics.SPEC_INVALID.labels(state.name).set(1)
        self.log.error(
            "spec_conflict",
            stack=state.name,
            keys=[c.key for c in found],
            enforcing=enforcing,
            error=message,
        )
        self.queue.add(state.name)

    def _held(self, state: StackState, claim: Claim) -> None:
        """The key that manages the stack names another one: hold the rename."""
        count = len(state.resources) if state.reconciled_once else None
        record = self.recorded.get(state.name) if self.recorded else None
        if count is None and record is not None:
            count = record.resources
        message = rename_message(state.name, claim.renamed_to, count)
        if state.conflict == message and claim.key not in self.fresh:
            return
        state.conflict, state.conflict_reason, state.spec_error = message, "RenameHeld", ""
        state.orphaned = False
        metrics.SPEC_ERRORS.labels(state.name).inc()
        metrics.SPEC_INVALID.labels(state.name).set(1)
        self.log.error("rename_held", stack=state.name, key=claim.key, error=message)
        self.queue.add(state.name)

    def _orphan(self, state: StackState) -> None:
        state.orphaned = True
        state.conflict = state.conflict_reason = ""  # no object names it any more
        self.log.warning(
            "stack_orphaned", stack=state.name, key=state.key, detail="nothing deleted"
        )
        metrics.clear_stack(state.name)
        metrics.ORPHANED.labels(state.name).set(1)
        self.queue.add(state.name)

    def _settle_phantoms(self, phantoms: list[KeyContent], taken: set[str]) -> None:
        """Invalid keys that never defined a stack: one entry each, named apart."""
        wanted = {c.key for c in phantoms}
        current = {s.key: s for s in self.stacks.values() if s.phantom and not s.orphaned}
        for key, state in current.items():
            if key not in wanted:  # removed, or it defines a stack now
                state.orphaned = True
                self.queue.add(state.name)
        for content in phantoms:
            known = current.get(content.key)
            message = str(content.error)
            if known is None or self.stacks.get(known.name) is not known:
                name = phantom_name(content.key, taken | set(self.stacks))
                known = StackState(name, content.key, phantom=True)
                self.stacks[name] = known
            elif known.spec_error == message and content.key not in self.fresh:
                continue
            known.spec_error = message
            self._report_invalid(known, content)
            self.queue.add(known.name)

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
        if state.phantom:
            await self._drop_phantom(state)
            return
        record_only = not state.reconciled_once and state.loaded is None
        if self.leases.holds(state.name) or (record_only and await self.leases.ensure(state.name)):
            update_conditions(state)
            await self.write_status(state)
            await self.leases.release(state.name)
        self._set_lease(state, False)
        metrics.clear_stack(state.name)
        metrics.ORPHANED.labels(state.name).set(1)

    async def _drop_phantom(self, state: StackState) -> None:
        """A phantom's object is gone: forget it, release its lease, delete its status
        document (only a phantom's own, checked before deleting)."""
        if self.stacks.get(state.name) is not state:
            return  # its name was reused meanwhile: nothing of it is left to drop
        del self.stacks[state.name]
        if self.leases.holds(state.name):
            await delete_phantom_status(self.clients, self.config.bucket, state.name, state.key)
            await self.leases.release(state.name)
        state.lease_held = False
        metrics.clear_stack(state.name)
        self.log.info("phantom_dropped", stack=state.name, key=state.key)

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
        memory = self.reconciler.runner.remember(state.name) if state.lease_held else {}
        doc = status_doc(state, self.config.identity, memory)
        mark = fingerprint(doc)
        memory_due = bool(memory) and (
            state.memory_written_at is None
            or time.monotonic() - state.memory_written_at > MEMORY_REFRESH
        )
        if mark == state.written and not memory_due and not await self._status_gone(state):
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
            if memory:
                state.memory_written_at = time.monotonic()
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
            self.drift_events = DriftEvents(
                self.clients, self._physical_ids, self.queue.add, self.reconciler.runner.forget
            )
            self.reconciler.who = self.drift_events.who
            listener = QueueListener(
                self.clients, cfg.queue_url, self.source, self.drift_events.handle_body
            )
            loops.append(self.guarded("queue", lambda: listener.run(self.stopping)))
        workers = [self.guarded(f"worker-{i}", self.worker) for i in range(cfg.workers)]
        await self.stopping.wait()
        await self.shutdown(loops, workers, site)

    def _physical_ids(self) -> dict[str, list[str]]:
        """Per managed stack, the physical ids it last observed (for change events)."""
        return {
            name: [r.physical_id for r in state.resources if r.physical_id]
            for name, state in self.stacks.items()
            if state.loaded is not None and not state.orphaned and not state.phantom
        }

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


def _torn_down(state: StackState) -> bool:
    """A teardown spec reconciled here without error, and nothing but retained data left."""
    loaded = state.loaded
    if loaded is None or not loaded.spec.spec.teardown or state.last_error:
        return False
    return state.reconciled_once and all(r.state == "retained" for r in state.resources)


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
