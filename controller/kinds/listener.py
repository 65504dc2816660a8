"""Load balancer listener: HTTP (forward or redirect to HTTPS) and HTTPS with a certificate.

Listeners are read per load balancer (one DescribeListeners per load balancer the
desired listeners name), so the observe cost grows with load balancers, not listeners.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controller.engine import Delta, Kind, KindContext, Observed, Resolved
from controller.kinds.elbv2_common import (
    TREE_ACTIONS,
    action_from_aws,
    action_to_aws,
    owned_from,
    owned_items,
    parent_arns,
    read_listeners,
    stack_tree,
    sync_elb_tags,
)
from controller.kinds.tags_common import (
    desired_tags,
    ignore_not_found,
    live_tags,
    params_by_id,
    tag_list,
)


class Listener(Kind):
    name = "listener"
    service = "elasticloadbalancing"
    iam_actions = (
        *TREE_ACTIONS,
        "elasticloadbalancing:CreateListener",
        "elasticloadbalancing:ModifyListener",
        "elasticloadbalancing:AddTags",
        "elasticloadbalancing:DeleteListener",
    )
    replace_fields = frozenset({"load_balancer_arn"})

    async def _owned(
        self, ctx: KindContext, lb_arns: Sequence[str]
    ) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
        return await owned_items(ctx, await read_listeners(ctx, lb_arns), "ListenerArn")

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        params = params_by_id(desired)
        tree = await stack_tree(ctx)
        owned = owned_from(ctx, tree.listeners, "ListenerArn", tree.tags)
        read = {li["LoadBalancerArn"] for li in tree.listeners} | {
            lb["LoadBalancerArn"] for lb in tree.load_balancers
        }
        others = [arn for arn in parent_arns(desired, "load_balancer_arn") if arn not in read]
        if others:  # desired parents outside the stack's name prefix
            owned = {**await self._owned(ctx, others), **owned}
        return {
            lid: self._observed(ctx, lid, li, tags, params.get(lid))
            for lid, (li, tags) in owned.items()
        }

    def _observed(
        self,
        ctx: KindContext,
        logical_id: str,
        li: Mapping[str, Any],
        tags: Mapping[str, str],
        params: Mapping[str, Any] | None = None,
    ) -> Observed:
        arn = li["ListenerArn"]
        https = li.get("Protocol") == "HTTPS"
        certs = li.get("Certificates") or []
        return Observed(
            logical_id=logical_id,
            physical_id=arn,
            fields={
                "load_balancer_arn": li["LoadBalancerArn"],
                "port": li.get("Port"),
                "protocol": li.get("Protocol"),
                "certificate_arn": certs[0]["CertificateArn"] if https and certs else None,
                "ssl_policy": li.get("SslPolicy") if https else None,
                "default_action": action_from_aws(li.get("DefaultActions", [])),
                "tags": live_tags(ctx, self.name, logical_id, tags, params),
            },
            outputs={"arn": arn, "id": arn},
        )

    @staticmethod
    def _args(p: Mapping[str, Any]) -> dict[str, Any]:
        args: dict[str, Any] = {
            "Port": p["port"],
            "Protocol": p["protocol"],
            "DefaultActions": [action_to_aws(p["default_action"])],
        }
        if p["protocol"] == "HTTPS":
            args["Certificates"] = [{"CertificateArn": p["certificate_arn"]}]
            args["SslPolicy"] = p["ssl_policy"]
        return args

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        p = desired.params
        existing = (await self._owned(ctx, [p["load_balancer_arn"]])).get(desired.logical_id)
        if existing is not None:
            return self._observed(ctx, desired.logical_id, *existing, desired.params)
        elb = await ctx.client("elbv2")
        (li,) = (
            await elb.create_listener(
                LoadBalancerArn=p["load_balancer_arn"],
                Tags=tag_list(desired_tags(ctx, self.name, desired.logical_id, desired.params)),
                **self._args(p),
            )
        )["Listeners"]
        return self._observed(
            ctx,
            desired.logical_id,
            li,
            desired_tags(ctx, self.name, desired.logical_id, desired.params),
            desired.params,
        )

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        elb = await ctx.client("elbv2")
        arn = observed.physical_id
        if [path for path in delta.paths if not path.startswith("tags")]:
            await elb.modify_listener(ListenerArn=arn, **self._args(desired.params))
        if delta.changed("tags"):
            await sync_elb_tags(
                ctx, arn, desired_tags(ctx, self.name, desired.logical_id, desired.params)
            )
        (li,) = (await elb.describe_listeners(ListenerArns=[arn]))["Listeners"]
        return self._observed(
            ctx,
            desired.logical_id,
            li,
            desired_tags(ctx, self.name, desired.logical_id, desired.params),
            desired.params,
        )

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        elb = await ctx.client("elbv2")
        await ignore_not_found(elb.delete_listener(ListenerArn=observed.physical_id))
