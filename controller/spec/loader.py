"""Turn spec bytes into a validated StackSpec, or a SpecError naming file:line:col: field."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path as FsPath

from pydantic import ValidationError

from controller.spec.checks import run_checks
from controller.spec.errors import SpecError, SpecIssue
from controller.spec.messages import describe
from controller.spec.model import StackSpec
from controller.spec.yamlsafe import MAX_BYTES, Document, Path, load_yaml


@dataclass(frozen=True)
class LoadedSpec:
    spec: StackSpec
    source: str
    version: str
    """Content hash (or the S3 VersionId when loaded from the bucket)."""

    @property
    def name(self) -> str:
        return self.spec.metadata.name


def content_version(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:12]


def _pydantic_issues(doc: Document, exc: ValidationError) -> list[SpecIssue]:
    issues = []
    for err in exc.errors():
        loc: Path = tuple(p for p in err["loc"] if isinstance(p, str | int))
        is_key = bool(loc) and loc[-1] == "[key]"
        if is_key:
            loc = loc[:-1]
        if doc.is_flagged(loc):
            continue  # already reported while reading the YAML
        issues.append(doc.issue(loc, describe(err, loc, is_key)))
    return issues


def load_spec(source: str, raw: bytes, version: str | None = None) -> LoadedSpec:
    """Validate `raw` completely; raise SpecError with every issue found."""
    doc = load_yaml(source, raw)
    if not isinstance(doc.data, dict) and not doc.is_flagged(()):
        got = "empty (null)" if doc.data is None else f"a {type(doc.data).__name__}"
        top = "a mapping with apiVersion: stackop/v1, kind: Stack, metadata and spec"
        raise SpecError([*doc.issues, doc.issue((), f"the document is {got}; expected {top}")])
    issues = list(doc.issues)
    try:
        spec = StackSpec.model_validate(doc.data)
    except ValidationError as exc:
        raise SpecError(issues + _pydantic_issues(doc, exc)) from None
    findings = run_checks(spec)
    issues += [doc.issue(path, msg) for path, msg in findings if not doc.is_flagged(path)]
    if issues:
        raise SpecError(issues)
    return LoadedSpec(spec, source, version or content_version(raw))


def load_spec_file(path: str | FsPath) -> LoadedSpec:
    """Read at most MAX_BYTES + 1 bytes (st_size lies for pipes and devices), then validate."""
    p = FsPath(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SpecError([SpecIssue(str(p), 0, 0, "", f"cannot read: {exc.strerror}")]) from None
    if len(raw) > MAX_BYTES:
        size = p.stat().st_size if p.is_file() else 0
        shown = f"{size} bytes" if size > MAX_BYTES else f"over {MAX_BYTES} bytes"
        raise SpecError([SpecIssue(str(p), 1, 1, "", f"file is {shown}; the limit is 1 MiB")])
    return load_spec(str(p), raw)
