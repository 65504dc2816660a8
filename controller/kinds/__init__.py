"""Every resource kind, one module each. Adding a kind: a module plus one line here."""

from __future__ import annotations

from controller.engine import Kind
from controller.kinds.vpc import Vpc

KIND_CLASSES: tuple[type[Kind], ...] = (Vpc,)


def all_kinds() -> dict[str, Kind]:
    return {cls.name: cls() for cls in KIND_CLASSES}


def iam_actions() -> dict[str, tuple[str, ...]]:
    """IAM actions each kind declares, for the controller's generated policy."""
    return {cls.name: cls.iam_actions for cls in KIND_CLASSES}
