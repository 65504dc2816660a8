"""The spec bucket: versioned, encrypted, private, TLS-only, old status/lease versions expire."""

from __future__ import annotations

from typing import Any

from bootstrap.compare import as_json, covers
from bootstrap.policy import LEASES, STATUS, bucket_policy
from bootstrap.site import Site

ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
PUBLIC_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def lifecycle_rules(days: int) -> list[dict[str, Any]]:
    """Status and leases are rewritten constantly: keep their old versions `days` only."""
    return [
        {
            "ID": f"expire-old-{prefix.rstrip('/')}-versions",
            "Filter": {"Prefix": prefix},
            "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": days},
        }
        for prefix in (LEASES, STATUS)
    ]


async def ensure_bucket(site: Site) -> None:
    cfg, ch = site.cfg, site.ch
    b = cfg.bucket
    ch.say(f"spec bucket s3://{b}")
    exists = await ch.read("s3", "head_bucket", Bucket=b) is not None
    if not exists:
        create: dict[str, Any] = {"Bucket": b}
        if cfg.region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": cfg.region}
        await ch.call("s3", "create_bucket", "bucket missing", **create)
        tags = [{"Key": k, "Value": v} for k, v in cfg.tags().items()]
        await ch.call("s3", "put_bucket_tagging", "tag it", Bucket=b, Tagging={"TagSet": tags})

    async def live(op: str) -> Any:
        return await ch.read("s3", op, Bucket=b) if exists else None

    versioning = await live("get_bucket_versioning")
    if (versioning or {}).get("Status") != "Enabled":
        await ch.call(
            "s3",
            "put_bucket_versioning",
            "versioning off",
            Bucket=b,
            VersioningConfiguration={"Status": "Enabled"},
        )
    encryption = await live("get_bucket_encryption")
    if not covers((encryption or {}).get("ServerSideEncryptionConfiguration"), ENCRYPTION):
        await ch.call(
            "s3",
            "put_bucket_encryption",
            "default encryption missing",
            Bucket=b,
            ServerSideEncryptionConfiguration=ENCRYPTION,
        )
    block = await live("get_public_access_block")
    if not covers((block or {}).get("PublicAccessBlockConfiguration"), PUBLIC_BLOCK):
        await ch.call(
            "s3",
            "put_public_access_block",
            "public access not blocked",
            Bucket=b,
            PublicAccessBlockConfiguration=PUBLIC_BLOCK,
        )
    await _ensure_policy(site, exists)
    rules = lifecycle_rules(cfg.noncurrent_days)
    lifecycle = await live("get_bucket_lifecycle_configuration")
    live_rules = sorted((lifecycle or {}).get("Rules", []), key=lambda r: str(r.get("ID")))
    if not covers(live_rules, rules):
        await ch.call(
            "s3",
            "put_bucket_lifecycle_configuration",
            "lifecycle rules missing or different",
            Bucket=b,
            LifecycleConfiguration={"Rules": rules},
        )


async def _ensure_policy(site: Site, exists: bool) -> None:
    cfg, ch = site.cfg, site.ch
    if not cfg.enforce_tls:
        # An emulator on plain HTTP cannot satisfy aws:SecureTransport (moto enforces it,
        # so every object read would be denied): AWS endpoints are always HTTPS.
        ch.say("  TLS-only policy skipped: the endpoint is plain HTTP (--tls-only on forces it)")
        return
    want = bucket_policy(site.target)
    policy = await ch.read("s3", "get_bucket_policy", Bucket=cfg.bucket) if exists else None
    if as_json((policy or {}).get("Policy")) != want:
        await ch.call(
            "s3",
            "put_bucket_policy",
            "TLS-only policy missing or different",
            Bucket=cfg.bucket,
            Policy=_dumps(want),
        )


def _dumps(doc: Any) -> str:
    import json

    return json.dumps(doc, sort_keys=True)
