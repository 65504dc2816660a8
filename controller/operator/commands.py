"""`stackop run`, `push` and `status`: argument wiring kept out of controller/cli.py."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from controller.spec import SpecError, load_spec_file


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"STACKOP_{name}", default)


def _float_env(name: str, default: float) -> float:
    return float(_env(name) or default)


def add_commands(sub: Any) -> None:
    """Register run / push / status on the CLI's subparsers."""
    p = sub.add_parser("run", help="the operator: watch specs in S3 and reconcile continuously")
    _prefix(p)
    p.add_argument("--queue-url", default=_env("QUEUE_URL"), help="SQS queue of S3 events")
    p.add_argument("--resync", type=float, default=_float_env("RESYNC", 30.0), help="seconds")
    p.add_argument("--poll", type=float, default=_float_env("POLL", 10.0), help="seconds")
    p.add_argument("--port", type=int, default=int(_env("PORT") or 9100))
    p.add_argument("--lease-seconds", type=float, default=_float_env("LEASE_SECONDS", 30.0))
    p.add_argument("--identity", default=_env("IDENTITY"), help="lease holder name")
    p.add_argument(
        "--scaling-interval",
        type=float,
        default=_float_env("SCALING_INTERVAL", 60.0),
        help="seconds between target health / CloudWatch reads",
    )
    p = sub.add_parser("push", help="validate a spec and upload it to the spec bucket")
    _prefix(p)
    p.add_argument("file")
    p.add_argument(
        "--replace-key",
        action="store_true",
        help="when another spec object defines the same stack: upload this file, then "
        "delete the other object(s) (the stack moves to this key; nothing in AWS changes)",
    )
    p = sub.add_parser("status", help="print the stacks' status objects from the bucket")
    _prefix(p)
    p.add_argument("stack", nargs="?")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("history", help="print a stack's drift history (who changed what, when)")
    p.add_argument("stack")
    p.add_argument("--json", action="store_true")


def _prefix(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--prefix", default=_env("PREFIX", "specs/"), help="spec prefix; env STACKOP_PREFIX"
    )


def _need_bucket(args: argparse.Namespace) -> str | None:
    if not args.bucket:
        print("error: --bucket (or STACKOP_BUCKET) is required", file=sys.stderr)
    return str(args.bucket) if args.bucket else None


def cmd_run(args: argparse.Namespace) -> int:
    from controller.operator import OperatorConfig, run_operator
    from controller.operator.config import default_identity

    bucket = _need_bucket(args)
    if bucket is None:
        return 1
    config = OperatorConfig(
        bucket=bucket,
        prefix=args.prefix,
        region=args.region,
        endpoint_url=args.endpoint_url,
        queue_url=args.queue_url or None,
        resync=args.resync,
        poll=args.poll,
        port=args.port,
        lease_seconds=args.lease_seconds,
        identity=args.identity or default_identity(),
        scaling_interval=args.scaling_interval,
    )
    return run_operator(config)


def cmd_push(args: argparse.Namespace) -> int:
    bucket = _need_bucket(args)
    if bucket is None:
        return 1
    try:
        loaded = load_spec_file(args.file)
    except SpecError as exc:
        print(exc, file=sys.stderr)  # the same message as `stackop validate`
        return 1
    prefix = args.prefix.strip("/")
    key = f"{prefix}/{Path(args.file).name}" if prefix else Path(args.file).name
    raw = Path(args.file).read_bytes()

    async def upload() -> tuple[dict[str, Any] | None, list[str]]:
        from controller.aws import AwsClients
        from controller.operator.push import keys_defining

        async with AwsClients(args.region, args.endpoint_url) as clients:
            spec_prefix = f"{prefix}/" if prefix else ""
            others = await keys_defining(clients, bucket, spec_prefix, loaded.name, key)
            if others and not args.replace_key:
                return None, others
            s3 = await clients.client("s3")
            reply: dict[str, Any] = await s3.put_object(
                Bucket=bucket, Key=key, Body=raw, ContentType="application/yaml"
            )
            # after the upload: meanwhile the operator sees a conflict and keeps the
            # stack's last applied spec; deleting first would orphan the stack
            for other in others:
                await s3.delete_object(Bucket=bucket, Key=other)
            return reply, others

    reply, others = asyncio.run(upload())
    if reply is None:
        where = ", ".join(f"s3://{bucket}/{k}" for k in others)
        print(
            f"error: stack {loaded.name} is already defined by {where}; a second object "
            f"would be a conflict (neither applied). Push to that key, or pass --replace-key "
            f"to upload s3://{bucket}/{key} and delete {', '.join(others)}",
            file=sys.stderr,
        )
        return 1
    version = reply.get("VersionId") or loaded.version
    print(f"pushed {args.file} to s3://{bucket}/{key} (stack {loaded.name}, version {version})")
    for other in others:
        print(f"deleted s3://{bucket}/{other} (it defined stack {loaded.name} too)")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from controller.operator.status import STATUS_PREFIX, render_table, status_key

    bucket = _need_bucket(args)
    if bucket is None:
        return 1

    async def fetch() -> list[dict[str, Any]]:
        from controller.aws import AwsClients, is_not_found

        async with AwsClients(args.region, args.endpoint_url) as clients:
            s3 = await clients.client("s3")
            if args.stack:
                keys = [status_key(args.stack)]
            else:
                keys = []
                paginator = s3.get_paginator("list_objects_v2")
                async for page in paginator.paginate(Bucket=bucket, Prefix=STATUS_PREFIX):
                    keys += [o["Key"] for o in page.get("Contents", [])]
            docs = []
            for key in sorted(keys):
                try:
                    obj = await s3.get_object(Bucket=bucket, Key=key)
                except Exception as exc:
                    if is_not_found(exc):
                        continue
                    raise
                async with obj["Body"] as body:
                    docs.append(json.loads(await body.read()))
            return docs

    docs = asyncio.run(fetch())
    if args.stack and not docs:
        print(f"no status for stack {args.stack} in s3://{bucket}/{STATUS_PREFIX}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(docs, indent=2))
    else:
        print(render_table(docs) if docs else "no stacks have reported status yet")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from controller.operator.history import cmd_history as history

    return history(args)


COMMANDS = {"run": cmd_run, "push": cmd_push, "status": cmd_status, "history": cmd_history}
