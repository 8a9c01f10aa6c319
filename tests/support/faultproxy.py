"""An HTTP/1.1 reverse proxy that injects faults, in front of a plain-HTTP test registry.

It listens on 127.0.0.1 in a thread and forwards every request as it is (headers, ``Range``,
``Host``, so the registry's ``Location`` URLs point back at the proxy), streaming bodies both
ways; client and upstream connections are kept alive. Tests program faults by rule::

    proxy.add_fault(method="GET", path_regex=r"/v2/.*/blobs/", kind="truncate", times=1)

A rule matches a request whose method equals ``method`` (None: any) and whose target (path
and query) matches ``path_regex`` (``re.search``). The first matching rule with ``times``
left fires (``times=None``: every time; ``skip=K`` lets the first K matches through). Kinds:

- ``status500``: a 500 with a registry-style JSON error, upstream never asked;
- ``status429``: a 429 with ``Retry-After: 1`` (``retry_after=`` changes it), upstream never
  asked; ``status`` with ``status=N`` answers any other code the same way (503 also with
  ``Retry-After``);
- ``drop``: an abrupt close (TCP reset). By default before any response byte (upstream never
  asked); with ``after_bytes=N``, after the upstream's headers and N bytes of its body;
- ``truncate``: the upstream's headers (full ``Content-Length``) and part of its body
  (``after_bytes``, default half), then a clean close;
- ``corrupt``: the upstream's response with one byte flipped (``at=`` offset, default the
  middle); same length, so only a digest check notices;
- ``slow``: waits ``delay`` seconds (default 1) before forwarding.

When the upstream cannot be reached the client gets a 502. ``proxy.requests`` lists
``(method, path, status)`` of every request seen (status None when the connection was
dropped before a response); ``proxy.faults`` the rules with their ``hits``.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

FaultKind = Literal["drop", "status500", "status429", "status", "truncate", "corrupt", "slow"]
FAULT_KINDS: tuple[FaultKind, ...] = (
    "drop",
    "status500",
    "status429",
    "status",
    "truncate",
    "corrupt",
    "slow",
)
CHUNK = 64 * 1024
# Hop-by-hop headers (RFC 9110 7.6.1) are the proxy's own business on each side.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


class ProxiedRequest(NamedTuple):
    """One request the proxy saw; ``status`` is what the client got (None: dropped)."""

    method: str
    path: str
    status: int | None


@dataclass
class Fault:
    """A programmed fault (see the module's docstring); ``hits`` counts the times it fired."""

    kind: FaultKind
    method: str | None = None
    path_regex: str = ".*"
    times: int | None = 1
    skip: int = 0
    after_bytes: int | None = None
    at: int | None = None
    delay: float = 1.0
    status: int = 500
    retry_after: str = "1"
    hits: int = 0
    _seen: int = field(default=0, repr=False)

    def matches(self, method: str, target: str) -> bool:
        """Whether this rule applies to ``method target`` (ignoring how often it fired)."""
        if self.method is not None and self.method.upper() != method:
            return False
        return re.search(self.path_regex, target) is not None

    @property
    def exhausted(self) -> bool:
        """Fired as many times as asked."""
        return self.times is not None and self.hits >= self.times


class FaultProxy:
    """The proxy; :meth:`start` it (or use ``with``) and point clients at :attr:`url`."""

    def __init__(self, upstream: str) -> None:
        """``upstream`` is the registry's ``host:port`` (plain HTTP)."""
        self.upstream = upstream
        self.requests: list[ProxiedRequest] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FaultProxy:
        """Listen on a free port of 127.0.0.1 and serve in a daemon thread; returns self."""
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.proxy = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every client connection still open."""
        httpd = self._httpd
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` of the proxy."""
        if self._httpd is None:
            raise RuntimeError("the fault proxy is not running")
        return f"127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}"

    def add_fault(
        self,
        kind: FaultKind,
        *,
        method: str | None = None,
        path_regex: str = ".*",
        times: int | None = 1,
        skip: int = 0,
        after_bytes: int | None = None,
        at: int | None = None,
        delay: float = 1.0,
        status: int | None = None,
        retry_after: str = "1",
    ) -> Fault:
        """Program a fault (kinds and matching in the module's docstring); returns its rule."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}: one of {FAULT_KINDS}")
        code = status if status is not None else {"status429": 429}.get(kind, 500)
        fault = Fault(
            kind=kind,
            method=method,
            path_regex=path_regex,
            times=times,
            skip=skip,
            after_bytes=after_bytes,
            at=at,
            delay=delay,
            status=code,
            retry_after=retry_after,
        )
        re.compile(path_regex)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault and forget the requests seen."""
        with self._lock:
            self.faults.clear()
            self.requests.clear()

    def _pick(self, method: str, target: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.exhausted or not fault.matches(method, target):
                    continue
                fault._seen += 1
                if fault._seen <= fault.skip:
                    continue
                fault.hits += 1
                return fault
        return None

    def _record(self, method: str, target: str, status: int | None) -> None:
        with self._lock:
            self.requests.append(ProxiedRequest(method, target, status))


class _Dropped(Exception):
    """The handler closed the client connection on purpose."""


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    proxy: FaultProxy

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    _upstream: http.client.HTTPConnection | None = None

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except (_Dropped, ConnectionError, TimeoutError):
            self.close_connection = True
        finally:
            if self._upstream is not None:
                self._upstream.close()

    def _request_body(self) -> Iterator[bytes]:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                yield self.rfile.read(size)
                self.rfile.readline()
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining > 0:
            data = self.rfile.read(min(CHUNK, remaining))
            if not data:
                raise _Dropped("client closed while sending the body")
            remaining -= len(data)
            yield data

    def _proxy(self) -> None:
        proxy = self.server.proxy
        method, target = self.command, self.path
        fault = proxy._pick(method, target)
        kind = fault.kind if fault is not None else None
        if fault is not None and kind == "slow":
            time.sleep(fault.delay)
        if fault is not None and (
            kind in ("status500", "status429", "status")
            or (kind == "drop" and fault.after_bytes is None)
        ):
            for _ in self._request_body():
                pass
            if kind == "drop":
                proxy._record(method, target, None)
                self._reset()
                raise _Dropped("dropped before responding")
            code = {429: "TOOMANYREQUESTS", 503: "UNAVAILABLE"}.get(fault.status, "UNKNOWN")
            retry_after = fault.retry_after if fault.status in (429, 503) else None
            self._send_error(fault.status, code, f"injected {fault.kind}", retry_after)
            proxy._record(method, target, fault.status)
            return
        try:
            response = self._forward(method, target)
        except (OSError, http.client.HTTPException) as exc:
            self._send_error(502, "UNAVAILABLE", f"upstream {proxy.upstream}: {exc}")
            proxy._record(method, target, 502)
            self.close_connection = True
            return
        proxy._record(method, target, response.status)
        self._relay(method, response, fault)

    do_GET = do_HEAD = do_PUT = do_PATCH = do_POST = do_DELETE = do_OPTIONS = _proxy

    def _reset(self) -> None:
        """Close with a TCP reset rather than a clean FIN: SO_LINGER with a zero timeout, and
        the file objects closed first, since they keep the descriptor open."""
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.connection.close()

    def _send_error(
        self, status: int, code: str, detail: str, retry_after: str | None = None
    ) -> None:
        body = json.dumps(
            {"errors": [{"code": code, "message": "fault proxy", "detail": detail}]}
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _forward(self, method: str, target: str) -> http.client.HTTPResponse:
        proxy = self.server.proxy
        chunked = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
        has_body = chunked or self.headers.get("Content-Length", "0") not in ("", "0")
        for attempt in range(2):
            if self._upstream is None:
                self._upstream = http.client.HTTPConnection(proxy.upstream, timeout=120)
            conn = self._upstream
            try:
                conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    # BaseHTTPRequestHandler already answered any "Expect: 100-continue".
                    if name.lower() not in HOP_BY_HOP and name.lower() != "expect":
                        conn.putheader(name, value)
                if chunked:
                    conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
                for data in self._request_body():
                    conn.send(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
                if chunked:
                    conn.send(b"0\r\n\r\n")
                return conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The upstream closed an idle kept-alive connection: retry once on a new one
                # (only safe before any request body byte was read, which a retry would lose).
                conn.close()
                self._upstream = None
                if attempt or has_body:
                    raise
        raise AssertionError("unreachable")

    def _relay(self, method: str, response: http.client.HTTPResponse, fault: Fault | None) -> None:
        kind = fault.kind if fault is not None else None
        length_header = response.getheader("Content-Length")
        length = int(length_header) if length_header is not None else None
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        no_body = method == "HEAD" or response.status in (204, 304) or response.status < 200
        chunked = length is None and not no_body
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        if response.will_close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if no_body:
            self._after_response(response)
            return
        limit: int | None = None
        flip: int | None = None
        if fault is not None and kind in ("drop", "truncate"):
            default = (length or 0) // 2 if kind == "truncate" else 0
            limit = fault.after_bytes if fault.after_bytes is not None else default
        elif fault is not None and kind == "corrupt":
            flip = fault.at if fault.at is not None else (length or 0) // 2
        sent = 0
        while True:
            data = response.read1(CHUNK)
            if not data:
                break
            if flip is not None and sent <= flip < sent + len(data):
                index = flip - sent
                data = data[:index] + bytes([data[index] ^ 0xFF]) + data[index + 1 :]
            if limit is not None and sent + len(data) >= limit:
                self._write(data[: limit - sent], chunked)
                self.wfile.flush()
                self._close_on_purpose(kind == "drop", response)
            self._write(data, chunked)
            sent += len(data)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        self._after_response(response)

    def _write(self, data: bytes, chunked: bool) -> None:
        if not data:
            return
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)

    def _close_on_purpose(self, reset: bool, response: http.client.HTTPResponse) -> None:
        response.close()
        if self._upstream is not None:
            self._upstream.close()
            self._upstream = None
        if reset:
            self._reset()
        else:
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        raise _Dropped("closed mid-body")

    def _after_response(self, response: http.client.HTTPResponse) -> None:
        # read1() never marks a response done; read() does, freeing the connection for reuse.
        response.read()
        if response.will_close and self._upstream is not None:
            self._upstream.close()
            self._upstream = None
