"""TLS contexts of the AWS clients (issue 12, plan wall time): one per process for https,
built from the CA bundle and verifying; none parsed for a plain http endpoint.

Against real moto servers: one plain, one serving https with a certificate made here
(moto's `-c/-k`), trusted through AWS_CA_BUNDLE as a user would.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import SSLError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from controller.aws import AwsClients
from controller.aws.tls import PlainHttpSession, SharedTlsSession, session_class, tls_context
from tests.conftest import BIN, MotoServer, free_port


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def https_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    cert, key = self_signed(tmp_path_factory.mktemp("tls"))
    port = free_port()
    command = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(
        [*command, "-c", str(cert), "-k", str(key)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"https://127.0.0.1:{port}"
        wait_until_serving(url, cert)
        yield url, cert
    finally:
        proc.terminate()
        proc.wait(10)


def wait_until_serving(url: str, cert: Path, timeout: float = 20.0) -> None:
    trusting = ssl.create_default_context(cafile=str(cert))
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1, context=trusting):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


async def two_reads(clients: AwsClients) -> list[str]:
    async with clients:
        sts = await clients.client("sts")
        ec2 = await clients.client("ec2")
        account = (await sts.get_caller_identity())["Account"]
        await ec2.describe_vpcs()  # calls stackop makes: the session's audit allows them
        return [account, type(sts._endpoint.http_session).__name__]


def test_the_session_follows_the_endpoint() -> None:
    assert session_class("http://127.0.0.1:5000") is PlainHttpSession
    assert session_class("HTTP://localstack:4566") is PlainHttpSession
    assert session_class("https://vpce-1.ec2.us-east-1.vpce.amazonaws.com") is SharedTlsSession
    assert session_class(None) is SharedTlsSession  # AWS's own endpoints


def test_a_plain_endpoint_parses_no_ca_bundle(moto_server: MotoServer) -> None:
    tls_context.cache_clear()
    account, session = asyncio.run(two_reads(AwsClients(endpoint_url=moto_server.url)))
    assert account and session == "PlainHttpSession"
    assert tls_context.cache_info().currsize == 0


def test_https_clients_share_one_verifying_context(
    https_moto: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, cert = https_moto
    tls_context.cache_clear()
    monkeypatch.setenv("AWS_CA_BUNDLE", str(cert))
    account, session = asyncio.run(two_reads(AwsClients(endpoint_url=url, max_attempts=1)))
    assert account and session == "SharedTlsSession"
    info = tls_context.cache_info()
    assert (info.currsize, info.misses) == (1, 1)  # built once for both clients
    assert info.hits >= 1

    # The context verifies: without our certificate in the bundle, the server is refused.
    monkeypatch.delenv("AWS_CA_BUNDLE")
    with pytest.raises(SSLError, match=r"CERTIFICATE_VERIFY_FAILED"):
        asyncio.run(two_reads(AwsClients(endpoint_url=url, max_attempts=1)))
