"""One TLS context per process instead of one per client, and none for a plain endpoint.

aiobotocore (2.x) builds each client's connector with a fresh TLS context and parses
the CA bundle into it: ~18 ms of CPU per client, a dozen clients per `stackop plan`.
`SharedTlsSession` gives every connector the same context, built once per CA bundle.
`PlainHttpSession`, for an `http://` endpoint (moto, LocalStack), builds none: none of
its requests use TLS; should one ever be https, aiohttp's own verifying context (made
when aiohttp is imported) checks it. Anything unusual (a proxy, a client certificate,
verify off) takes aiobotocore's path.
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
        return aiohttp.TCPConnector(limit=self._max_pool_connections, ssl=self._tls(verify), **args)

    def _tls(self, verify: Any) -> ssl.SSLContext | bool:
        return tls_context(get_cert_path(verify))


class PlainHttpSession(SharedTlsSession):
    def _tls(self, verify: Any) -> ssl.SSLContext | bool:
        return True  # aiohttp's default: verified, with its own context


def session_class(endpoint_url: str | None) -> type[SharedTlsSession]:
    """The HTTP session for clients of `endpoint_url` (None: AWS's https endpoints)."""
    plain = endpoint_url is not None and endpoint_url.lower().startswith("http://")
    return PlainHttpSession if plain else SharedTlsSession
