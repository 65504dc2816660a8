"""Hardened YAML reading: size, encoding, depth, alias bombs, duplicate keys, tags.

PyYAML's composer recurses once per nesting level, keeps the last of two duplicate keys,
expands aliases without bound and builds whatever a tag asks for. This module never
composes: it walks the parser's event stream (libyaml when available) with an explicit
stack, so depth and expanded size are checked as the events arrive and memory stays
bounded. It builds plain Python data and records where every field path starts, so later
errors can name the exact line and column.

Hard problems (the file cannot be read as one YAML document) raise SpecError at once;
soft ones (a duplicate key, a refused tag, an ambiguous scalar) are collected so that a
file with several mistakes reports all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from controller.spec.errors import SpecError, SpecIssue, clip
from controller.spec.scalars import core, plain

MAX_BYTES = 1024 * 1024
MAX_VALUES = 50_000
MAX_DEPTH = 64
DEPTH_MESSAGE = f"nesting deeper than {MAX_DEPTH} levels; a stack spec needs far fewer"

Path = tuple[str | int, ...]
Position = tuple[int, int]

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_CORE}{t}" for t in ("str", "int", "float", "bool", "null")} | {"!"}
_ALLOWED_TAGS = "!!str, !!int, !!float, !!bool, !!null, !!map, !!seq"
_DISCARD = object()


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{clip(part)}" if out else clip(part)
    return out if len(out) <= 120 else f"{out[:58]}...{out[-59:]}"


def short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


@dataclass
class Document:
    """Parsed YAML data plus the position of every path in it."""

    source: str
    data: Any
    positions: dict[Path, Position] = field(default_factory=dict)
    issues: list[SpecIssue] = field(default_factory=list)
    """Soft problems found while reading; the data at these paths is not trustworthy."""
    flagged: set[Path] = field(default_factory=set)

    def issue(self, path: Path, message: str) -> SpecIssue:
        line, column = self.locate(path)
        return SpecIssue(self.source, line, column, format_path(path), message)

    def locate(self, path: Path) -> Position:
        """The position of `path`, or of its nearest ancestor that exists in the file."""
        probe = tuple(path)
        while probe:
            if probe in self.positions:
                return self.positions[probe]
            probe = probe[:-1]
        return self.positions.get((), (1, 1))

    def is_flagged(self, path: Path) -> bool:
        return any(path[: len(f)] == f for f in self.flagged)


def _fail(source: str, line: int, column: int, message: str, path: Path = ()) -> SpecError:
    return SpecError([SpecIssue(source, line, column, format_path(path), message)])


def _at(mark: Any) -> Position:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def decode(source: str, raw: bytes) -> str:
    if len(raw) > MAX_BYTES:
        raise _fail(source, 1, 1, f"file is {len(raw)} bytes; the limit is 1 MiB")
    nul = raw.find(b"\x00")
    if nul >= 0:
        before = raw[:nul]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        raise _fail(source, line, column, "binary data (NUL byte); a spec is UTF-8 YAML text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        raise _fail(
            source,
            line,
            column,
            f"not UTF-8 text: byte 0x{raw[exc.start]:02x} is invalid; save the file as UTF-8",
        ) from None
    return text


@dataclass
class _Frame:
    """An open mapping or sequence."""

    path: Path
    value: dict[str, Any] | list[Any]
    anchor: str | None
    start: int  # values counted before this collection
    log_start: int  # index into the position log where this collection starts
    key: Any = None  # mapping only: the pending key (str, _DISCARD) or None
    key_lines: dict[str, int] = field(default_factory=dict)


@dataclass
class _Anchor:
    value: Any
    size: int
    positions: list[tuple[Path, Position]]  # relative to the anchored node


class _Builder:
    """Turns parser events into Python data, enforcing every limit on the way."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.count = 0
        self.stack: list[_Frame] = []
        self.log: list[tuple[Path, Position]] = []
        self.anchors: dict[str, _Anchor] = {}
        self.issues: list[SpecIssue] = []
        self.flagged: set[Path] = set()
        self.root: Any = None
        self.documents = 0

    # -- helpers -------------------------------------------------------------
    def fail(self, mark: Any, message: str, path: Path = ()) -> SpecError:
        line, column = _at(mark)
        return _fail(self.source, line, column, message, path)

    def soft(self, mark: Any, path: Path, message: str) -> None:
        line, column = _at(mark)
        self.issues.append(SpecIssue(self.source, line, column, format_path(path), message))
        self.flagged.add(path)

    def next_path(self) -> Path | None:
        """Path of the value about to arrive; None when it is a mapping key."""
        if not self.stack:
            return ()
        top = self.stack[-1]
        if isinstance(top.value, list):
            return (*top.path, len(top.value))
        if top.key is None:
            return None
        if top.key is _DISCARD:
            return (*top.path, "<discarded>")
        return (*top.path, top.key)

    def count_values(self, n: int, mark: Any, path: Path, alias: bool = False) -> None:
        self.count += n
        if self.count <= MAX_VALUES:
            return
        if alias:
            message = (
                f"aliases expand the document past {MAX_VALUES} values (an alias bomb?); "
                "write the values out instead of nesting aliases"
            )
        else:
            message = f"the document has more than {MAX_VALUES} values; a stack needs far fewer"
        raise self.fail(mark, message, path)

    def attach(self, value: Any) -> None:
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        if isinstance(top.value, list):
            top.value.append(value)
        else:
            if top.key is not _DISCARD:
                top.value[top.key] = value
            top.key = None

    def remember(
        self, anchor: str | None, value: Any, size: int, log_start: int, path: Path
    ) -> None:
        if anchor is None:
            return
        n = len(path)
        rel = [(p[n:], pos) for p, pos in self.log[log_start:]]
        self.anchors[anchor] = _Anchor(value, size, rel)

    # -- events --------------------------------------------------------------
    def key(self, event: Any) -> None:
        top = self.stack[-1]
        if not isinstance(event, yaml.ScalarEvent):
            what = "an alias" if isinstance(event, yaml.AliasEvent) else "a collection"
            raise self.fail(
                event.start_mark, f"a mapping key must be plain text, not {what}", top.path
            )
        name = event.value
        path = (*top.path, name)
        if event.tag is None and event.implicit[0] and name == "<<":
            self.soft(
                event.start_mark, top.path, "merge keys (<<) are not allowed; write the fields out"
            )
            top.key = _DISCARD
        elif event.tag not in (None, "!", f"{_CORE}str"):
            self.soft(event.start_mark, path, f"a key cannot carry the tag {short_tag(event.tag)}")
            top.key = _DISCARD
        elif name in top.key_lines:
            self.soft(
                event.start_mark,
                path,
                f"duplicate key {clip(repr(name))} (first on line {top.key_lines[name]}); "
                "keep one: YAML loaders silently drop the other",
            )
            top.key = _DISCARD
        else:
            top.key_lines[name] = _at(event.start_mark)[0]
            top.key = name
        if top.key is not _DISCARD:
            self.log.append((path, _at(event.start_mark)))
        if event.anchor is not None:
            self.anchors[event.anchor] = _Anchor(name, 1, [((), _at(event.start_mark))])
        self.count_values(1, event.start_mark, path)

    def scalar(self, event: Any, path: Path) -> None:
        self.count_values(1, event.start_mark, path)
        self.log.append((path, _at(event.start_mark)))
        value: Any = event.value
        tag = event.tag
        if tag is None:
            if event.implicit[0]:
                value, problem = plain(event.value)
                if problem:
                    self.soft(event.start_mark, path, problem)
        elif tag not in _SCALAR_TAGS:
            self.soft(event.start_mark, path, _tag_message(tag))
        elif tag not in ("!", f"{_CORE}str"):
            value = core(event.value)
            wanted = tag[len(_CORE) :]
            if _type_name(value) != wanted:
                self.soft(
                    event.start_mark,
                    path,
                    f"{clip(repr(event.value))} is not a valid {short_tag(tag)}",
                )
        self.remember(event.anchor, value, 1, len(self.log) - 1, path)
        self.attach(value)

    def start(self, event: Any, path: Path) -> None:
        is_map = isinstance(event, yaml.MappingStartEvent)
        if len(self.stack) >= MAX_DEPTH:
            raise self.fail(
                event.start_mark,
                DEPTH_MESSAGE,
                path,
            )
        self.count_values(1, event.start_mark, path)
        self.log.append((path, _at(event.start_mark)))
        expected = f"{_CORE}{'map' if is_map else 'seq'}"
        if event.tag not in (None, "!", expected):
            self.soft(event.start_mark, path, _tag_message(event.tag))
        container: dict[str, Any] | list[Any] = {} if is_map else []
        self.stack.append(_Frame(path, container, event.anchor, self.count - 1, len(self.log) - 1))

    def end(self) -> None:
        frame = self.stack.pop()
        self.remember(
            frame.anchor, frame.value, self.count - frame.start, frame.log_start, frame.path
        )
        self.attach(frame.value)

    def alias(self, event: Any, path: Path) -> None:
        anchor = self.anchors.get(event.anchor)
        if anchor is None:
            if any(f.anchor == event.anchor for f in self.stack):
                raise self.fail(
                    event.start_mark,
                    f"alias *{event.anchor} refers to a collection that contains it "
                    "(recursive data is not allowed)",
                    path,
                )
            raise self.fail(
                event.start_mark,
                f"alias *{event.anchor} has no anchor &{event.anchor} before it",
                path,
            )
        self.count_values(anchor.size, event.start_mark, path, alias=True)
        self.log.append((path, _at(event.start_mark)))
        self.log.extend(((*path, *rel), pos) for rel, pos in anchor.positions[1:])
        self.attach(anchor.value)

    def feed(self, event: Any) -> None:
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise self.fail(
                    event.start_mark,
                    "a second YAML document starts here; a spec file holds one Stack",
                )
            return
        if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            self.end()
            return
        if not isinstance(event, yaml.NodeEvent):
            return  # stream start/end, document end
        path = self.next_path()
        if path is None:
            self.key(event)
        elif isinstance(event, yaml.ScalarEvent):
            self.scalar(event, path)
        elif isinstance(event, yaml.AliasEvent):
            self.alias(event, path)
        else:
            self.start(event, path)

    def positions(self) -> dict[Path, Position]:
        out: dict[Path, Position] = {}
        for path, pos in self.log:
            out.setdefault(path, pos)
        return out


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "bool", int: "int", float: "float"}.get(type(value), "str")


def _tag_message(tag: str) -> str:
    shown = short_tag(tag)
    return f"the YAML tag {shown} is not allowed; specs are plain data (allowed: {_ALLOWED_TAGS})"


def _syntax_error(source: str, text: str, exc: yaml.YAMLError) -> SpecError:
    if isinstance(exc, yaml.reader.ReaderError):
        head = text.encode("utf-8")[: exc.position].decode("utf-8", "replace")
        line = head.count("\n") + 1
        column = len(head) - (head.rfind("\n") + 1) + 1
        return _fail(
            source, line, column, f"control character U+{exc.character:04X} is not allowed"
        )
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line, column = _at(mark)
        problem = exc.problem or exc.context or "invalid YAML"
        if "nesting depth" in problem:
            return _fail(source, line, column, DEPTH_MESSAGE)
        if exc.context and exc.problem:
            ctx = exc.context
            if exc.context_mark is not None and exc.context_mark is not mark:
                cline, ccol = _at(exc.context_mark)
                if (cline, ccol) != (line, column):
                    ctx += f" that starts at line {cline}, column {ccol}"
            problem = f"{problem} ({ctx})"
        lines = text.split("\n", line)
        here = lines[line - 1] if len(lines) >= line else ""
        if "\t" in here[: column + 1]:
            problem += "; tabs cannot indent YAML, use spaces"
        return _fail(source, line, column, f"YAML syntax error: {problem}")
    return _fail(source, 1, 1, f"YAML error: {exc}")


def load_yaml(source: str, raw: bytes) -> Document:
    """Read one YAML document from `raw`, or raise SpecError naming the position."""
    text = decode(source, raw)
    builder = _Builder(source)
    loader = _Loader(text)
    try:
        while loader.check_event():
            builder.feed(loader.get_event())
    except yaml.YAMLError as exc:
        raise _syntax_error(source, text, exc) from None
    finally:
        loader.dispose()
    if builder.documents == 0:
        raise _fail(source, 1, 1, "the file is empty; expected a Stack (apiVersion: stackop/v1)")
    return Document(source, builder.root, builder.positions(), builder.issues, builder.flagged)
