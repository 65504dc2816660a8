"""One TLS context per process instead of one per client.

aiobotocore (2.x) builds each client's connector with a fresh TLS context and parses
the CA bundle into it: ~18 ms of CPU per client, a dozen clients per `stackop plan`.
`SharedTlsSession` gives every connector the same context, built once per CA bundle.
Anything unusual (a proxy, a client certificate, verify off) takes aiobotocore's path.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import aiohttp
from aiobotocore.httpsession import AIOHTTPSession
from botocore.httpsession import create_urllib3_context, get_cert_path


@functools.cache
def tls_context(ca_certs: str | None) -> ssl.SSLContext:
    """The context aiobotocore would build (urllib3 defaults plus the CA bundle), once."""
    context: ssl.SSLContext = create_urllib3_context()
    if ca_certs:
        context.load_verify_locations(ca_certs, None, None)
    return context


class SharedTlsSession(AIOHTTPSession):  # type: ignore[misc]
    def _create_connector(self, proxy_url: str | None) -> aiohttp.TCPConnector:
        verify = getattr(self, "_verify", None)
        plain = not proxy_url and verify and getattr(self, "_cert_file", None) is None
        if not plain or not hasattr(self, "_connector_args"):
            return super()._create_connector(proxy_url)  # type: ignore[no-any-return]
        args: dict[str, Any] = dict(self._connector_args or {})
        return aiohttp.TCPConnector(
            limit=self._max_pool_connections, ssl=tls_context(get_cert_path(verify)), **args
        )
