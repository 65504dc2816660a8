"""Turn spec bytes into a validated StackSpec, or a SpecError naming file:line:col: field."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from pydantic import ValidationError

from controller.spec.checks import run_checks
from controller.spec.errors import SpecError, SpecIssue
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


def _describe_error(err: Any) -> str:
    kind = err["type"]
    msg = str(err["msg"])
    if kind == "extra_forbidden":
        return "unknown field (check the spelling; see `stackop schema`)"
    if kind == "missing":
        return "required field is missing"
    if kind == "literal_error":
        return msg.replace("Input should be", "must be")
    got = err.get("input")
    shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{msg[0].lower()}{msg[1:]} (got {shown})"


def _pydantic_issues(doc: Document, exc: ValidationError) -> list[SpecIssue]:
    issues = []
    for err in exc.errors():
        path: Path = tuple(p for p in err["loc"] if isinstance(p, str | int))
        issues.append(doc.issue(path, _describe_error(err)))
    return issues


def load_spec(source: str, raw: bytes, version: str | None = None) -> LoadedSpec:
    """Validate `raw` completely; raise SpecError with every issue found."""
    doc = load_yaml(source, raw)
    if not isinstance(doc.data, dict):
        raise SpecError([doc.issue((), "expected a mapping with apiVersion, kind, metadata, spec")])
    try:
        spec = StackSpec.model_validate(doc.data)
    except ValidationError as exc:
        raise SpecError(_pydantic_issues(doc, exc)) from None
    findings = run_checks(spec)
    if findings:
        raise SpecError([doc.issue(path, message) for path, message in findings])
    return LoadedSpec(spec, source, version or content_version(raw))


def load_spec_file(path: str | FsPath) -> LoadedSpec:
    p = FsPath(path)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise SpecError(
                [
                    SpecIssue(
                        str(p), 1, 1, "", f"file is {size} bytes; the limit is {MAX_BYTES} (1 MiB)"
                    )
                ]
            )
        raw = p.read_bytes()
    except OSError as exc:
        raise SpecError([SpecIssue(str(p), 0, 0, "", f"cannot read: {exc.strerror}")]) from None
    return load_spec(str(p), raw)
