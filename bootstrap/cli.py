"""`stack-bootstrap`: set up the operator in an AWS account, once; safe to run again.

Every step reads first and writes only what differs, so a second run changes nothing
and says so. --dry-run makes the reads and prints every write it would make instead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bootstrap.bucket import ensure_bucket
from bootstrap.changes import Changes
from bootstrap.config import BootstrapConfig, partition_of
from bootstrap.events import ensure_events
from bootstrap.roles import ensure_roles
from bootstrap.runtime import (
    METRICS_PORT,
    ensure_cluster,
    ensure_log_group,
    ensure_repository,
    operator_network,
)
from bootstrap.site import Site
from bootstrap.specs import spec_files, upload_specs, validate_specs
from bootstrap.task import ensure_service, ensure_task_definition
from controller.aws import AwsClients


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"STACKOP_{name}", default)


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stack-bootstrap", description=__doc__)
    p.add_argument("--bucket", default=_env("BUCKET"), help="spec bucket; env STACKOP_BUCKET")
    p.add_argument("--prefix", default=_env("PREFIX", "specs/"), help="spec key prefix")
    p.add_argument(
        "--region", default=_env("REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    )
    p.add_argument(
        "--endpoint-url", default=_env("ENDPOINT_URL"), help="emulator endpoint (moto, LocalStack)"
    )
    p.add_argument(
        "--name", default="stackop", help="name of the operator's roles, cluster, service, …"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print every write call instead of making it"
    )
    p.add_argument(
        "--events",
        action="store_true",
        help="SQS queue notified of spec changes and of CloudTrail change events "
        "(EventBridge rule); the operator then resyncs every 5 min",
    )
    p.add_argument(
        "--image", help="operator image (default: the ECR repository, package version tag)"
    )
    p.add_argument(
        "--subnets", type=_csv, default=(), help="comma-separated (default: default VPC)"
    )
    p.add_argument(
        "--security-groups",
        type=_csv,
        default=(),
        help="comma-separated (default: one made for it)",
    )
    p.add_argument(
        "--no-public-ip", action="store_true", help="subnets reach AWS through NAT/endpoints"
    )
    p.add_argument(
        "--tls-only",
        choices=("auto", "on", "off"),
        default="auto",
        help="bucket policy denying non-TLS access (auto: on unless the endpoint is http://)",
    )
    p.add_argument("--desired-count", type=int, default=1)
    p.add_argument("--specs-dir", type=Path, default=Path("specs"), help="specs/*.yaml to upload")
    return p


def config_from(args: argparse.Namespace) -> BootstrapConfig:
    return BootstrapConfig(
        bucket=args.bucket,
        prefix=args.prefix,
        name=args.name,
        region=args.region,
        endpoint_url=args.endpoint_url,
        dry_run=args.dry_run,
        events=args.events,
        image=args.image,
        subnets=args.subnets,
        security_groups=args.security_groups,
        assign_public_ip=not args.no_public_ip,
        desired_count=args.desired_count,
        specs_dir=args.specs_dir,
        tls_only=args.tls_only,
    )


async def bootstrap(cfg: BootstrapConfig, files: list[Path]) -> int:
    """Every step in order; returns the number of write calls made (or that would be)."""
    # a one-shot command: an unreachable endpoint fails in seconds, not after ~30 s of retries
    async with AwsClients(
        cfg.region, cfg.endpoint_url, max_attempts=3, connect_timeout=3.0
    ) as clients:
        ch = Changes(clients, dry_run=cfg.dry_run)
        identity = await ch.read("sts", "get_caller_identity")
        site = Site(cfg, ch, account=identity["Account"], partition=partition_of(cfg.region))
        mode = " [dry run: no write call is made]" if cfg.dry_run else ""
        ch.say(f"stack-bootstrap {cfg.name}: account {site.account}, region {cfg.region}{mode}")
        await ensure_bucket(site)
        if cfg.events:
            await ensure_events(site)
        await upload_specs(site, files)
        await ensure_roles(site)
        await ensure_log_group(site)
        await ensure_repository(site)
        await ensure_cluster(site)
        subnets, groups = await operator_network(site)
        task_arn = await ensure_task_definition(site)
        await ensure_service(site, task_arn, subnets, groups)
        count = len(ch.made)
        if cfg.dry_run:
            ch.say(f"\nDry run: {count} write call(s) would be made; nothing was changed.")
        elif count:
            ch.say(f"\n{count} change(s) made.")
        else:
            ch.say("\nNo changes: everything was already in place.")
        if not cfg.dry_run:
            _next_steps(site)
        return count


def _next_steps(site: Site) -> None:
    cfg, say = site.cfg, site.ch.say
    image = site.image
    say("\nNext steps:")
    say(f"  1. build and push the operator image: docker build -t {image} . && docker push {image}")
    say(f"     (the service {cfg.service} in cluster {cfg.cluster} starts once the image exists)")
    stackop = f"stackop --bucket {cfg.bucket}"
    if cfg.endpoint_url:
        stackop += f" --endpoint-url {cfg.endpoint_url}"
    say(f"  2. push a spec:  {stackop} push specs/portal.yaml")
    say(f"  3. watch it:     {stackop} status")
    say(f"     the operator serves :{METRICS_PORT}/metrics, /healthz and /status")
    say("  4. Grafana: import dashboards/stackop-drift.json")
    say("     Prometheus: load dashboards/alerts.yml (rule_files)")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.bucket:
        print("stack-bootstrap: --bucket (or STACKOP_BUCKET) is required", file=sys.stderr)
        return 2
    cfg = config_from(args)
    files = spec_files(cfg.specs_dir)
    errors = validate_specs(files)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        print("stack-bootstrap: invalid spec(s); nothing was changed", file=sys.stderr)
        return 1
    try:
        asyncio.run(bootstrap(cfg, files))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from controller.usererrors import Target, explain

        known = explain(exc, Target(cfg.endpoint_url, cfg.region, cfg.bucket))
        print(f"stack-bootstrap: error: {known or f'{type(exc).__name__}: {exc}'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
