from __future__ import annotations

import json

from controller.engine import Observed
from tests.aws import client
from tests.kinds.compute_desired import ROLE
from tests.kinds.contract import ContractCase, run_contract


def _policy_replaced(endpoint: str, observed: Observed) -> None:
    wide = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    client("iam", endpoint).put_role_policy(
        RoleName=observed.physical_id, PolicyName="stackop", PolicyDocument=json.dumps(wide)
    )


def test_iam_role_contract(endpoint: str) -> None:
    run_contract(
        endpoint,
        ContractCase([ROLE], "iam_role/web-execution", _policy_replaced, "inline_policies"),
    )
    assert client("iam", endpoint).list_roles(PathPrefix="/stackop/")["Roles"] == []
