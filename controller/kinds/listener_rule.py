"""Listener rule per routed service: path patterns forwarded to the service's target group.

Rules are read per listener (one DescribeRules per listener the desired rules name) and
their tags in batches of 20; the listener's default rule is not ours to manage here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controller.engine import Delta, Kind, KindContext, Observed, Resolved
from controller.kinds.elbv2_common import (
    TREE_ACTIONS,
    action_from_aws,
    action_to_aws,
    forward_action,
    owned_from,
    owned_items,
    parent_arns,
    read_rules,
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


def _paths(rule: Mapping[str, Any]) -> list[str]:
    for cond in rule.get("Conditions", []):
        if cond.get("Field") == "path-pattern":
            values = cond.get("PathPatternConfig", {}).get("Values") or cond.get("Values", [])
            return list(values)
    return []


def _listener_of(rule_arn: str) -> str:
    """The listener ARN a rule ARN belongs to (rule ARNs extend the listener's)."""
    head, _, _ = rule_arn.rpartition("/")
    return head.replace(":listener-rule/", ":listener/", 1)


class ListenerRule(Kind):
    name = "listener_rule"
    service = "elasticloadbalancing"
    iam_actions = (
        *TREE_ACTIONS,
        "elasticloadbalancing:CreateRule",
        "elasticloadbalancing:ModifyRule",
        "elasticloadbalancing:SetRulePriorities",
        "elasticloadbalancing:AddTags",
        "elasticloadbalancing:DeleteRule",
    )
    replace_fields = frozenset({"listener_arn"})
    unordered_fields = frozenset({"paths"})

    async def _owned(
        self, ctx: KindContext, listener_arns: Sequence[str]
    ) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
        return await owned_items(ctx, await read_rules(ctx, listener_arns), "RuleArn")

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        params = params_by_id(desired)
        tree = await stack_tree(ctx)
        owned = owned_from(ctx, tree.rules, "RuleArn", tree.tags)
        read = {li["ListenerArn"] for li in tree.listeners}
        others = [arn for arn in parent_arns(desired, "listener_arn") if arn not in read]
        if others:  # desired parents outside the stack's name prefix
            owned = {**await self._owned(ctx, others), **owned}
        return {
            lid: self._observed(ctx, lid, rule, tags, params.get(lid))
            for lid, (rule, tags) in owned.items()
        }

    def _observed(
        self,
        ctx: KindContext,
        logical_id: str,
        rule: Mapping[str, Any],
        tags: Mapping[str, str],
        params: Mapping[str, Any] | None = None,
    ) -> Observed:
        arn = rule["RuleArn"]
        action = action_from_aws(rule.get("Actions", []))
        priority = rule.get("Priority", "")
        return Observed(
            logical_id=logical_id,
            physical_id=arn,
            fields={
                "listener_arn": _listener_of(arn),
                "priority": int(priority) if str(priority).isdigit() else priority,
                "paths": _paths(rule),
                "target_group_arn": action.get("target_group_arn"),
                "tags": live_tags(ctx, self.name, logical_id, tags, params),
            },
            outputs={"arn": arn, "id": arn},
        )

    @staticmethod
    def _conditions(p: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [{"Field": "path-pattern", "PathPatternConfig": {"Values": list(p["paths"])}}]

    @staticmethod
    def _actions(p: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [action_to_aws(forward_action(p["target_group_arn"]))]

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        p = desired.params
        existing = (await self._owned(ctx, [p["listener_arn"]])).get(desired.logical_id)
        if existing is not None:
            return self._observed(ctx, desired.logical_id, *existing, desired.params)
        elb = await ctx.client("elbv2")
        (rule,) = (
            await elb.create_rule(
                ListenerArn=p["listener_arn"],
                Priority=p["priority"],
                Conditions=self._conditions(p),
                Actions=self._actions(p),
                Tags=tag_list(desired_tags(ctx, self.name, desired.logical_id, desired.params)),
            )
        )["Rules"]
        return self._observed(
            ctx,
            desired.logical_id,
            rule,
            desired_tags(ctx, self.name, desired.logical_id, desired.params),
        )

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        elb = await ctx.client("elbv2")
        arn = observed.physical_id
        p = desired.params
        if delta.changed("priority"):
            await elb.set_rule_priorities(
                RulePriorities=[{"RuleArn": arn, "Priority": p["priority"]}]
            )
        if delta.changed("paths") or delta.changed("target_group_arn"):
            await elb.modify_rule(
                RuleArn=arn, Conditions=self._conditions(p), Actions=self._actions(p)
            )
        if delta.changed("tags"):
            await sync_elb_tags(
                ctx, arn, desired_tags(ctx, self.name, desired.logical_id, desired.params)
            )
        (rule,) = (await elb.describe_rules(RuleArns=[arn]))["Rules"]
        return self._observed(
            ctx,
            desired.logical_id,
            rule,
            desired_tags(ctx, self.name, desired.logical_id, desired.params),
        )

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        elb = await ctx.client("elbv2")
        await ignore_not_found(elb.delete_rule(RuleArn=observed.physical_id))
