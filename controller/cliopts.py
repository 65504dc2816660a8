"""Options shared by every `stackop` command: flags that read STACKOP_ env variables.

An env value is checked only by the command that uses it, and a bad one is a usage
error (exit 2) naming the variable, never a crash of an unrelated command. The global
options (--endpoint-url, --region, --bucket) are accepted before and after the
subcommand: the copy on a subcommand has no default of its own, so it only overrides.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from importlib import metadata
from typing import Any

ENV_PREFIX = "STACKOP_"
DEFAULT_REGION = "us-east-1"


def env(name: str) -> str | None:
    return os.environ.get(ENV_PREFIX + name) or None


def seconds(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(text)
    return value


def port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(text)
    return value


KIND_NAMES: dict[Callable[[str], Any], str] = {
    seconds: "a positive number of seconds",
    port: "a TCP port (0-65535)",
    int: "a whole number",
}


def env_option(
    parser: argparse.ArgumentParser,
    flag: str,
    name: str,
    kind: Callable[[str], Any],
    default: Any,
    help: str,
    check: Callable[[Any], str | None] | None = None,
) -> None:
    """`flag` with default from STACKOP_<name>, else `default`; values checked on use."""
    raw = env(name)
    what = KIND_NAMES.get(kind, "valid")

    def convert(text: str) -> Any:
        source = f"STACKOP_{name}={text!r}" if raw is not None and text == raw else repr(text)
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{source} is not {what}") from None
        problem = check(value) if check else None
        if problem:
            raise argparse.ArgumentTypeError(f"{source}: {problem}")
        return value

    parser.add_argument(
        flag,
        type=convert,
        default=raw if raw is not None else default,
        help=f"{help}; env STACKOP_{name} (default: {default})",
    )


def version() -> str:
    try:
        return metadata.version("stack-operator")
    except metadata.PackageNotFoundError:
        return "unknown"


def add_global_options(parser: argparse.ArgumentParser, top: bool) -> None:
    """--endpoint-url, --region, --bucket (and --version on the top parser)."""
    endpoint, region, bucket = env("ENDPOINT_URL"), env("REGION"), env("BUCKET")
    aws_region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
    group = parser.add_argument_group("global options (before or after the command)")

    def add(flag: str, value: str | None, help: str) -> None:
        default = value if top else argparse.SUPPRESS
        group.add_argument(flag, default=default, metavar=flag.strip("-").upper(), help=help)

    add(
        "--endpoint-url",
        endpoint,
        "AWS endpoint, for moto or LocalStack; env STACKOP_ENDPOINT_URL "
        f"(default: {endpoint or 'the real AWS endpoints'})",
    )
    add(
        "--region",
        region,
        "AWS region; env STACKOP_REGION, else AWS_DEFAULT_REGION "
        f"(default: {region or aws_region or DEFAULT_REGION})",
    )
    add(
        "--bucket",
        bucket,
        f"spec bucket of push, status, run and apply's lease; env STACKOP_BUCKET "
        f"(default: {bucket or 'none'})",
    )
    if top:
        parser.add_argument("--version", action="version", version=f"stackop {version()}")
