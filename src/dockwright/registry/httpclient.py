"""The httpx client of :class:`~dockwright.registry.transport.HttpSession`: pooled, with TLS
built lazily. Imported on the first request that goes through httpx (not at start-up)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

from dockwright.registry.options import RegistryOptions
from dockwright.registry.transport import ssl_context


class LazyTransport(httpx.BaseTransport):
    """A transport built on first use: loading the system's CA store costs ~20 ms, which a
    command talking only plain http to a local registry should not pay."""

    def __init__(self, factory: Callable[[], httpx.BaseTransport]) -> None:
        self._factory = factory
        self._transport: httpx.BaseTransport | None = None
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Build the transport if needed, then let it send ``request``."""
        transport = self._transport
        if transport is None:
            with self._lock:
                if self._transport is None:
                    self._transport = self._factory()
                transport = self._transport
        return transport.handle_request(request)

    def close(self) -> None:
        """Close the transport if it was ever built."""
        if self._transport is not None:
            self._transport.close()


def make_http_client(
    options: RegistryOptions, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """An httpx client (HTTP/1.1, pooled, thread-safe) configured from ``options``.

    TLS is verified against the system's CAs plus ``options.ca_certs`` (built on the first
    https request; a CA file that is missing is reported at once), and not at all for the
    hosts in ``options.insecure``.
    """
    timeout = httpx.Timeout(options.timeout, connect=min(options.timeout, 30.0))
    headers = {"User-Agent": options.user_agent}
    limits = httpx.Limits(
        max_connections=max(16, options.parallel * 2 + 4),
        max_keepalive_connections=max(8, options.parallel * 2),
    )
    if transport is not None:
        return httpx.Client(transport=transport, timeout=timeout, headers=headers)
    ca_certs = tuple(options.ca_certs)
    mounts: dict[str, httpx.BaseTransport | None] = {
        "https://": LazyTransport(
            lambda: httpx.HTTPTransport(verify=ssl_context(ca_certs), limits=limits)
        ),
    }
    for host in sorted(options.insecure):
        mounts[f"https://{host}"] = LazyTransport(
            lambda: httpx.HTTPTransport(verify=False, limits=limits)
        )
    return httpx.Client(
        transport=httpx.HTTPTransport(verify=False, limits=limits),  # plain http only
        mounts=mounts,
        timeout=timeout,
        headers=headers,
        trust_env=False,
    )
