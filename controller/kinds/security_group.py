"""Security group with its ingress and egress rules, one rule per peer.

A rule is `{protocol, from_port, to_port, description}` plus one peer: `cidr`
(IPv4 or IPv6), `source_group` (a group id, or "self" for the group itself) or
`prefix_list`. AWS's IpPermissions are unfolded to that shape when observing and
folded back when writing; only the differing rules are authorized or revoked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from controller.engine import Delta, Kind, KindContext, Observed, Resolved
from controller.kinds.ec2_common import (
    by_logical_id,
    describe_owned,
    logical_id_filter,
    owned_item,
    sync_tags,
    tag_spec,
)
from controller.kinds.tags_common import ignore_not_found, live_tags, params_by_id, tag_map

SELF = "self"
PEERS = ("cidr", "source_group", "prefix_list")
PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}
DIRECTIONS = {"ingress": "IpPermissions", "egress": "IpPermissionsEgress"}

RuleKey = tuple[str, int, int, str, str]


def normalise_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """Fold defaults: protocol names, ports of "all protocols", empty description."""
    protocol = str(rule.get("protocol", "-1")).lower()
    protocol = PROTOCOL_NAMES.get(protocol, protocol)
    out: dict[str, Any] = {
        "protocol": protocol,
        "from_port": -1 if protocol == "-1" else rule.get("from_port", -1),
        "to_port": -1 if protocol == "-1" else rule.get("to_port", -1),
        "description": rule.get("description") or "",
    }
    for peer in PEERS:
        if rule.get(peer) is not None:
            out[peer] = rule[peer]
    return out


def unfold(permissions: Iterable[Mapping[str, Any]], group_id: str) -> list[dict[str, Any]]:
    """AWS IpPermissions -> one normalised rule per peer."""
    rules: list[dict[str, Any]] = []
    for perm in permissions:
        base = {
            "protocol": perm.get("IpProtocol", "-1"),
            "from_port": perm.get("FromPort", -1),
            "to_port": perm.get("ToPort", -1),
        }
        peers: list[tuple[str, str, str | None]] = []
        peers += [("cidr", r["CidrIp"], r.get("Description")) for r in perm.get("IpRanges") or ()]
        peers += [
            ("cidr", r["CidrIpv6"], r.get("Description")) for r in perm.get("Ipv6Ranges") or ()
        ]
        peers += [
            ("prefix_list", r["PrefixListId"], r.get("Description"))
            for r in perm.get("PrefixListIds") or ()
        ]
        peers += [
            (
                "source_group",
                SELF if r["GroupId"] == group_id else r["GroupId"],
                r.get("Description"),
            )
            for r in perm.get("UserIdGroupPairs") or ()
            if r.get("GroupId")
        ]
        for peer, value, description in peers:
            rules.append(normalise_rule({**base, peer: value, "description": description}))
    return rules


def rule_key(rule: Mapping[str, Any]) -> RuleKey:
    peer = next(p for p in PEERS if p in rule)
    return (rule["protocol"], int(rule["from_port"]), int(rule["to_port"]), peer, str(rule[peer]))


def fold(rule: Mapping[str, Any], group_id: str) -> dict[str, Any]:
    """One normalised rule -> one AWS IpPermission."""
    perm: dict[str, Any] = {"IpProtocol": rule["protocol"]}
    if rule["protocol"] != "-1":
        perm["FromPort"], perm["ToPort"] = int(rule["from_port"]), int(rule["to_port"])
    described: dict[str, str] = (
        {"Description": rule["description"]} if rule.get("description") else {}
    )
    if "cidr" in rule:
        cidr = str(rule["cidr"])
        if ":" in cidr:
            perm["Ipv6Ranges"] = [{"CidrIpv6": cidr, **described}]
        else:
            perm["IpRanges"] = [{"CidrIp": cidr, **described}]
    elif "prefix_list" in rule:
        perm["PrefixListIds"] = [{"PrefixListId": rule["prefix_list"], **described}]
    else:
        source = group_id if rule["source_group"] == SELF else rule["source_group"]
        perm["UserIdGroupPairs"] = [{"GroupId": source, **described}]
    return perm


class SecurityGroup(Kind):
    name = "security_group"
    service = "ec2"
    iam_actions = (
        "ec2:DescribeSecurityGroups",
        "ec2:CreateSecurityGroup",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
        "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
        "ec2:CreateTags",
        "ec2:DeleteSecurityGroup",
    )
    replace_fields = frozenset({"vpc_id", "group_name", "description"})
    unordered_fields = frozenset({"ingress", "egress"})

    def normalise(self, path: str, value: Any) -> Any:
        if path in DIRECTIONS and isinstance(value, list):
            return [normalise_rule(r) if isinstance(r, Mapping) else r for r in value]
        return value

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        wanted = params_by_id(desired)
        # One paged DescribeSecurityGroups call for every group of the stack.
        groups = await describe_owned(ctx, "describe_security_groups", "SecurityGroups")
        return {
            lid: self._observed(ctx, lid, g, wanted.get(lid))
            for lid, g in by_logical_id(ctx, groups).items()
        }

    def _observed(
        self,
        ctx: KindContext,
        logical_id: str,
        group: Mapping[str, Any],
        params: Mapping[str, Any] | None,
    ) -> Observed:
        group_id = group["GroupId"]
        current = tag_map(group.get("Tags"))
        return Observed(
            logical_id=logical_id,
            physical_id=group_id,
            fields={
                "vpc_id": group.get("VpcId"),
                "group_name": group["GroupName"],
                "description": group.get("Description", ""),
                "ingress": unfold(group.get("IpPermissions") or (), group_id),
                "egress": unfold(group.get("IpPermissionsEgress") or (), group_id),
                "tags": live_tags(ctx, self.name, logical_id, current, params),
            },
            outputs={
                "id": group_id,
                "name": group["GroupName"],
                "arn": group.get("SecurityGroupArn", ""),
            },
        )

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        params = desired.params
        existing = await describe_owned(
            ctx,
            "describe_security_groups",
            "SecurityGroups",
            [logical_id_filter(self.name, desired.logical_id)],
        )
        ec2 = await ctx.client("ec2")
        group = owned_item(ctx, self.name, desired.logical_id, existing)
        if group is None:
            created = await ec2.create_security_group(
                GroupName=params["group_name"],
                Description=params["description"],
                VpcId=params["vpc_id"],
                TagSpecifications=tag_spec(
                    ctx, self.name, desired.logical_id, "security-group", params
                ),
            )
            group = (await ec2.describe_security_groups(GroupIds=[created["GroupId"]]))[
                "SecurityGroups"
            ][0]
        observed = self._observed(ctx, desired.logical_id, group, params)
        return await self.update(ctx, desired, observed, Delta())

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        """Converge both rule lists from what was observed; tags when they differ."""
        ec2 = await ctx.client("ec2")
        group_id = observed.physical_id
        for direction in DIRECTIONS:
            await self._sync_rules(
                ec2,
                group_id,
                direction,
                desired.params.get(direction) or [],
                observed.fields.get(direction) or [],
            )
        if delta.changed("tags"):
            await sync_tags(ctx, group_id, self.name, desired.logical_id, desired.params)
        (group,) = (await ec2.describe_security_groups(GroupIds=[group_id]))["SecurityGroups"]
        return self._observed(ctx, desired.logical_id, group, desired.params)

    @staticmethod
    async def _sync_rules(
        ec2: Any,
        group_id: str,
        direction: str,
        wanted: Iterable[Mapping[str, Any]],
        live: Iterable[Mapping[str, Any]],
    ) -> None:
        want = {rule_key(r): r for r in map(normalise_rule, wanted)}
        have = {rule_key(r): r for r in map(normalise_rule, live)}
        add = [fold(want[k], group_id) for k in sorted(set(want) - set(have))]
        remove = [fold(have[k], group_id) for k in sorted(set(have) - set(want))]
        describe = [
            fold(want[k], group_id)
            for k in sorted(set(want) & set(have))
            if want[k]["description"] != have[k]["description"]
        ]
        suffix = "ingress" if direction == "ingress" else "egress"
        # Authorize before revoking, so a changed rule never leaves a gap.
        if add:
            await getattr(ec2, f"authorize_security_group_{suffix}")(
                GroupId=group_id, IpPermissions=add
            )
        if remove:
            await getattr(ec2, f"revoke_security_group_{suffix}")(
                GroupId=group_id, IpPermissions=remove
            )
        if describe:
            await getattr(ec2, f"update_security_group_rule_descriptions_{suffix}")(
                GroupId=group_id, IpPermissions=describe
            )

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        # AWS answers DependencyViolation while network interfaces or other groups'
        # rules use the group; the engine retries.
        ec2 = await ctx.client("ec2")
        await ignore_not_found(ec2.delete_security_group(GroupId=observed.physical_id))
