"""Pydantic errors rewritten as short messages that say what is wrong and what is allowed."""

from __future__ import annotations

import difflib
import types
import typing
import unicodedata
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from controller.spec.model import NAME_PATTERN, StackSpec
from controller.spec.scalars import core

PATTERN_HELP = {
    NAME_PATTERN: "lowercase letters a-z, digits and '-', starting with a letter "
    "and not ending with '-'",
    r"^[A-Za-z_][A-Za-z0-9_]*$": "letters A-Z/a-z, digits and '_', not starting with a digit",
    r"^db\.[a-z0-9]+\.[a-z0-9]+$": "an RDS instance class such as db.t4g.micro",
    r"^[a-zA-Z][a-zA-Z0-9_]{0,62}$": "a letter, then up to 62 letters, digits or '_'",
    r"^[a-zA-Z][a-zA-Z0-9_]{0,15}$": "a letter, then up to 15 letters, digits or '_'",
    r"^/": "a path starting with '/'",
}

_EXPECTED = {
    "int": "an integer",
    "float": "a number",
    "string": "text",
    "bool": "true or false",
    "model": "a mapping of fields",
    "dict": "a mapping",
    "list": "a list",
}


def _kind_of(err_type: str) -> str | None:
    for prefix in ("int", "float", "string", "bool", "model", "dict", "list"):
        if err_type.startswith(prefix):
            return prefix
    return None


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def non_ascii(text: str) -> str:
    """' (contains ...)' naming the first non-ASCII character, e.g. a Cyrillic look-alike."""
    for ch in text:
        if ord(ch) > 127:
            name = unicodedata.name(ch, "unnamed character")
            return f" (contains {ch!r} U+{ord(ch):04X} {name}, not ASCII)"
    return ""


def _unwrap(ann: Any) -> Any:
    """Strip Optional/Annotated so the container or model type shows."""
    while True:
        origin = typing.get_origin(ann)
        if origin is typing.Annotated:
            ann = typing.get_args(ann)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            if len(args) != 1:
                return ann
            ann = args[0]
        else:
            return ann


def field_at(loc: tuple[str | int, ...]) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """The model that holds the last field of `loc` and that field's info."""
    ann: Any = StackSpec
    owner: type[BaseModel] | None = None
    info: FieldInfo | None = None
    for part in loc:
        ann = _unwrap(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            owner = ann
            info = _by_alias(ann).get(str(part))
            if info is None:
                return owner, None
            ann = info.annotation
            continue
        origin, args = typing.get_origin(ann), typing.get_args(ann)
        if origin is list and args:
            ann = args[0]
        elif origin is dict and len(args) == 2:
            ann = args[1]
        else:
            return None, None
        owner, info = None, None
    return owner, info


def _by_alias(model: type[BaseModel]) -> dict[str, FieldInfo]:
    return {(f.alias or name): f for name, f in model.model_fields.items()}


def _bounds(info: FieldInfo | None) -> tuple[Any, Any]:
    low = high = None
    for meta in info.metadata if info else []:
        if isinstance(meta, annotated_types.Ge):
            low = meta.ge
        elif isinstance(meta, annotated_types.Gt):
            low = f"above {meta.gt}"
        elif isinstance(meta, annotated_types.Le):
            high = meta.le
        elif isinstance(meta, annotated_types.Lt):
            high = f"below {meta.lt}"
    return low, high


def _range(info: FieldInfo | None) -> str:
    low, high = _bounds(info)
    if low is None and high is None:
        return ""
    if isinstance(low, str) or isinstance(high, str):
        return " (" + ", ".join(str(b) for b in (low, high) if b is not None) + ")"
    if low is not None and high is not None:
        return f" from {low} to {high}"
    return f" of at least {low}" if low is not None else f" of at most {high}"


def expected_of(info: FieldInfo | None) -> str:
    """A short description of what a field takes, e.g. 'an integer from 1 to 65535'."""
    if info is None:
        return ""
    ann = _unwrap(info.annotation)
    origin = typing.get_origin(ann)
    if origin is typing.Literal:
        choices = [repr(a) for a in typing.get_args(ann)]
        return "one of " + ", ".join(choices) if len(choices) > 1 else choices[0]
    if origin is list:
        return "a list"
    if origin is dict or (isinstance(ann, type) and issubclass(ann, BaseModel)):
        return "a mapping"
    if ann is bool:
        return "true or false"
    if ann is int:
        return f"an integer{_range(info)}"
    if ann is float:
        return f"a number{_range(info)}"
    if ann is str:
        return "text"
    return ""


def _unknown(loc: tuple[str | int, ...]) -> str:
    key = str(loc[-1])
    owner, _ = field_at((*loc[:-1], "\x00"))
    allowed = sorted(_by_alias(owner)) if owner else []
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = non_ascii(key)
    if close:
        return f"unknown field{hint}; did you mean {close[0]!r}?"
    if allowed:
        return f"unknown field{hint}; allowed here: {', '.join(allowed)}"
    return f"unknown field{hint}"


def describe(err: Any, loc: tuple[str | int, ...], is_key: bool = False) -> str:
    """One human message for one pydantic error at `loc` (aliases, no '[key]')."""
    kind: str = err["type"]
    got = err.get("input")
    ctx = err.get("ctx") or {}
    _, info = field_at(loc)
    what = "key " if is_key else ""
    if kind == "extra_forbidden":
        return _unknown(loc)
    if kind == "missing":
        expected = expected_of(info)
        return (
            f"required field is missing; expected {expected}"
            if expected
            else ("required field is missing")
        )
    if kind == "literal_error":
        expected = str(ctx.get("expected"))
        choice = "one of " if " or " in expected else ""
        return f"must be {choice}{expected} (got {_shown(got)})"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        allowed = PATTERN_HELP.get(pattern, f"text matching {pattern}")
        return f"{what}{_shown(got)} is not allowed{non_ascii(str(got))}; use {allowed}"
    if kind in ("string_too_long", "string_too_short"):
        limit = ctx.get("max_length", ctx.get("min_length"))
        word = "at most" if kind == "string_too_long" else "at least"
        return f"{what}must be {word} {limit} characters (got {len(str(got))})"
    if kind == "too_long":
        return f"at most {ctx.get('max_length')} items allowed (got {ctx.get('actual_length')})"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s) (got {ctx.get('actual_length')})"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return f"must be{_range(info) or ' within its limits'} (got {_shown(got)})"
    base = _kind_of(kind)
    expected = _EXPECTED.get(base or "", "")
    if got is None and expected:
        return f"is empty (null); expected {expected}{_range(info) if base == 'int' else ''}"
    if base == "int":
        return _int_message(got, info)
    if base == "bool" and isinstance(got, str) and got.lower() in ("true", "false"):
        return f"must be true or false, not the text {_shown(got)}; remove the quotes"
    if base == "float" and isinstance(got, str):
        hint = "; remove the quotes" if isinstance(core(got), int | float) else ""
        return f"must be a number, not the text {_shown(got)}{hint}"
    if base == "string" and isinstance(got, int | float | bool):
        return f'must be text, not {_shown(got)}; quote it: "{_shown(got)}"'
    if expected:
        return f"must be {expected} (got {_shown(got)})"
    msg = str(err["msg"])
    return f"{msg[0].lower()}{msg[1:]} (got {_shown(got)})"


def _int_message(got: Any, info: FieldInfo | None) -> str:
    allowed = f"an integer{_range(info)}"
    if isinstance(got, str):
        hint = "; remove the quotes" if isinstance(core(got), int) else ""
        return f"must be {allowed}, not the text {_shown(got)}{hint}"
    if isinstance(got, float):
        if got.is_integer():
            return f"must be {allowed}; write {int(got)}, not {got}"
        return f"must be {allowed}, not a fraction (got {got})"
    return f"must be {allowed} (got {_shown(got)})"
