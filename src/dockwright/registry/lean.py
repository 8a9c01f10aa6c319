"""Plain GETs over the standard library's ``http.client``: the happy case of a pull.

Why a second way to send a request: importing and setting up httpx costs ~50-65 ms, a
fifth of a whole pull of a 250 MB image from a local registry, and every request of such
a pull is a plain GET that answers 200 (the API probe, the manifest, the blobs). Those go
through here first, over keep-alive connections (one per thread and host), with blob
bodies read by ``readinto`` into one reused buffer per thread. Anything that is not a
plain success (a 401 challenge, an error status, a redirect, a broken or refused
connection, a TLS failure) is handed back to the caller, which sends the request again
through the httpx client: authentication challenges, tokens, retries with backoff and
error messages live there only. httpx stays the client for everything else (push, login,
token servers) and is imported on its first use.
"""

from __future__ import annotations

import http.client
import logging
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockwright.registry.options import RegistryOptions

log = logging.getLogger(__name__)

BUFFER_SIZE = 1 << 18
_SMALL_BODY_MAX = 64 << 10
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5

LeanFailure = (OSError, http.client.HTTPException)
"""What a lean request may raise; the caller then falls back to the httpx client."""


class LeanResponse:
    """A response whose status and headers have arrived; read the body, then :meth:`close`.

    A body read to its end leaves the connection open for the next request of the same
    thread; anything else closes it.
    """

    def __init__(self, owner: LeanHttp, key: tuple[str, str], response: http.client.HTTPResponse):
        self._owner = owner
        self._key = key
        self._response = response
        self.status = response.status
        self.headers = response.headers

    def header(self, name: str) -> str:
        """A header's value ("" when absent)."""
        return self.headers.get(name, "") or ""

    @property
    def length(self) -> int | None:
        """The body's announced length (``None`` for a chunked body)."""
        return self._response.length

    def readinto(self, buffer: memoryview) -> int:
        """Read up to ``len(buffer)`` body bytes into ``buffer``; 0 at the end."""
        return self._response.readinto(buffer)

    def read(self, limit: int) -> bytes | None:
        """The whole body, or ``None`` (and the connection closed) when it is longer than
        ``limit``."""
        length = self._response.length
        if length is not None and length > limit:
            return None
        data = self._response.read(limit + 1)
        if len(data) > limit:
            return None
        return data

    def close(self) -> None:
        """Finish with the response: keep the connection if its body was read whole."""
        if not self._response.isclosed():
            self._owner.discard(self._key)
        self._response.close()


class LeanHttp:
    """Keep-alive ``http.client`` connections, one per thread and (scheme, host); GET only.

    TLS is verified as the httpx client verifies it (the system's CAs plus
    ``options.ca_certs``), and not at all for ``options.insecure`` hosts.
    """

    def __init__(
        self, options: RegistryOptions, verified_context: Callable[[Iterable[Path]], ssl.SSLContext]
    ) -> None:
        self._options = options
        self._verified_context = verified_context
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[http.client.HTTPConnection] = []
        self._contexts: dict[bool, ssl.SSLContext] = {}
        self._buffers = threading.local()

    def buffer(self) -> memoryview:
        """This thread's reusable read buffer (``BUFFER_SIZE`` bytes)."""
        view: memoryview | None = getattr(self._buffers, "view", None)
        if view is None:
            view = self._buffers.view = memoryview(bytearray(BUFFER_SIZE))
        return view

    def _context(self, host: str) -> ssl.SSLContext:
        insecure = self._options.is_insecure(host)
        with self._lock:
            context = self._contexts.get(insecure)
            if context is None:
                if insecure:
                    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                else:
                    context = self._verified_context(self._options.ca_certs)
                self._contexts[insecure] = context
        return context

    def _connections(self) -> dict[tuple[str, str], http.client.HTTPConnection]:
        conns: dict[tuple[str, str], http.client.HTTPConnection] | None = getattr(
            self._local, "conns", None
        )
        if conns is None:
            conns = self._local.conns = {}
        return conns

    def _connect(self, key: tuple[str, str]) -> http.client.HTTPConnection:
        scheme, host = key
        timeout = self._options.timeout
        conn: http.client.HTTPConnection
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, timeout=timeout, context=self._context(host))
        else:
            conn = http.client.HTTPConnection(host, timeout=timeout)
        with self._lock:
            self._open.append(conn)
        return conn

    def discard(self, key: tuple[str, str]) -> None:
        """Close this thread's connection to ``key`` (its state is unknown)."""
        conn = self._connections().pop(key, None)
        if conn is not None:
            conn.close()

    def get(self, url: str, headers: Mapping[str, str]) -> LeanResponse:
        """Send ``GET url`` and return the response once its headers are in.

        Raises one of :data:`LeanFailure` when no response came (a kept-alive connection
        the server closed meanwhile is replaced once, silently).
        """
        scheme, _, rest = url.partition("://")
        host, _, path = rest.partition("/")
        if scheme not in ("http", "https") or not host:
            raise http.client.InvalidURL(url)
        key = (scheme, host)
        sent = {**headers, "User-Agent": self._options.user_agent}
        conns = self._connections()
        for attempt in range(2):
            conn = conns.get(key)
            reused = conn is not None
            if conn is None:
                conn = conns[key] = self._connect(key)
            try:
                conn.request("GET", "/" + path, headers=sent)
                return LeanResponse(self, key, conn.getresponse())
            except LeanFailure:
                self.discard(key)
                if not reused or attempt:
                    raise
                log.debug("kept-alive connection to %s was closed; reconnecting", host)
        raise AssertionError("unreachable")  # pragma: no cover

    def get_following(self, url: str, headers: Mapping[str, str]) -> LeanResponse:
        """:meth:`get`, following up to ``MAX_REDIRECTS`` redirects (registries send blob
        GETs to storage or a CDN that way); ``Authorization`` is not sent to another origin.
        The last response is returned, a redirect too when there were more."""
        response = self.get(url, headers)
        for _ in range(MAX_REDIRECTS):
            location = response.header("location")
            if response.status not in _REDIRECTS or not location:
                break
            self._drain(response)
            target = urllib.parse.urljoin(url, location)
            if _origin(target) != _origin(url):
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            url = target
            response = self.get(url, headers)
        return response

    def probe(self, host: str) -> str | None:
        """``https`` or ``http``: how a loopback or insecure ``host`` answers ``/v2/``;
        ``None`` when unsure (the caller's own probe then decides and reports errors)."""
        try:
            self._drain(self.get(f"https://{host}/v2/", {}))
            return "https"
        except ssl.SSLCertVerificationError:
            return None
        except ssl.SSLError:
            pass  # no TLS there: try plain http
        except LeanFailure:
            return None
        try:
            response = self.get(f"http://{host}/v2/", {})
            body = self._drain(response)
        except LeanFailure:
            return None
        # A TLS-only server answers plain http with this 400 (Go's net/http does).
        if response.status == 400 and b"HTTPS server" in body:
            return None
        return "http"

    @staticmethod
    def _drain(response: LeanResponse) -> bytes:
        try:
            return response.read(_SMALL_BODY_MAX) or b""
        finally:
            response.close()

    def close(self) -> None:
        """Close every connection of every thread."""
        with self._lock:
            conns, self._open = self._open, []
        for conn in conns:
            conn.close()


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()
