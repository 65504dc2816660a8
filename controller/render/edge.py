"""spec.loadBalancer / frontend / cdn -> ALB, target groups, listeners and rules; the
private frontend bucket and its policy; the CloudFront origin access control and
distribution."""

from __future__ import annotations

import zlib
from typing import Any

from controller.engine import DesiredResource, Ref
from controller.render.common import resource_tags
from controller.render.network import security_group_id, subnet_ids
from controller.spec.model import HealthCheck, Service, StackSpec
from controller.spec.naming import bucket_name, short_name, single_hyphen_joined

SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
MAX_PRIORITY = 50000


def routed_services(spec: StackSpec) -> list[Service]:
    """Services that get a target group: those with routing, and the default service."""
    default = spec.spec.load_balancer.default_service
    return [s for s in spec.spec.services if s.routing is not None or s.name == default]


def rule_priorities(spec: StackSpec) -> dict[str, int]:
    """A stable priority per routed service, independent of the order of services.

    Explicit priorities are kept. Others are banded by how specific their most
    specific path is (longer literal prefix = evaluated earlier) plus a hash of the
    name, so adding, removing or reordering services does not move other rules.
    """
    routed = [s for s in spec.spec.services if s.routing is not None]
    taken = {s.routing.priority for s in routed if s.routing and s.routing.priority}
    out = {s.name: s.routing.priority for s in routed if s.routing and s.routing.priority}
    for svc in sorted(routed, key=lambda s: s.name):
        if svc.name in out or svc.routing is None:
            continue
        literal = max(len(p.split("*", 1)[0]) for p in svc.routing.paths)
        band = 40 - min(literal, 39)
        priority = band * 1000 + zlib.crc32(svc.name.encode()) % 1000
        while priority in taken:
            priority = priority % MAX_PRIORITY + 1
        taken.add(priority)
        out[svc.name] = priority
    return out


def _health_check(spec: StackSpec, svc: Service) -> dict[str, Any]:
    hc: HealthCheck = svc.health_check or spec.spec.service_defaults.health_check
    return {
        "path": hc.path,
        "protocol": "HTTP",
        "interval": hc.interval,
        "timeout": hc.timeout,
        "healthy_threshold": hc.healthy_threshold,
        "unhealthy_threshold": hc.unhealthy_threshold,
        "matcher": hc.matcher,
    }


def target_group_name(stack: str, service: str) -> str:
    return single_hyphen_joined(stack, service, limit=32)


def render_load_balancer(spec: StackSpec) -> list[DesiredResource]:
    lb = spec.spec.load_balancer
    if not lb.enabled:
        return []
    stack = spec.metadata.name
    out = [
        DesiredResource(
            "load_balancer",
            "main",
            {
                "name": short_name(stack, "alb", limit=32),
                "scheme": "internet-facing",
                "subnet_ids": subnet_ids(spec, "public"),
                "security_group_ids": [security_group_id("alb")],
                "idle_timeout": lb.idle_timeout,
                "tags": resource_tags(spec, "alb"),
            },
        )
    ]
    for svc in routed_services(spec):
        out.append(
            DesiredResource(
                "target_group",
                svc.name,
                {
                    "name": target_group_name(stack, svc.name),
                    "port": svc.port,
                    "protocol": "HTTP",
                    "target_type": "ip",
                    "vpc_id": Ref("vpc", "main"),
                    "health_check": _health_check(spec, svc),
                    "deregistration_delay": spec.spec.service_defaults.deregistration_delay,
                    "tags": resource_tags(spec, svc.name),
                },
            )
        )
    out += _listeners(spec)
    return out


def _listeners(spec: StackSpec) -> list[DesiredResource]:
    lb = spec.spec.load_balancer
    lb_arn = Ref("load_balancer", "main", "arn")
    routed = {s.name for s in routed_services(spec)}
    default: dict[str, Any] = {"type": "fixed-response", "status_code": "404"}
    if lb.default_service in routed:
        default = {
            "type": "forward",
            "target_group_arn": Ref("target_group", str(lb.default_service), "arn"),
        }
    https = lb.certificate_arn is not None
    listeners = [
        DesiredResource(
            "listener",
            "http",
            {
                "load_balancer_arn": lb_arn,
                "port": 80,
                "protocol": "HTTP",
                "certificate_arn": None,
                "ssl_policy": None,
                "default_action": {"type": "redirect-https"} if https else default,
                "tags": resource_tags(spec, "http"),
            },
        )
    ]
    if https:
        listeners.append(
            DesiredResource(
                "listener",
                "https",
                {
                    "load_balancer_arn": lb_arn,
                    "port": 443,
                    "protocol": "HTTPS",
                    "certificate_arn": lb.certificate_arn,
                    "ssl_policy": SSL_POLICY,
                    "default_action": default,
                    "tags": resource_tags(spec, "https"),
                },
            )
        )
    rule_listener = Ref("listener", "https" if https else "http", "arn")
    priorities = rule_priorities(spec)
    rules = [
        DesiredResource(
            "listener_rule",
            svc.name,
            {
                "listener_arn": rule_listener,
                "priority": priorities[svc.name],
                "paths": list(svc.routing.paths),
                "target_group_arn": Ref("target_group", svc.name, "arn"),
                "tags": resource_tags(spec, svc.name),
            },
        )
        for svc in spec.spec.services
        if svc.routing is not None
    ]
    return listeners + rules


def render_frontend(spec: StackSpec) -> list[DesiredResource]:
    if not spec.spec.frontend.enabled:
        return []
    bucket_arn = Ref("frontend_bucket", "main", "arn")
    statements: list[dict[str, Any]] = [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, _objects(bucket_arn)],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    if _cdn_enabled(spec):
        statements.append(
            {
                "Sid": "AllowCloudFrontRead",
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": "s3:GetObject",
                "Resource": _objects(bucket_arn),
                "Condition": {
                    "StringEquals": {
                        # Only the ARN is needed: do not wait for the distribution to deploy.
                        "AWS:SourceArn": Ref("distribution", "main", "arn", wait_ready=False)
                    }
                },
            }
        )
    return [
        DesiredResource(
            "frontend_bucket",
            "main",
            {
                "name": bucket_name(spec.metadata.name),
                "versioning": spec.spec.frontend.versioning,
                "public_access_block": {
                    "block_public_acls": True,
                    "ignore_public_acls": True,
                    "block_public_policy": True,
                    "restrict_public_buckets": True,
                },
                "encryption": "AES256",
                "tags": resource_tags(spec, "frontend"),
            },
        ),
        DesiredResource(
            "bucket_policy",
            "frontend",
            {
                "bucket": Ref("frontend_bucket", "main", "name"),
                "policy": {"Version": "2012-10-17", "Statement": statements},
            },
        ),
    ]


def _objects(bucket_arn: Ref) -> Ref:
    """The ARN of every object in the bucket (`<bucket arn>/*`)."""
    return Ref(bucket_arn.kind, bucket_arn.logical_id, "objects_arn")


def _cdn_enabled(spec: StackSpec) -> bool:
    body = spec.spec
    return body.cdn.enabled and (body.frontend.enabled or body.load_balancer.enabled)


def render_cdn(spec: StackSpec) -> list[DesiredResource]:
    if not _cdn_enabled(spec):
        return []
    body = spec.spec
    cdn = body.cdn
    stack = spec.metadata.name
    origins: dict[str, Any] = {}
    out: list[DesiredResource] = []
    if body.frontend.enabled:
        out.append(
            DesiredResource(
                "origin_access_control",
                "main",
                {
                    "name": short_name(stack, "frontend", limit=64),
                    "origin_type": "s3",
                    "signing_behavior": "always",
                    "signing_protocol": "sigv4",
                },
            )
        )
        origins["frontend"] = {
            "type": "s3",
            "domain_name": Ref("frontend_bucket", "main", "domain_name"),
            "origin_access_control_id": Ref("origin_access_control", "main", "id"),
        }
    if body.load_balancer.enabled:
        origins["api"] = {
            "type": "custom",
            "domain_name": Ref("load_balancer", "main", "dns_name", wait_ready=False),
            "protocol_policy": "http-only",
        }
    api = (
        {
            "path_pattern": cdn.api_path_pattern,
            "origin": "api",
            "caching": "disabled",
            "methods": "all",
        }
        if "api" in origins and "frontend" in origins
        else None
    )
    out.append(
        DesiredResource(
            "distribution",
            "main",
            {
                "comment": cdn.comment,
                "default_root_object": cdn.default_root_object,
                "enabled": True,
                "price_class": cdn.price_class,
                "default_origin": "frontend" if "frontend" in origins else "api",
                "viewer_protocol_policy": "redirect-to-https",
                "min_ttl": cdn.min_ttl,
                "default_ttl": cdn.default_ttl,
                "max_ttl": cdn.max_ttl,
                "origins": origins,
                "api_behavior": api,
                "tags": resource_tags(spec, "cdn"),
            },
        )
    )
    return out
