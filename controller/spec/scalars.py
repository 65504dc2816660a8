"""Plain YAML scalars, read the YAML 1.2 way, refusing the ones YAML 1.1 reads differently.

PyYAML follows YAML 1.1, where `yes`/`no`/`on`/`off` are booleans, `010` is 8 and `1:30`
is 90; editors (yaml-language-server) and most other tools follow YAML 1.2, where they are
text or 10. A spec must mean one thing to every tool, so a plain scalar whose two readings
differ is an error that tells the author how to write it unambiguously.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Any

import yaml

from controller.spec.errors import clip

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?[0-9]+$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")

_MAX_NUMBER = 40
_DECIMAL = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
# First characters of every plain scalar YAML 1.1 or 1.2 may read as other than text.
_SPECIAL_START = frozenset("-+.0123456789~<=nNtTfFyYoO")

_YAML11 = yaml.SafeLoader("")
_UNREADABLE = object()


def core(value: str) -> Any:
    """The YAML 1.2 core-schema reading of a plain scalar (text when it cannot be read)."""
    try:
        return _core(value)
    except ValueError:  # e.g. more digits than int() converts
        return value


def _core(value: str) -> Any:
    if _NULL.match(value):
        return None
    if value in _BOOL:
        return _BOOL[value]
    if _INT.match(value):
        return int(value)
    if _OCT.match(value):
        return int(value[2:], 8)
    if _HEX.match(value):
        return int(value[2:], 16)
    if _FLOAT.match(value):
        return float(value)
    if _INF.match(value):
        return -math.inf if value.startswith("-") else math.inf
    if _NAN.match(value):
        return math.nan
    return value


def yaml11(value: str) -> Any:
    """How PyYAML (YAML 1.1) reads the same plain scalar."""
    tag = _YAML11.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    node = yaml.ScalarNode(tag, value)
    try:
        return _YAML11.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError):
        return _UNREADABLE


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def describe(value: Any) -> str:
    if value is _UNREADABLE:
        return "an error"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return clip(repr(value), 24)
    if isinstance(value, datetime.date):
        return "a date"
    return "text"


def plain(value: str) -> tuple[Any, str | None]:
    """(YAML 1.2 value, None) or (value, why it is ambiguous and how to write it)."""
    if len(value) > _MAX_NUMBER and any(r.match(value) for r in (_INT, _OCT, _HEX, _FLOAT)):
        return value, f"a {len(value)}-character number is too long; quote it if it is text"
    if _DECIMAL.match(value):
        return int(value), None  # the common case, read alike by both
    if value and value[0] not in _SPECIAL_START:
        return value, None  # plain text, e.g. us-east-1a or /api/*
    v12 = core(value)
    if isinstance(v12, str) and not _could_differ(value):
        return v12, None
    v11 = yaml11(value)
    if _same(v11, v12):
        return v12, None
    shown = clip(value)
    if isinstance(v11, bool):
        hint = f'write true or false, or "{shown}" for text'
    elif isinstance(v11, int | float) or isinstance(v12, int | float):
        hint = f'write a plain decimal number, or "{shown}" for text'
    else:
        hint = f'quote it: "{shown}"'
    return v12, (
        f"ambiguous value {shown} ({describe(v11)} in YAML 1.1, {describe(v12)} in YAML 1.2): "
        f"{hint}"
    )


_SUSPECT = re.compile(r"^[-+.0-9<=]|^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$")


def _could_differ(value: str) -> bool:
    """Cheap pre-filter: only these plain strings can resolve to a non-string in YAML 1.1."""
    return bool(_SUSPECT.match(value))
