"""The operator's two roles: ECS's execution role and the task role it works with."""

from __future__ import annotations

import json
from typing import Any

from bootstrap.compare import as_json
from bootstrap.policy import execution_role_policy, task_role_policy, trust_policy
from bootstrap.site import Site
from controller.kinds import iam_actions

POLICY_NAME = "stackop"


def operator_policy(site: Site) -> dict[str, Any]:
    return task_role_policy(site.target, iam_actions())


async def ensure_roles(site: Site) -> None:
    cfg = site.cfg
    trust = trust_policy(account=site.account)
    await _ensure_role(
        site,
        cfg.execution_role,
        "pulls the image, writes logs",
        trust,
        execution_role_policy(site.target, site.log_group_arn, site.repository_arn),
    )
    await _ensure_role(
        site, cfg.task_role, "what the operator may do", trust, operator_policy(site)
    )


async def _ensure_role(
    site: Site, name: str, purpose: str, trust: dict[str, Any], policy: dict[str, Any]
) -> None:
    ch = site.ch
    ch.say(f"role {name} ({purpose})")
    role = await ch.read("iam", "get_role", RoleName=name)
    if role is None:
        await ch.call(
            "iam",
            "create_role",
            "role missing",
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(trust, sort_keys=True),
            Description=f"stack-operator: {purpose}",
            MaxSessionDuration=3600,
            Tags=[{"Key": k, "Value": v} for k, v in site.cfg.tags().items()],
        )
    elif as_json(role["Role"].get("AssumeRolePolicyDocument")) != trust:
        await ch.call(
            "iam",
            "update_assume_role_policy",
            "trust policy differs",
            RoleName=name,
            PolicyDocument=json.dumps(trust, sort_keys=True),
        )
    live = None
    if role is not None:
        live = await ch.read("iam", "get_role_policy", RoleName=name, PolicyName=POLICY_NAME)
    if live is None or as_json(live.get("PolicyDocument")) != policy:
        await ch.call(
            "iam",
            "put_role_policy",
            "inline policy missing or different",
            RoleName=name,
            PolicyName=POLICY_NAME,
            PolicyDocument=json.dumps(policy, sort_keys=True),
        )
