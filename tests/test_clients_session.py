"""What a `stackop plan` process loads (issue 12, plan wall time): plain clients, without
aioboto3's S3 transfer and resource customisations (its first S3 client imported boto3's
transfer manager, ~18 ms), and no prometheus_client (the operator's call counter is
registered by the operator's metrics module)."""

from __future__ import annotations

import os
import subprocess

from tests.conftest import BIN, ROOT, MotoServer

PROBE = """
import asyncio, sys
from controller.aws import AwsClients

async def main(url):
    async with AwsClients(endpoint_url=url) as clients:
        s3 = await clients.client("s3")
        await s3.create_bucket(Bucket="session-probe")
        await s3.put_object(Bucket="session-probe", Key="k", Body=b"v")
        body = await (await s3.get_object(Bucket="session-probe", Key="k"))["Body"].read()
        print(body.decode(), hasattr(s3, "upload_file"), "s3transfer" in sys.modules)
        print(" ".join(f"{c.service}.{c.operation}" for c in clients.recorder.calls))

asyncio.run(main(sys.argv[1]))
"""


def probe(code: str, *args: str) -> list[str]:
    """The lines a fresh Python process running `code` prints (its modules are its own)."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    proc = subprocess.run(
        [str(BIN / "python"), "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()


def test_s3_clients_are_plain_and_import_no_transfer_manager(moto_server: MotoServer) -> None:
    result, calls = probe(PROBE, moto_server.url)
    assert result == "v False False"
    assert calls == "s3.CreateBucket s3.PutObject s3.GetObject"  # recorded as ever


PLAN_PROBE = """
import sys
from controller.cli import main
code = main(["--endpoint-url", sys.argv[1], "plan", sys.argv[2]])
print(code, "prometheus_client" in sys.modules)
from controller.aws.calls import CallRecorder
from controller.operator.metrics import AWS_API_CALLS
CallRecorder(log_paths=()).record("sts", "GetCallerIdentity", "ok")
print(AWS_API_CALLS.labels("sts", "GetCallerIdentity", "ok")._value.get())
"""


def test_a_plan_imports_no_prometheus_and_the_operator_counts_every_call(
    moto_server: MotoServer,
) -> None:
    spec = ROOT / "tests" / "specs" / "network-only.yaml"
    *shown, planned, counted = probe(PLAN_PROBE, moto_server.url, str(spec))
    assert planned in ("0 False", "2 False"), shown  # in sync, or changes to make
    assert counted == "1.0"
