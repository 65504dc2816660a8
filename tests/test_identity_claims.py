"""The decision table of controller.operator.identity.claims: which key defines which
stack, from the whole listing at once (pure: no AWS involved)."""

from __future__ import annotations

from typing import Any

from controller.operator.identity import KeyContent, claims, phantom_name, recorded_from
from controller.spec import SpecError, load_spec
from tests.identity_harness import tiny


def valid(key: str, name: str, **body: Any) -> KeyContent:
    return KeyContent(key, load_spec(key, tiny(name, **body).encode()))


def invalid(key: str) -> KeyContent:
    try:
        load_spec(key, b"spec: [1\n")
    except SpecError as exc:
        return KeyContent(key, error=exc)
    raise AssertionError("expected an invalid spec")


def decide(
    *contents: KeyContent, managed: dict[str, str] | None = None, renamable: bool = False
) -> tuple[dict[str, list[tuple[str, str]]], list[str]]:
    by_stack, phantoms = claims(
        {c.key: c for c in contents}, managed or {}, lambda _stack: renamable
    )
    table = {s: [(c.key, str(c.kind)) for c in found] for s, found in by_stack.items()}
    return table, [p.key for p in phantoms]


def test_two_keys_one_name_is_a_conflict_whatever_the_order() -> None:
    a, b = valid("specs/a.yaml", "shop"), valid("specs/b.yaml", "shop")
    assert decide(a, b) == decide(b, a) == ({"shop": [("specs/a.yaml", "apply"),
                                                      ("specs/b.yaml", "apply")]}, [])  # fmt: skip


def test_a_rename_is_held_unless_allowed_or_the_old_stack_is_gone() -> None:
    moved = valid("specs/a.yaml", "shop")
    managed = {"specs/a.yaml": "portal"}
    assert decide(moved, managed=managed) == ({"portal": [("specs/a.yaml", "held")]}, [])
    assert decide(moved, managed=managed, renamable=True) == (
        {"shop": [("specs/a.yaml", "apply")]},
        [],
    )
    allowed = valid("specs/a.yaml", "shop", safety={"allowRename": True})
    assert decide(allowed, managed=managed) == ({"shop": [("specs/a.yaml", "apply")]}, [])


def test_an_invalid_key_keeps_its_stack_and_a_never_valid_one_is_a_phantom() -> None:
    broken, garbage = invalid("specs/a.yaml"), invalid("specs/portal.yaml")
    managed = {"specs/a.yaml": "portal"}
    assert decide(broken, garbage, managed=managed) == (
        {"portal": [("specs/a.yaml", "invalid")]},
        ["specs/portal.yaml"],
    )
    assert phantom_name("specs/portal.yaml", {"portal"}) == "portal.yaml"
    assert phantom_name("specs/junk.yaml", {"portal"}) == "junk"


def test_a_status_document_is_read_as_the_key_it_was_applied_from() -> None:
    doc = {"stack": "portal", "specKey": "specs/a.yaml", "specVersion": "v1",
           "summary": {"in_sync": 12}, "teardown": False, "orphaned": False}  # fmt: skip
    rec = recorded_from(doc)
    assert rec is not None and (rec.key, rec.resources, rec.version) == ("specs/a.yaml", 12, "v1")
    assert not rec.torn_down
    done = {**doc, "teardown": True, "summary": {}, "lastReconcileTime": "2026-01-01T00:00:00"}
    assert (r := recorded_from(done)) is not None and r.torn_down
    assert recorded_from([]) is None and recorded_from({"stack": 3}) is None
