"""Render: StackSpec -> desired resources. Pure; one module per spec section."""

from __future__ import annotations

from collections.abc import Callable

from controller.engine import DesiredResource
from controller.render.compute import render_cluster, render_services
from controller.render.database import render_database
from controller.render.edge import render_cdn, render_frontend, render_load_balancer
from controller.render.network import render_network
from controller.spec.model import StackSpec

Renderer = Callable[[StackSpec], list[DesiredResource]]

# (spec section(s), renderer). Sections absent here are not reconciled yet.
SECTIONS: tuple[tuple[tuple[str, ...], Renderer], ...] = (
    (("network",), render_network),
    (("cluster",), render_cluster),
    (("services",), render_services),
    (("database",), render_database),
    (("loadBalancer",), render_load_balancer),
    (("frontend",), render_frontend),
    (("cdn",), render_cdn),
)

ALL_SECTIONS = ("network", "database", "loadBalancer", "frontend", "cdn", "cluster", "services")


def unreconciled_sections() -> list[str]:
    done = {name for names, _ in SECTIONS for name in names}
    return [s for s in ALL_SECTIONS if s not in done]


def render(spec: StackSpec) -> list[DesiredResource]:
    """Every resource the spec asks for; none when the spec asks for teardown."""
    if spec.spec.teardown:
        return []
    return [resource for _, renderer in SECTIONS for resource in renderer(spec)]
