"""The engine on its own, with an in-memory kind (no cloud involved): diff, plan, DAG order.

These pin the engine's generic behaviour; every cloud kind is tested against moto.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest

from controller.engine import (
    ActionType,
    Delta,
    DesiredResource,
    Kind,
    KindContext,
    Observed,
    Outcome,
    PlanOptions,
    Ref,
    Resolved,
    Terminal,
    make_plan,
    reconcile_stack,
)
from controller.engine.diff import diff
from controller.engine.resource import UNKNOWN


class Store:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.log: list[str] = []
        self.fail: set[str] = set()
        self.not_ready: set[str] = set()
        self.delay: dict[str, float] = {}
        self.running = 0
        self.peak = 0


class MemoryKind(Kind):
    """A kind whose "cloud" is a dict; ids are kind/logical-id."""

    service = "memory"
    iam_actions = ()
    unordered_fields: ClassVar[frozenset[str]] = frozenset({"members"})

    def __init__(self, name: str, store: Store, protects: bool = False) -> None:
        self.name = name  # type: ignore[misc]
        self.store = store
        self.protects_data = protects  # type: ignore[misc]
        self.replace_fields = frozenset({"immutable"})  # type: ignore[misc]

    def _obs(self, lid: str) -> Observed:
        key = f"{self.name}/{lid}"
        item = self.store.items[key]
        return Observed(
            lid, f"id-{key}", dict(item), {"id": f"id-{key}"}, ready=key not in self.store.not_ready
        )

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        prefix = f"{self.name}/"
        return {
            k[len(prefix) :]: self._obs(k[len(prefix) :])
            for k in self.store.items
            if k.startswith(prefix)
        }

    async def _work(self, verb: str, key: str) -> None:
        self.store.running += 1
        self.store.peak = max(self.store.peak, self.store.running)
        try:
            await asyncio.sleep(self.store.delay.get(key, 0.001))
            if key in self.store.fail:
                raise Terminal(f"{key} refused")
            self.store.log.append(f"{verb} {key}")
        finally:
            self.store.running -= 1

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        await self._work("create", desired.key)
        self.store.items[desired.key] = dict(desired.params)
        return self._obs(desired.logical_id)

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        await self._work("update", desired.key)
        self.store.items[desired.key] = dict(desired.params)
        return self._obs(desired.logical_id)

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        key = f"{self.name}/{observed.logical_id}"
        await self._work("delete", key)
        self.store.items.pop(key, None)


def kinds(store: Store) -> dict[str, Kind]:
    return {n: MemoryKind(n, store, protects=(n == "db")) for n in ("net", "sub", "app", "db")}


CTX = KindContext(stack="s", spec_version="v", clients=None)  # type: ignore[arg-type]


def stack() -> list[DesiredResource]:
    return [
        DesiredResource("net", "main", {"cidr": "10.0.0.0/16"}),
        DesiredResource("sub", "a", {"net": Ref("net", "main"), "cidr": "10.0.1.0/24"}),
        DesiredResource("sub", "b", {"net": Ref("net", "main"), "cidr": "10.0.2.0/24"}),
        DesiredResource("db", "main", {"subnets": [Ref("sub", "a"), Ref("sub", "b")]}),
        DesiredResource("app", "web", {"db": Ref("db", "main")}),
        DesiredResource("app", "static", {"net": Ref("net", "main"), "members": ["x", "y"]}),
    ]


def apply(store: Store, desired: list[DesiredResource], **opts: Any) -> Any:
    return asyncio.run(reconcile_stack(kinds(store), CTX, desired, PlanOptions(**opts), write=True))


def test_diff_names_nested_fields_and_ignores_list_order() -> None:
    kind = MemoryKind("app", Store())
    delta = diff(
        kind,
        {"hc": {"path": "/h", "interval": 30}, "members": ["a", "b"]},
        {"hc": {"path": "/x", "interval": 30}, "members": ["b", "a"], "extra": 1},
    )
    assert [(c.path, c.old, c.new) for c in delta.changes] == [("hc.path", "/x", "/h")]
    assert delta.changed("hc") and not delta.changed("members")
    assert diff(kind, {"a": UNKNOWN}, {"a": "x"}).changes[0].new is UNKNOWN


def test_apply_creates_in_dependency_order_then_plans_clean() -> None:
    store = Store()
    result = apply(store, stack())
    assert result.execution.converged
    order = [line.split()[1] for line in store.log]
    assert order.index("net/main") < order.index("sub/a") < order.index("db/main")
    assert order.index("db/main") < order.index("app/web")
    again = apply(store, stack())
    assert again.execution is None and again.plan.in_sync


def test_failure_skips_only_dependants() -> None:
    store = Store()
    store.fail.add("db/main")
    result = apply(store, stack())
    outcomes = {k: r.outcome for k, r in result.execution.reports.items()}
    assert outcomes["db/main"] is Outcome.FAILED
    assert outcomes["app/web"] is Outcome.SKIPPED
    assert outcomes["app/static"] is Outcome.DONE
    assert "app/web" not in store.items


def test_slow_unready_resource_holds_back_only_its_dependants() -> None:
    store = Store()
    store.not_ready.add("db/main")
    store.delay["db/main"] = 0.2
    result = apply(store, stack())
    order = result.execution.completion_order
    assert result.execution.reports["app/web"].outcome is Outcome.WAITING
    assert order.index("app/static") < order.index("db/main")
    assert result.execution.requeue_after(7.0) == 7.0


def test_deletes_run_in_reverse_dependency_order() -> None:
    store = Store()
    apply(store, stack())
    store.log.clear()
    apply(store, [], guard_deletions=False)
    order = [line.split()[1] for line in store.log]
    assert store.items == {}
    assert order.index("app/web") < order.index("db/main") < order.index("sub/a")
    assert order.index("sub/b") < order.index("net/main")


def test_mass_deletion_guard_holds_deletes_until_allowed() -> None:
    store = Store()
    apply(store, stack())
    keep = stack()[:3]
    result = apply(store, keep)
    held = [r for r in result.execution.reports.values() if r.outcome is Outcome.HELD]
    assert len(held) == 3 and "mass-deletion guard" in held[0].message
    assert len(store.items) == 6
    apply(store, keep, max_deletions=3)
    assert set(store.items) == {"net/main", "sub/a", "sub/b"}


def test_replacing_protected_data_is_held_unless_allowed() -> None:
    store = Store()
    desired = [DesiredResource("db", "main", {"immutable": 1})]
    apply(store, desired)
    changed = [DesiredResource("db", "main", {"immutable": 2})]
    plan = asyncio.run(reconcile_stack(kinds(store), CTX, changed, PlanOptions(), write=False)).plan
    (action,) = plan.actions
    assert action.type is ActionType.REPLACE and "allowReplace" in action.held
    apply(store, changed)
    assert store.items["db/main"]["immutable"] == 1
    apply(store, changed, allow_replace=frozenset({"db/main"}))
    assert store.items["db/main"]["immutable"] == 2


def test_concurrency_limit_and_parallel_independent_actions() -> None:
    store = Store()
    desired = [DesiredResource("app", f"a{i}", {"i": i}) for i in range(20)]
    for d in desired:
        store.delay[d.key] = 0.02
    result = asyncio.run(
        reconcile_stack(kinds(store), CTX, desired, PlanOptions(), write=True, concurrency=4)
    )
    assert result.execution is not None and result.execution.converged
    assert store.peak == 4


def test_cycle_is_a_terminal_error_naming_the_cycle() -> None:
    desired = [
        DesiredResource("app", "x", {"y": Ref("app", "y")}),
        DesiredResource("app", "y", {"x": Ref("app", "x")}),
    ]
    with pytest.raises(Terminal, match="cycle: app/x -> app/y -> app/x"):
        asyncio.run(reconcile_stack(kinds(Store()), CTX, desired, PlanOptions(), write=True))


def test_plan_json_reports_changes() -> None:
    store = Store()
    apply(store, stack())
    store.items["sub/a"]["cidr"] = "10.0.9.0/24"
    from controller.engine.observe import observe_all

    all_obs = asyncio.run(observe_all(kinds(store), CTX, stack()))
    plan = make_plan("s", "v", stack(), all_obs, kinds(store), PlanOptions())
    doc = plan.to_json()
    (change,) = [a for a in doc["actions"] if a["action"] == "update"]
    assert change["changes"] == [{"field": "cidr", "old": "10.0.9.0/24", "new": "10.0.1.0/24"}]


# ---------------------------------------------------------------- replacements (issue 10)


def bound_stack(immutable: int = 1, rule_x: int = 1) -> list[DesiredResource]:
    """A target-group-like `sub/tg`, a rule bound to it, a policy only mentioning its id."""
    return [
        DesiredResource("sub", "tg", {"immutable": immutable}),
        DesiredResource("app", "rule", {"tg": Ref("sub", "tg"), "x": rule_x}),
        DesiredResource("app", "policy", {"tg_arn": Ref("sub", "tg", wait_ready=False)}),
        DesiredResource("app", "other", {"y": 1}),
    ]


def test_replacement_replaces_bound_dependants_around_it_in_order() -> None:
    store = Store()
    apply(store, bound_stack())
    store.log.clear()
    plan = asyncio.run(
        reconcile_stack(
            kinds(store), CTX, bound_stack(2), PlanOptions(max_deletions=5), write=False
        )
    ).plan
    types = {a.key: a.type for a in plan.actions}
    assert types == {
        "sub/tg": ActionType.REPLACE,
        "app/rule": ActionType.REPLACE,
        "app/policy": ActionType.UPDATE,  # a mention is updated in place, after the create
        "app/other": ActionType.NOOP,
    }
    assert "replaced with sub/tg" in plan.by_key()["app/rule"].note
    events: list[tuple[str, str]] = []
    result = asyncio.run(
        reconcile_stack(
            kinds(store),
            CTX,
            bound_stack(2),
            PlanOptions(max_deletions=5),
            write=True,
            on_event=lambda phase, report: events.append((phase, report.action.key)),
        )
    )
    assert result.execution is not None and result.execution.converged
    assert sorted(events) == sorted(
        [(p, k) for k in ("sub/tg", "app/rule", "app/policy") for p in ("start", "end")]
    ), "one write per action, a replacement included"
    log = store.log
    assert log.index("delete app/rule") < log.index("delete sub/tg")
    assert log.index("delete sub/tg") < log.index("create sub/tg") < log.index("create app/rule")
    assert not any("app/policy" in line for line in log if line.startswith("delete"))
    assert store.items["sub/tg"]["immutable"] == 2
    assert apply(store, bound_stack(2), max_deletions=5).plan.in_sync


def test_mass_deletion_guard_counts_replacements() -> None:
    store = Store()
    apply(store, bound_stack())
    store.log.clear()
    result = apply(store, bound_stack(2), max_deletions=1)
    plan = result.plan
    assert "deletes or replaces 2 resources" in plan.notes[0]
    held = {a.key: a.held for a in plan.actions if a.held}
    assert set(held) == {"sub/tg", "app/rule", "app/policy"}
    assert held["app/policy"] == "depends on held sub/tg"
    assert store.log == [] and store.items["sub/tg"]["immutable"] == 1


def test_cascade_reaching_data_is_held_whole_naming_what_it_would_replace() -> None:
    store = Store()
    base = stack()
    apply(store, base)
    store.log.clear()
    changed = [
        DesiredResource("net", "main", {"cidr": "10.0.0.0/16", "immutable": 2}),
        *base[1:],
    ]
    store.items["net/main"]["immutable"] = 1
    result = apply(store, changed, max_deletions=50)
    plan = result.plan
    (root,) = [a for a in plan.actions if a.type is ActionType.REPLACE]
    assert root.key == "net/main"
    for key in ("sub/a", "sub/b", "db/main", "app/web", "app/static"):
        assert key in root.held
    assert "db/main would lose its data" in root.held and "allowReplace" in root.held
    assert {a.type for a in plan.actions if a.key != "net/main"} == {ActionType.NOOP}
    assert store.log == []
    allowed = apply(store, changed, max_deletions=50, allow_replace=frozenset({"db/main"}))
    assert allowed.execution.converged
    log = store.log
    assert log.index("delete app/web") < log.index("delete db/main") < log.index("delete sub/a")
    assert log.index("delete sub/a") < log.index("delete net/main") < log.index("create net/main")
    assert log.index("create net/main") < log.index("create sub/a") < log.index("create db/main")


def test_a_held_replacement_holds_what_depends_on_it() -> None:
    store = Store()
    apply(store, stack())
    store.log.clear()
    changed = [d for d in stack() if d.key not in ("db/main", "app/web")] + [
        DesiredResource(
            "db", "main", {"subnets": [Ref("sub", "a"), Ref("sub", "b")], "immutable": 2}
        ),
        DesiredResource("app", "web", {"db": Ref("db", "main"), "x": 2}),
    ]
    result = apply(store, changed)
    actions = result.plan.by_key()
    assert "lose its data" in actions["db/main"].held
    assert actions["app/web"].type is ActionType.UPDATE
    assert actions["app/web"].held == "depends on held db/main"
    assert store.log == []


def test_replacing_a_kind_others_only_name_updates_them_in_place() -> None:
    store = Store()
    named = MemoryKind("role", store)
    named.binds_referrers = False  # type: ignore[misc]
    all_kinds = {**kinds(store), "role": named}

    def desired(immutable: int) -> list[DesiredResource]:
        return [
            DesiredResource("role", "r", {"immutable": immutable}),
            DesiredResource("app", "td", {"role": Ref("role", "r")}),
        ]

    def run(immutable: int) -> Any:
        options = PlanOptions(max_deletions=5)
        return asyncio.run(reconcile_stack(all_kinds, CTX, desired(immutable), options, write=True))

    run(1)
    store.log.clear()
    result = run(2)
    types = {a.key: a.type for a in result.plan.actions}
    assert types == {"role/r": ActionType.REPLACE, "app/td": ActionType.UPDATE}
    assert store.log[:2] == ["delete role/r", "create role/r"]
    assert "delete app/td" not in store.log
    assert result.execution.converged


def test_wait_cycles_from_live_field_guesses_never_drop_a_create_order() -> None:
    """`sub/u`'s live fields happen to hold net/main's id (as a container name may equal
    another resource's name): a guessed "uses net/main" edge closes a cycle with the
    certain create order net/main -> sub/s; only the guess may be dropped."""
    store = Store()

    def desired(immutable: int, x: int) -> list[DesiredResource]:
        return [
            DesiredResource("net", "main", {"immutable": immutable}),
            DesiredResource("sub", "s", {"net": Ref("net", "main")}),
            DesiredResource(
                "sub", "u", {"s": Ref("sub", "s", wait_ready=False), "label": "id-net/main", "x": x}
            ),
        ]

    apply(store, desired(1, 1))
    store.log.clear()
    result = apply(store, desired(2, 2), max_deletions=5)
    types = {a.key: a.type for a in result.plan.actions}
    assert types["sub/u"] is ActionType.UPDATE and types["sub/s"] is ActionType.REPLACE
    assert result.execution.converged, {k: r.message for k, r in result.execution.reports.items()}
    log = store.log
    assert log.index("delete sub/s") < log.index("delete net/main") < log.index("create net/main")
    assert log.index("create net/main") < log.index("create sub/s")


class GuardedKind(MemoryKind):
    """Refuses to recreate a resource that existed (as a database kind does)."""

    async def prepare_create(self, ctx: KindContext, desired: Resolved, existed: bool) -> Any:
        from controller.engine import CreatePlan

        return CreatePlan(held=f"{desired.key} existed" if existed else "")


def test_vanished_resource_evidence_from_memory_or_live_dependants() -> None:
    store = Store()
    guarded = {**kinds(store), "db": GuardedKind("db", store)}

    def desired(uses_db: bool) -> list[DesiredResource]:
        env = {"host": Ref("db", "main")} if uses_db else {}
        return [
            DesiredResource("db", "main", {"size": 1}),
            DesiredResource("app", "web", {"env": env, "list": [Ref("db", "main")]}),
        ]

    def plan(uses_db: bool, known: tuple[str, ...] = ()) -> Any:
        return asyncio.run(
            reconcile_stack(guarded, CTX, desired(uses_db), PlanOptions(), write=False, known=known)
        ).plan.by_key()

    store.items["app/web"] = {"env": {}, "list": ["id-db/main"]}  # a list says nothing
    assert plan(uses_db=True)["db/main"].held == ""  # new: web never carried its host
    assert plan(uses_db=True, known=("db/main",))["db/main"].held == "db/main existed"
    store.items["app/web"]["env"] = {"host": "id-db/main"}  # web was written with its host
    actions = plan(uses_db=True)
    assert actions["db/main"].held == "db/main existed"
    assert actions["app/web"].held == "depends on held db/main"
    allowed = asyncio.run(
        reconcile_stack(
            guarded,
            CTX,
            desired(True),
            PlanOptions(allow_replace=frozenset({"db/main"})),
            write=False,
        )
    ).plan.by_key()["db/main"]
    assert not allowed.held and "allowed by spec.safety.allowReplace" in allowed.note


def test_cascade_reaching_data_held_for_its_own_change_is_held_too() -> None:
    store = Store()
    apply(store, stack())
    store.log.clear()
    changed = [
        DesiredResource("net", "main", {"cidr": "10.0.0.0/16"}),
        DesiredResource(
            "sub", "a", {"net": Ref("net", "main"), "cidr": "10.0.1.0/24", "immutable": 2}
        ),
        DesiredResource("sub", "b", {"net": Ref("net", "main"), "cidr": "10.0.2.0/24"}),
        DesiredResource(
            "db", "main", {"subnets": [Ref("sub", "a"), Ref("sub", "b")], "immutable": 2}
        ),
        *stack()[4:],
    ]
    result = apply(store, changed, max_deletions=50)
    actions = result.plan.by_key()
    assert "db/main would lose its data" in actions["sub/a"].held
    assert "lose its data" in actions["db/main"].held
    assert store.log == []
