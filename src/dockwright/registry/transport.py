"""HTTP for the registry client: one connection-reusing httpx client, TLS set-up and retries.

The seam below the client is httpx's own transport (``httpx.BaseTransport``): production
uses httpx's connection pool (:mod:`.httpclient`, built on first use), tests pass
``httpx.MockTransport``. In production a pull's plain GETs go first through :mod:`.lean`
(the standard library's http.client), and only what is not a plain success comes here.
Time is the other seam (:class:`Clock`), so retry and token-expiry tests never sleep.

Retry policy: connection failures, 408, 429 and 500/502/503/504 are retried with
exponential backoff and jitter (``0.5 s · 2^n``, capped at 30 s, times a random factor in
[0.5, 1]); a ``Retry-After`` (seconds or an HTTP date) replaces the backoff, and one over
60 s is not waited for. A host name that does not resolve is not retried either. Only
idempotent requests (GET, HEAD, PUT, DELETE) are retried here,
or requests a caller marks safe; uploads recover at a higher level (see ``upload``). TLS
failures are never retried: they do not heal by themselves.
"""

from __future__ import annotations

import email.utils
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from dockwright.errors import UsageError
from dockwright.registry.errors import connection_error, is_unknown_host
from dockwright.registry.lean import LeanHttp
from dockwright.registry.options import RegistryOptions

if TYPE_CHECKING:
    import random

    import httpx

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
RETRY_AFTER_MAX = 60.0

# A request body: bytes, or a factory giving a fresh iterable each time it is (re)sent.
Body = bytes | Callable[[], Iterable[bytes]] | None


class Clock(Protocol):
    """Time as the registry client sees it."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for expiry)."""
        ...

    def time(self) -> float:
        """Seconds since the epoch (for ``Retry-After`` dates)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def time(self) -> float:
        """``time.time()``."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        """``time.sleep(seconds)``."""
        time.sleep(seconds)


def ssl_context(ca_certs: Iterable[Path]) -> ssl.SSLContext:
    """The system's CA store plus ``ca_certs``; a CA file that cannot be read is a
    :class:`~dockwright.errors.UsageError` naming it."""
    context = ssl.create_default_context()
    for path in ca_certs:
        try:
            context.load_verify_locations(cafile=str(path))
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(
                f"cannot use {path} as a CA certificate: {exc}",
                hint="give a PEM file holding the registry's CA certificate",
            ) from exc
    return context


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta seconds or HTTP date), or None."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


def is_tls_error(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is an SSL/TLS-level failure."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return True
        text = str(current)
        if "SSL" in text or "CERTIFICATE_VERIFY_FAILED" in text or "WRONG_VERSION" in text:
            return True
        current = current.__cause__ or current.__context__
    return False


def loggable(url: httpx.URL | str) -> str:
    """A URL for logs: scheme, host and path only (queries may hold upload state)."""
    import httpx  # noqa: PLC0415 - see HttpSession.http

    parsed = httpx.URL(str(url))
    return f"{parsed.scheme}://{parsed.netloc.decode()}{parsed.path}"


class HttpSession:
    """Sends requests with retries; shared by every thread of one client."""

    def __init__(
        self,
        options: RegistryOptions,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.options = options
        self.clock: Clock = clock or SystemClock()
        self._rng = rng  # made on the first backoff: most commands never wait
        self._rng_lock = threading.Lock()
        self._transport = transport
        self._http: httpx.Client | None = None
        self._http_lock = threading.Lock()
        # Only the real network gets the lean path: an injected transport sees every request.
        self.lean = LeanHttp(options, ssl_context) if transport is None else None
        if transport is None:
            for path in options.ca_certs:  # a missing CA file is reported at once
                if not Path(path).is_file():
                    raise UsageError(
                        f"CA certificate file {path} does not exist",
                        hint="give a PEM file holding the registry's CA certificate",
                    )

    @property
    def http(self) -> httpx.Client:
        """The httpx client, built (and httpx imported, ~50 ms) on first use: a pull whose
        requests all succeed through the lean path never needs it."""
        client = self._http
        if client is None:
            with self._http_lock:
                if self._http is None:
                    from dockwright.registry.httpclient import make_http_client  # noqa: PLC0415

                    self._http = make_http_client(self.options, self._transport)
                client = self._http
        return client

    def close(self) -> None:
        """Close the pooled connections."""
        if self.lean is not None:
            self.lean.close()
        if self._http is not None:
            self._http.close()

    def backoff(self, attempt: int) -> float:
        """The delay before retry number ``attempt`` (0-based), with jitter."""
        with self._rng_lock:
            if self._rng is None:
                import random  # noqa: PLC0415

                self._rng = random.Random()
            factor: float = 0.5 + self._rng.random() / 2
        return min(BACKOFF_CAP, BACKOFF_BASE * 2.0**attempt) * factor

    def pause_before_retry(self, status: int | None, retry_after_value: str = "") -> None:
        """Wait as :meth:`send` would before retrying an answer with ``status`` (``None``: a
        connection that broke mid-body), so a request that failed on the lean path is not
        sent again at once. No wait for statuses that are not retried, nor for a
        ``Retry-After`` too long to wait for (the retried request then reports it)."""
        if status is not None and status not in RETRY_STATUSES:
            return
        wait = retry_after(retry_after_value, self.clock.time()) if status is not None else None
        if wait is not None and wait > RETRY_AFTER_MAX:
            return
        self.clock.sleep(wait if wait is not None else self.backoff(0))

    def send(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        headers: Mapping[str, str] | None = None,
        content: Body = None,
        stream: bool = False,
        retries: int | None = None,
        retry_unsafe: bool = False,
        follow_redirects: bool = False,
    ) -> httpx.Response:
        """Send a request, retrying what may be retried; returns the last response.

        Error statuses are returned, not raised (the caller knows what they mean). A
        network failure that outlasts the retries raises
        :class:`~dockwright.registry.errors.RegistryUnavailableError`. With ``stream`` the
        caller must close the response.
        """
        import httpx  # noqa: PLC0415 - see HttpSession.http

        limit = self.options.retries if retries is None else retries
        may_retry = retry_unsafe or method in IDEMPOTENT
        target = httpx.URL(str(url))
        host = target.netloc.decode()
        attempt = 0
        while True:
            body: bytes | Iterator[bytes] | None = iter(content()) if callable(content) else content
            request = self.http.build_request(method, target, headers=headers, content=body)
            try:
                response = self.http.send(request, stream=stream, follow_redirects=follow_redirects)
            except httpx.TransportError as exc:
                unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                permanent = is_tls_error(exc) or is_unknown_host(exc)
                if permanent or attempt >= limit or not (may_retry or unsent):
                    raise connection_error(host, exc, attempts=attempt + 1) from exc
                delay = self.backoff(attempt)
                log.info(
                    "%s %s failed (%s); retry %d/%d in %.1f s",
                    method,
                    loggable(target),
                    type(exc).__name__,
                    attempt + 1,
                    limit,
                    delay,
                )
            else:
                if response.status_code not in RETRY_STATUSES or attempt >= limit or not may_retry:
                    return response
                wait = retry_after(response.headers.get("retry-after"), self.clock.time())
                if wait is not None and wait > RETRY_AFTER_MAX:
                    return response
                delay = wait if wait is not None else self.backoff(attempt)
                response.close()
                log.info(
                    "%s %s answered HTTP %d; retry %d/%d in %.1f s",
                    method,
                    loggable(target),
                    response.status_code,
                    attempt + 1,
                    limit,
                    delay,
                )
            self.clock.sleep(delay)
            attempt += 1
