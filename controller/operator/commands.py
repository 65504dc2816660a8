"""`stackop run`, `push` and `status`: argument wiring kept out of controller/cli.py."""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import socket
import sys
from pathlib import Path
from typing import Any

from controller.cliopts import DEFAULT_REGION, env, env_option, port, seconds
from controller.spec import SpecError, load_spec_file
from controller.usererrors import Target, UsageError, UserError, explain, listen_error

CLI_CLIENT_SETTINGS: dict[str, Any] = {"max_attempts": 2, "connect_timeout": 3.0}
"""One-shot commands fail within seconds when the endpoint is down, not after ~33 s."""


def add_commands(sub: Any) -> None:
    """Register run / push / status on the CLI's subparsers."""
    p = sub.add_parser("run", help="the operator: watch specs in S3 and reconcile continuously")
    _prefix(p)
    p.add_argument(
        "--queue-url",
        default=env("QUEUE_URL"),
        help="SQS queue of S3 events; env STACKOP_QUEUE_URL (default: poll only)",
    )
    env_option(p, "--resync", "RESYNC", seconds, 30.0, "seconds between full reconciles")
    env_option(p, "--poll", "POLL", seconds, 10.0, "seconds between spec listings")
    env_option(p, "--port", "PORT", port, 9100, "HTTP port of /metrics, /healthz, /status")
    p.add_argument(
        "--host",
        default=env("HOST") or "0.0.0.0",
        help="address the HTTP port listens on; env STACKOP_HOST (default: 0.0.0.0)",
    )
    env_option(p, "--lease-seconds", "LEASE_SECONDS", seconds, 30.0, "stack lease period")
    p.add_argument(
        "--identity",
        default=env("IDENTITY"),
        help="lease holder name; env STACKOP_IDENTITY (default: host-pid-random)",
    )
    env_option(
        p,
        "--scaling-interval",
        "SCALING_INTERVAL",
        seconds,
        60.0,
        "seconds between target health / CloudWatch reads",
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
        "--prefix",
        default=env("PREFIX") or "specs/",
        help="spec prefix; env STACKOP_PREFIX (default: specs/)",
    )


def _need_bucket(args: argparse.Namespace) -> str:
    if not args.bucket:
        raise UsageError("no spec bucket: pass --bucket BUCKET or set STACKOP_BUCKET")
    return str(args.bucket)


def _cli_clients(args: argparse.Namespace) -> Any:
    from controller.aws import AwsClients

    return AwsClients(args.region, args.endpoint_url, **CLI_CLIENT_SETTINGS)


def check_listen(host: str, port: int) -> None:
    """Fail now, in one line, when the HTTP port cannot be bound (as aiohttp binds it)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        raise UserError(listen_error(exc, host, port)) from None


async def check_bucket(args: argparse.Namespace, bucket: str, prefix: str) -> None:
    """One fast listing of the spec prefix: credentials, endpoint and bucket, before the
    operator starts (it would otherwise retry them forever, in JSON logs)."""
    async with _cli_clients(args) as clients:
        s3 = await clients.client("s3")
        await s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)


def cmd_run(args: argparse.Namespace) -> int:
    from controller.operator import OperatorConfig, run_operator
    from controller.operator.config import default_identity

    bucket = _need_bucket(args)
    config = OperatorConfig(
        bucket=bucket,
        prefix=args.prefix,
        region=args.region,
        endpoint_url=args.endpoint_url,
        queue_url=args.queue_url or None,
        resync=args.resync,
        poll=args.poll,
        port=args.port,
        host=args.host,
        lease_seconds=args.lease_seconds,
        identity=args.identity or default_identity(),
        scaling_interval=args.scaling_interval,
    )
    check_listen(config.host, config.port)
    try:
        asyncio.run(check_bucket(args, bucket, config.norm_prefix))
    except Exception as exc:
        target = Target(args.endpoint_url, args.region or DEFAULT_REGION, bucket)
        if explain(exc, target) is not None:
            raise  # the user's to fix: main says so in one line
        # throttled or a 5xx: transient, the operator retries it like any other call
    try:
        return run_operator(config)
    except OSError as exc:  # the port was taken between the check and the bind
        if exc.errno != errno.EADDRINUSE:
            raise
        raise UserError(listen_error(exc, config.host, config.port)) from None


def cmd_push(args: argparse.Namespace) -> int:
    bucket = _need_bucket(args)
    try:
        loaded = load_spec_file(args.file)
    except SpecError as exc:
        print(exc, file=sys.stderr)  # the same message as `stackop validate`
        return 1
    prefix = args.prefix.strip("/")
    key = f"{prefix}/{Path(args.file).name}" if prefix else Path(args.file).name
    raw = Path(args.file).read_bytes()

    async def upload() -> tuple[dict[str, Any] | None, list[str]]:
        from controller.operator.push import keys_defining

        async with _cli_clients(args) as clients:
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

    async def fetch() -> list[dict[str, Any]]:
        from controller.aws import is_not_found

        async with _cli_clients(args) as clients:
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
    """Print a stack's drift history from status/<stack>.json in the spec bucket."""
    from controller.operator.history import DriftHistory, render
    from controller.operator.status import status_key

    bucket = _need_bucket(args)

    async def read() -> Any:
        from controller.aws import error_code, is_not_found

        async with _cli_clients(args) as clients:
            s3 = await clients.client("s3")
            try:
                obj = await s3.get_object(Bucket=bucket, Key=status_key(args.stack))
            except Exception as exc:
                if is_not_found(exc) and error_code(exc) != "NoSuchBucket":
                    return None
                raise
            async with obj["Body"] as body:
                return json.loads(await body.read())

    doc = asyncio.run(read())
    if doc is None:
        print(f"error: no status for stack {args.stack} in s3://{bucket}", file=sys.stderr)
        return 1
    history = DriftHistory.from_json(args.stack, doc.get("driftHistory"))
    if args.json:
        print(json.dumps(history.to_json(), indent=2))
    else:
        print(render(args.stack, list(history.records)))
    return 0


COMMANDS = {"run": cmd_run, "push": cmd_push, "status": cmd_status, "history": cmd_history}
