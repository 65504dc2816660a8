"""Validate every spec first, then upload the ones whose content differs."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bootstrap.site import Site
from controller.spec import SpecError, load_spec_file

SHA_KEY = "sha256"


def spec_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if p.is_file())


def validate_specs(files: list[Path]) -> list[str]:
    """Every error found; empty if all are valid. Makes no AWS call."""
    errors = []
    for path in files:
        try:
            load_spec_file(path)
        except SpecError as exc:
            errors.append(str(exc))
    return errors


async def upload_specs(site: Site, files: list[Path]) -> None:
    cfg, ch = site.cfg, site.ch
    ch.say(f"specs -> s3://{cfg.bucket}/{cfg.norm_prefix}")
    for path in files:
        body = path.read_bytes()
        digest = hashlib.sha256(body).hexdigest()
        key = f"{cfg.norm_prefix}{path.name}"
        head = await ch.read("s3", "head_object", Bucket=cfg.bucket, Key=key)
        if head is not None and head.get("Metadata", {}).get(SHA_KEY) == digest:
            continue
        await ch.call(
            "s3",
            "put_object",
            f"{path.name} {'changed' if head else 'new'}",
            Bucket=cfg.bucket,
            Key=key,
            Body=body,
            ContentType="application/yaml",
            Metadata={SHA_KEY: digest},
        )
