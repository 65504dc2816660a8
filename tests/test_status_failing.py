"""Every reconcile fails: /status and status/<stack>.json say so (Ready=False with the
error) and no longer show the resources as in sync from an old observation (their state
is `unknown`, with the last observed state and time); once AWS answers again the stack
is reported in sync again.

"Every reconcile fails" is the EC2 permissions taken away: the operator's EC2 endpoint
(AWS_ENDPOINT_URL_EC2, botocore's per-service endpoint setting) is a small HTTP proxy
to moto that, once told to deny, answers every call with EC2's 403
UnauthorizedOperation, as AWS does when the role lost its ec2:Describe* permissions
(moto server does not enforce IAM). S3 (specs, leases, status) goes to moto directly.
Real processes: moto_server, `stackop run`, `stackop status`.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import run_stackop
from tests.operator_harness import (
    Operator,
    converged,
    make_bucket,
    network_only,
    push_text,
    read_object,
    series,
    spec_text,
    stop_all,
    wait_for,
)

BUCKET = "stackop-failing"
STACK = "failing-shop"
DENIED = (
    b"<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not "
    b"authorized to perform this operation.</Message></Error></Errors>"
    b"<RequestID>denied</RequestID></Response>"
)


class DenyingProxy:
    """Forwards HTTP to moto; while `deny` is set, answers 403 UnauthorizedOperation."""

    def __init__(self, target: str) -> None:
        self.target = urlsplit(target)
        self.deny = threading.Event()
        self.denied = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if proxy.deny.is_set():
                    proxy.denied += 1
                    self._answer(403, {"Content-Type": "text/xml"}, DENIED)
                    return
                conn = http.client.HTTPConnection(proxy.target.netloc, timeout=30)
                conn.request("POST", self.path, body, dict(self.headers))
                reply = conn.getresponse()
                data = reply.read()
                skip = {"transfer-encoding", "connection", "content-length"}
                headers = {k: v for k, v in reply.getheaders() if k.lower() not in skip}
                conn.close()
                self._answer(reply.status, headers, data)

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(endpoint: str) -> Iterator[DenyingProxy]:
    px = DenyingProxy(endpoint)
    yield px
    px.close()


def conditions(doc: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {c["type"]: c for c in doc.get("conditions", [])}


def test_failing_reconciles_show_in_status(
    proxy: DenyingProxy, endpoint: str, tmp_path: Path
) -> None:
    make_bucket(endpoint, BUCKET)
    push_text(endpoint, BUCKET, f"specs/{STACK}.yaml", spec_text(STACK, network_only), tmp_path)
    op = Operator(endpoint, BUCKET, tmp_path, "op-failing")
    op.extra_env = {
        "STACKOP_ENDPOINT_URL": "",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ENDPOINT_URL_EC2": proxy.url,
    }
    try:
        op.start(resync=1, poll=1, lease=10)
        wait_for(lambda: converged(op, STACK), 90, "converged")
        good = op.status(STACK)
        assert conditions(good)["Ready"]["status"] == "True"
        in_sync = good["summary"]["in_sync"]

        proxy.deny.set()

        def failing() -> dict[str, Any] | None:
            doc = op.status(STACK)
            return doc if conditions(doc)["Ready"]["reason"] == "ReconcileError" else None

        doc = wait_for(failing, 30, "Ready=False with the reconcile error")
        assert proxy.denied > 0
        ready = conditions(doc)["Ready"]
        assert ready["status"] == "False" and "UnauthorizedOperation" in ready["message"]
        assert doc["resourcesStale"] is True
        assert doc["summary"] == {"unknown": in_sync}, "not in_sync from an old observation"
        assert {r["state"] for r in doc["resources"]} == {"unknown"}
        assert {r["lastObservedState"] for r in doc["resources"]} == {"in_sync"}
        assert doc["observedAt"] == good["observedAt"]
        stale = series(op.metrics(), "stackop_resources", stack=STACK)
        assert stale == [], f"stackop_resources still counts an old observation: {stale}"

        key = f"status/{STACK}.json"
        stored = wait_for(
            lambda: (d := read_object(endpoint, BUCKET, key)) and d.get("resourcesStale") and d,
            15,
            "the status object shows it",
        )
        assert conditions(stored)["Ready"]["reason"] == "ReconcileError"
        shown = run_stackop("status", STACK, endpoint=endpoint, env={"STACKOP_BUCKET": BUCKET})
        assert shown.returncode == 0, shown.stderr
        assert f"resources: {in_sync} unknown (last observed " in shown.stdout
        assert f"{in_sync} in_sync)" in shown.stdout
        assert "UnauthorizedOperation" in shown.stdout

        proxy.deny.clear()
        back = wait_for(
            lambda: (d := op.status(STACK)) and conditions(d)["Ready"]["status"] == "True" and d,
            30,
            "in sync again",
        )
        assert back["resourcesStale"] is False and back["summary"] == {"in_sync": in_sync}
        assert json.dumps(back).count('"unknown"') == 0
    finally:
        stop_all([op])
