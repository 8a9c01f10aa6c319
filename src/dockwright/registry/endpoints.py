"""Where a registry's requests go: mirrors, the registry's API host, and https or http.

Plain http. Like Docker, registries on ``localhost``, ``127.0.0.0/8`` and ``::1`` (and those
in ``insecure``) are tried over https first; when the server does not speak TLS there, plain
http is used (decided once per host and client). Certificates are still verified for
loopback hosts unless the host is in ``insecure`` (then TLS is not verified): a loopback
registry with a certificate nobody trusts is an error with a ``--ca-cert`` hint, not a
silent downgrade. Every other registry is https with verified certificates only.

Mirrors are base URLs with their own scheme; one that cannot be reached is not tried again
by the same client.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from dockwright.image.reference import Reference, normalize_registry
from dockwright.registry.errors import RegistryUnavailableError, is_tls_verify_failure
from dockwright.registry.options import RegistryOptions, is_loopback
from dockwright.registry.transport import HttpSession, is_tls_error

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where requests for one registry go: a base URL, the host that authenticates them
    and the name credentials are stored under."""

    base: str
    host: str
    cred_host: str
    mirror: bool = False


class EndpointResolver:
    """Works out endpoints for one client; thread-safe."""

    def __init__(self, options: RegistryOptions, session: HttpSession) -> None:
        self._options = options
        self._session = session
        self._schemes: dict[str, str] = {}
        self._lock = threading.Lock()
        self._dead: set[str] = set()
        self._probing: dict[str, threading.Lock] = {}

    def registry(self, registry: str) -> Endpoint:
        """The endpoint of the registry itself (``registry-1.docker.io`` for Docker Hub)."""
        name = normalize_registry(registry)
        host = Reference(name, "x").api_host
        return Endpoint(f"{self.scheme(host)}://{host}", host, name)

    def mirrors(self, ref: Reference) -> list[Endpoint]:
        """Mirrors for ``ref``'s registry that are still alive, in order."""
        out: list[Endpoint] = []
        for base in self._options.mirrors_for(ref.registry):
            with self._lock:
                if base in self._dead:
                    continue
            host = base.partition("://")[2].partition("/")[0].rpartition("@")[2].lower()
            out.append(Endpoint(base, host, host, mirror=True))
        return out

    def mark_dead(self, ep: Endpoint) -> None:
        """Stop trying the mirror ``ep`` (it could not be reached)."""
        with self._lock:
            self._dead.add(ep.base)

    def warm(self, registry: str) -> None:
        """Learn how ``registry`` speaks through one lean probe, without retries, when it
        is a host that needs probing; anything unsure is left to the first real request
        (so a caller may run this early, beside other work)."""
        host = Reference(normalize_registry(registry), "x").api_host
        lean = self._session.lean
        if lean is None or not (is_loopback(host) or self._options.is_insecure(host)):
            return
        with self._lock:
            if host in self._schemes:
                return
            probing = self._probing.setdefault(host, threading.Lock())
        with probing:
            with self._lock:
                if host in self._schemes:
                    return
            found = lean.probe(host)
            if found is not None:
                with self._lock:
                    self._schemes[host] = found

    def scheme(self, host: str) -> str:
        """``https``, or ``http`` for a loopback/insecure host that does not speak TLS."""
        if not (is_loopback(host) or self._options.is_insecure(host)):
            return "https"
        with self._lock:
            known = self._schemes.get(host)
            if known is not None:
                return known
            probing = self._probing.setdefault(host, threading.Lock())
        with probing:  # one probe per host; other threads wait for its answer
            with self._lock:
                known = self._schemes.get(host)
            if known is not None:
                return known
            found = self._probe(host)
            with self._lock:
                self._schemes[host] = found
        log.debug("registry %s speaks %s", host, found)
        return found

    def _probe(self, host: str) -> str:
        lean = self._session.lean
        found = lean.probe(host) if lean is not None else None
        if found is not None:
            return found
        attempt = 0
        while True:
            try:
                self._session.send("GET", f"https://{host}/v2/", retries=0).close()
                return "https"
            except RegistryUnavailableError as exc:
                cause = exc.__cause__ or exc
                if is_tls_verify_failure(cause):
                    raise
                if is_tls_error(cause) and self._speaks_http(host):
                    return "http"
                if attempt >= self._options.retries:
                    raise
            self._session.clock.sleep(self._session.backoff(attempt))
            attempt += 1

    def _speaks_http(self, host: str) -> bool:
        try:
            response = self._session.send("GET", f"http://{host}/v2/", retries=0)
        except RegistryUnavailableError:
            return False
        # A TLS-only server answers plain http with this 400 (Go's net/http does).
        return not (response.status_code == 400 and b"HTTPS server" in response.content)
