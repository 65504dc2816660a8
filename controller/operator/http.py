"""HTTP surface on :9100: /metrics, /healthz, /readyz, /status."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import REGISTRY
from prometheus_client.aiohttp import make_aiohttp_handler

StatusFn = Callable[[str | None], dict[str, Any]]
CheckFn = Callable[[], tuple[bool, str]]


def make_app(status: StatusFn, healthy: CheckFn, ready: CheckFn) -> web.Application:
    def check(fn: CheckFn) -> Any:
        async def view(_: web.Request) -> web.Response:
            ok, reason = fn()
            return web.Response(text=reason + "\n", status=200 if ok else 503)

        return view

    async def status_view(request: web.Request) -> web.Response:
        stack = request.match_info.get("stack") or request.query.get("stack")
        doc = status(stack)
        if stack and not doc.get("stacks"):
            return web.json_response({"error": f"unknown stack {stack}"}, status=404)
        return web.json_response(doc, dumps=_dumps)

    app = web.Application()
    app.router.add_get("/metrics", make_aiohttp_handler(REGISTRY))
    app.router.add_get("/healthz", check(healthy))
    app.router.add_get("/readyz", check(ready))
    app.router.add_get("/status", status_view)
    app.router.add_get("/status/{stack}", status_view)
    return app


def _dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=False)


async def start(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
