"""Global options on either side of the subcommand, in every --help, and --version."""

from __future__ import annotations

from importlib import metadata

from tests.conftest import run_stackop
from tests.operator_harness import PORTAL, aws, make_bucket

SUBCOMMANDS = ("validate", "schema", "plan", "apply", "adopt", "run", "push", "status", "history")


def test_global_options_work_after_the_subcommand_and_override_the_ones_before(
    endpoint: str,
) -> None:
    make_bucket(endpoint, "right")
    pushed = run_stackop(
        "--bucket", "wrong", "push", str(PORTAL), "--bucket", "right",
        "--endpoint-url", endpoint, "--region", "us-east-1", timeout=60,
    )  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    assert "s3://right/specs/portal.yaml" in pushed.stdout
    listed = aws(endpoint, "s3api", "list-objects-v2", "--bucket", "right")
    assert [o["Key"] for o in listed["Contents"]] == ["specs/portal.yaml"]
    before = run_stackop("--bucket", "right", "--endpoint-url", endpoint, "status", timeout=60)
    assert before.returncode == 0 and "no stacks have reported" in before.stdout, before.stderr


def test_every_subcommand_help_shows_the_global_options_with_their_defaults() -> None:
    env = {"STACKOP_BUCKET": "from-env", "STACKOP_ENDPOINT_URL": "", "STACKOP_REGION": ""}
    for command in SUBCOMMANDS:
        shown = run_stackop(command, "--help", env=env, timeout=60)
        assert shown.returncode == 0, (command, shown.stderr)
        text = " ".join(shown.stdout.split())
        assert "--endpoint-url" in text and "(default: the real AWS endpoints)" in text, command
        assert "--region" in text and "(default: us-east-1)" in text, command
        assert "--bucket" in text and "(default: from-env)" in text, command
    run_help = " ".join(run_stackop("run", "--help", timeout=60).stdout.split())
    for flag, default in (("--port", "9100"), ("--resync", "30.0"), ("--host", "0.0.0.0")):
        assert flag in run_help and f"(default: {default})" in run_help, flag


def test_version() -> None:
    shown = run_stackop("--version", timeout=60)
    assert shown.returncode == 0
    assert shown.stdout.strip() == f"stackop {metadata.version('stack-operator')}"
