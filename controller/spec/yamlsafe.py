"""Hardened YAML reading: size, encoding, duplicate keys, alias bombs, depth.

PyYAML silently keeps the last of two duplicate keys and expands aliases without bound;
this module composes the node tree itself and builds plain Python data while recording
where every field path starts, so later errors can name the exact line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from controller.spec.errors import SpecError, SpecIssue

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 64

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class Document:
    """Parsed YAML data plus the position of every path in it."""

    source: str
    data: Any
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def issue(self, path: Path, message: str) -> SpecIssue:
        line, column = self.locate(path)
        return SpecIssue(self.source, line, column, format_path(path), message)

    def locate(self, path: Path) -> tuple[int, int]:
        """The position of `path`, or of its nearest ancestor that exists in the file."""
        probe = tuple(path)
        while probe:
            if probe in self.positions:
                return self.positions[probe]
            probe = probe[:-1]
        return self.positions.get((), (1, 1))


def _fail(source: str, line: int, column: int, message: str, path: Path = ()) -> SpecError:
    return SpecError([SpecIssue(source, line, column, format_path(path), message)])


def decode(source: str, raw: bytes) -> str:
    if len(raw) > MAX_BYTES:
        raise _fail(source, 1, 1, f"file is {len(raw)} bytes; the limit is {MAX_BYTES} (1 MiB)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise _fail(
            source, line, column, f"not UTF-8 text: byte 0x{raw[exc.start]:02x} is invalid"
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise _fail(source, line, 1, "binary data (NUL byte) is not a YAML spec")
    return text


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.nodes = 0
        self.positions: dict[Path, tuple[int, int]] = {}

    def build(self, node: yaml.Node, path: Path, depth: int) -> Any:
        self.nodes += 1
        mark = node.start_mark
        if self.nodes > MAX_NODES:
            raise _fail(
                self.source,
                mark.line + 1,
                mark.column + 1,
                f"document expands to more than {MAX_NODES} values (alias bomb?)",
                path,
            )
        if depth > MAX_DEPTH:
            raise _fail(
                self.source,
                mark.line + 1,
                mark.column + 1,
                f"nesting deeper than {MAX_DEPTH} levels",
                path,
            )
        self.positions.setdefault(path, (mark.line + 1, mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return _scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            kmark = key_node.start_mark
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _fail(
                    self.source, kmark.line + 1, kmark.column + 1, "merge keys (<<) are not allowed"
                )
            if not isinstance(key_node, yaml.ScalarNode):
                raise _fail(
                    self.source,
                    kmark.line + 1,
                    kmark.column + 1,
                    "keys must be plain strings",
                    path,
                )
            key = str(key_node.value)
            if key in first_seen:
                raise _fail(
                    self.source,
                    kmark.line + 1,
                    kmark.column + 1,
                    f"duplicate key {key!r} (first defined on line {first_seen[key]})",
                    (*path, key),
                )
            first_seen[key] = kmark.line + 1
            self.positions[(*path, key)] = (kmark.line + 1, kmark.column + 1)
            out[key] = self.build(value_node, (*path, key), depth + 1)
        return out


_SCALAR_LOADER = yaml.SafeLoader("")


def _scalar(node: yaml.Node) -> Any:
    return _SCALAR_LOADER.construct_object(node, deep=True)


def load_yaml(source: str, raw: bytes) -> Document:
    """Parse one YAML document from `raw` bytes, or raise SpecError naming the position."""
    text = decode(source, raw)
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise _fail(source, line, column, f"YAML syntax error: {problem}") from None
    except RecursionError:
        raise _fail(source, 1, 1, f"nesting deeper than {MAX_DEPTH} levels") from None
    except yaml.YAMLError as exc:
        raise _fail(source, 1, 1, f"YAML error: {exc}") from None
    if not nodes or nodes[0] is None:
        raise _fail(source, 1, 1, "the file is empty; expected a Stack document")
    if len(nodes) > 1:
        mark = nodes[1].start_mark
        raise _fail(source, mark.line + 1, 1, "one Stack per file; found a second document")
    builder = _Builder(source)
    try:
        data = builder.build(nodes[0], (), 0)
    except RecursionError:
        raise _fail(source, 1, 1, f"nesting deeper than {MAX_DEPTH} levels") from None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise _fail(source, line, column, f"YAML error: {exc.problem}") from None
    return Document(source, data, builder.positions)
