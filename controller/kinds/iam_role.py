"""IAM role with a trust policy and inline least-privilege policies (no managed policies:
one attached out of band is drift, and is detached).

Our roles live under the path `/stackop/<stack>/`. Observe makes ONE call per page of
`get_account_authorization_details` (Filter=Role), which returns every role with its
tags and inline policy documents: no per-role `get_role_policy` or `list_role_tags`
calls, so the cost does not grow with the number of roles we own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controller.aws.errors import is_not_found
from controller.engine import Delta, Kind, KindContext, Observed, Resolved
from controller.kinds.compute_common import normalise_policy, policy_json
from controller.kinds.tags_common import (
    desired_tags,
    ignore_not_found,
    live_tags,
    params_by_id,
    tag_list,
    tag_map,
)


def role_path(stack: str) -> str:
    return f"/stackop/{stack}/"


def _inline_only(params: Mapping[str, Any]) -> None:
    """The renderer always wants `managed_policies: []`; attaching one is not supported."""
    if params.get("managed_policies"):
        raise ValueError("iam_role attaches no managed policies: use inline_policies")


class IamRole(Kind):
    name = "iam_role"
    service = "iam"
    iam_actions = (
        "iam:GetAccountAuthorizationDetails",
        "iam:GetRole",
        "iam:GetRolePolicy",
        "iam:CreateRole",
        "iam:UpdateAssumeRolePolicy",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:ListRolePolicies",
        "iam:ListAttachedRolePolicies",
        "iam:DetachRolePolicy",
        "iam:TagRole",
        "iam:DeleteRole",
    )
    replace_fields = frozenset({"name", "path"})
    binds_referrers = False  # referrers only name it
    # The authorization details omit a role's description: it is set at create only.
    ignore_fields = frozenset({"description"})

    def normalise(self, path: str, value: Any) -> Any:
        if path == "assume_role_policy" or path.startswith("inline_policies."):
            return normalise_policy(value)
        return value

    async def _roles(self, ctx: KindContext) -> list[dict[str, Any]]:
        iam = await ctx.client("iam")
        prefix = role_path(ctx.stack)
        roles: list[dict[str, Any]] = []
        paginator = iam.get_paginator("get_account_authorization_details")
        async for page in paginator.paginate(Filter=["Role"], PaginationConfig={"PageSize": 1000}):
            roles += [r for r in page.get("RoleDetailList", []) if r.get("Path") == prefix]
        return roles

    def _observed(
        self,
        ctx: KindContext,
        logical_id: str,
        role: dict[str, Any],
        params: Mapping[str, Any] | None = None,
    ) -> Observed:
        tags = tag_map(role.get("Tags"))
        policies = {
            p["PolicyName"]: normalise_policy(p["PolicyDocument"])
            for p in role.get("RolePolicyList", [])
        }
        return Observed(
            logical_id=logical_id,
            physical_id=role["RoleName"],
            fields={
                "name": role["RoleName"],
                "path": role.get("Path", "/"),
                "assume_role_policy": normalise_policy(role.get("AssumeRolePolicyDocument")),
                "inline_policies": policies,
                "managed_policies": sorted(
                    p["PolicyArn"] for p in role.get("AttachedManagedPolicies", [])
                ),
                "tags": live_tags(ctx, self.name, logical_id, tags, params),
            },
            outputs={"arn": role["Arn"], "name": role["RoleName"]},
        )

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        wanted = params_by_id(desired)
        found: dict[str, Observed] = {}
        for role in await self._roles(ctx):
            logical_id = ctx.owns(tag_map(role.get("Tags")))
            if logical_id is not None and logical_id not in found:
                found[logical_id] = self._observed(ctx, logical_id, role, wanted.get(logical_id))
        return found

    async def _find(self, ctx: KindContext, desired: Resolved) -> Observed | None:
        """One role by name, read back in full (writes only: a few calls for one role,
        instead of listing the whole account's authorization details again)."""
        iam = await ctx.client("iam")
        name = desired.params["name"]
        try:
            role = dict((await iam.get_role(RoleName=name))["Role"])
            names = (await iam.list_role_policies(RoleName=name)).get("PolicyNames", [])
            attached = (await iam.list_attached_role_policies(RoleName=name)).get(
                "AttachedPolicies", []
            )
            docs = [
                (await iam.get_role_policy(RoleName=name, PolicyName=n))["PolicyDocument"]
                for n in names
            ]
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise
        if ctx.owns(tag_map(role.get("Tags"))) != desired.logical_id:
            return None
        role["RolePolicyList"] = [
            {"PolicyName": n, "PolicyDocument": d} for n, d in zip(names, docs, strict=True)
        ]
        role["AttachedManagedPolicies"] = attached
        return self._observed(ctx, desired.logical_id, role, desired.params)

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        existing = await self._find(ctx, desired)
        if existing is not None:
            return existing
        p = desired.params
        _inline_only(p)
        iam = await ctx.client("iam")
        await iam.create_role(
            RoleName=p["name"],
            Path=p["path"],
            AssumeRolePolicyDocument=policy_json(p["assume_role_policy"]),
            Description=p.get("description", ""),
            Tags=tag_list(desired_tags(ctx, self.name, desired.logical_id, desired.params)),
        )
        for name, doc in p["inline_policies"].items():
            await iam.put_role_policy(
                RoleName=p["name"], PolicyName=name, PolicyDocument=policy_json(doc)
            )
        found = await self._find(ctx, desired)
        assert found is not None
        return found

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        iam = await ctx.client("iam")
        p = desired.params
        _inline_only(p)
        name = observed.physical_id
        if delta.changed("assume_role_policy"):
            await iam.update_assume_role_policy(
                RoleName=name, PolicyDocument=policy_json(p["assume_role_policy"])
            )
        if delta.changed("inline_policies"):
            live = observed.fields.get("inline_policies", {})
            for policy, doc in p["inline_policies"].items():
                if normalise_policy(doc) != live.get(policy):
                    await iam.put_role_policy(
                        RoleName=name, PolicyName=policy, PolicyDocument=policy_json(doc)
                    )
            for extra in set(live) - set(p["inline_policies"]):
                await ignore_not_found(iam.delete_role_policy(RoleName=name, PolicyName=extra))
        if delta.changed("managed_policies"):
            # Desired is always [] (inline policies only), so there is nothing to attach:
            # a managed policy attached out of band is drift, and is detached.
            for arn in observed.fields.get("managed_policies", []):
                await ignore_not_found(iam.detach_role_policy(RoleName=name, PolicyArn=arn))
        if delta.changed("tags"):
            await iam.tag_role(
                RoleName=name,
                Tags=tag_list(desired_tags(ctx, self.name, desired.logical_id, desired.params)),
            )
        found = await self._find(ctx, desired)
        assert found is not None
        return found

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        iam = await ctx.client("iam")
        name = observed.physical_id
        try:
            policies = (await iam.list_role_policies(RoleName=name)).get("PolicyNames", [])
            attached = (await iam.list_attached_role_policies(RoleName=name)).get(
                "AttachedPolicies", []
            )
        except Exception as exc:
            if is_not_found(exc):
                return
            raise
        for policy in policies:
            await ignore_not_found(iam.delete_role_policy(RoleName=name, PolicyName=policy))
        for item in attached:
            await ignore_not_found(
                iam.detach_role_policy(RoleName=name, PolicyArn=item["PolicyArn"])
            )
        await ignore_not_found(iam.delete_role(RoleName=name))
