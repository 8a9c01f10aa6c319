"""A token server for the distribution registry's ``auth.token`` mode, in a thread.

It follows Docker's token authentication specification (and the OAuth2 variant):

- ``GET /token?service=S&scope=repository:NAME:pull,push[&scope=...][&account=A]
  [&offline_token=true]`` with optional Basic credentials answers
  ``{"token", "access_token", "expires_in", "issued_at"[, "refresh_token"]}``;
- ``POST /token`` with a form (``grant_type=password`` with ``username``/``password``, or
  ``grant_type=refresh_token`` with ``refresh_token``; ``service``, ``client_id``, ``scope``
  space-separated, ``access_type=offline`` for a refresh token) answers
  ``{"access_token", "scope", "expires_in", "issued_at"[, "refresh_token"]}``.

Who gets what (the rules tests rely on):

- anonymous: ``pull`` on repositories whose name starts with ``public/``; nothing else;
- ``dwuser`` / ``s3cret-pass`` (:data:`USERNAME`, :data:`PASSWORD`): every action asked for
  (``pull``, ``push``, ``delete``, ``*``) on every repository, and ``registry:catalog:*``;
- a wrong user or password: 401, no token. An unknown ``service``: 400.

Actions that are not granted are left out of the token's ``access`` claim (the token is still
issued, as the specification asks); the registry then answers 401 ``insufficient_scope``.

Tokens are JWTs (ES256 or RS256, per the signing key) whose header carries the signing
certificate chain in ``x5c`` (the default) or a libtrust key ID in ``kid``; the registry's
``rootcertbundle`` is the CA (for ``x5c``) or the signing certificate itself (for ``kid``).
"""

from __future__ import annotations

import base64
import binascii
import collections
import contextlib
import datetime
import hashlib
import http.server
import json
import secrets
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from support.pki import IssuedCert, PrivateKey

USERNAME = "dwuser"
PASSWORD = "s3cret-pass"
SERVICE = "dockwright-test-registry"
ISSUER = "dockwright-test-token-issuer"
PUBLIC_PREFIX = "public/"
DEFAULT_LIFETIME = 300
ALL_ACTIONS = frozenset({"pull", "push", "delete", "*"})

HeaderKind = Literal["x5c", "kid"]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def libtrust_key_id(key: PrivateKey) -> str:
    """The libtrust key ID of ``key``'s public half, as the registry computes it for the
    certificates of its ``rootcertbundle``: SHA-256 of the DER SubjectPublicKeyInfo, first 240
    bits, base32 without padding, in groups of four joined by ``:``."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def _alg(key: PrivateKey) -> str:
    return "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"


def _sign(key: PrivateKey, message: bytes) -> bytes:
    """The JWS signature of ``message``: raw r||s for ECDSA, PKCS#1 v1.5 for RSA."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def decode_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and the claims of a JWT, without checking its signature (for assertions)."""
    header, claims, _ = token.split(".")
    return json.loads(_b64url_decode(header)), json.loads(_b64url_decode(claims))


@dataclass(frozen=True)
class Scope:
    """One ``type:name:actions`` scope; the name may itself hold ``:`` (a host with a port)."""

    type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Scope:
        """Parse ``repository:library/busybox:pull,push``; raises ValueError when malformed."""
        kind, sep, rest = text.partition(":")
        name, sep2, actions = rest.rpartition(":")
        if not (sep and sep2 and kind and name):
            raise ValueError(f"malformed scope {text!r}")
        return cls(kind, name, tuple(a for a in actions.split(",") if a))

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


@dataclass(frozen=True)
class TokenRequest:
    """One request the token server answered (``status`` is the HTTP status it sent)."""

    method: str
    grant_type: str  # "basic" or "anonymous" for GET; the form's grant_type for POST
    account: str | None
    scopes: tuple[str, ...]
    status: int


@dataclass
class _Grant:
    account: str  # "" for anonymous
    access: list[dict[str, Any]] = field(default_factory=list)


class TokenServer:
    """A running token server on 127.0.0.1 (start with :meth:`start`, or ``with``).

    ``lifetime`` (seconds, ``expires_in``) and ``clock_offset`` (seconds added to "now" when
    stamping ``iat``/``nbf``/``exp``; make it very negative to mint tokens the registry already
    finds expired: it allows 60 s of leeway) may be changed between requests; :meth:`reset`
    restores them and clears the counters.
    """

    def __init__(
        self,
        signing: IssuedCert,
        *,
        tls: IssuedCert | None = None,
        header: HeaderKind = "x5c",
        service: str = SERVICE,
        issuer: str = ISSUER,
        users: Mapping[str, str] | None = None,
        lifetime: int = DEFAULT_LIFETIME,
    ) -> None:
        self.signing = signing
        self.tls = tls
        self.header: HeaderKind = header
        self.service = service
        self.issuer = issuer
        self.users = dict(users) if users is not None else {USERNAME: PASSWORD}
        self.default_lifetime = lifetime
        self.lifetime = lifetime
        self.clock_offset = 0.0
        self.requests: list[TokenRequest] = []
        self.scope_counts: collections.Counter[str] = collections.Counter()
        self._refresh_tokens: dict[str, str] = {}
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> TokenServer:
        """Listen on a free port of 127.0.0.1 and serve in a daemon thread; returns self."""
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.token_server = self
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.tls.cert_path, self.tls.key_path)
            # The handshake then happens in the handler's thread, not in accept().
            httpd.socket = context.wrap_socket(
                httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> TokenServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port it listens on."""
        if self._httpd is None:
            raise RuntimeError("the token server is not running")
        return int(self._httpd.server_address[1])

    @property
    def realm(self) -> str:
        """The token endpoint's URL, the registry's ``auth.token.realm``."""
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}/token"

    # -- what tests look at --------------------------------------------------------------

    def reset(self) -> None:
        """Forget the requests seen and restore ``lifetime`` and ``clock_offset``."""
        with self._lock:
            self.requests.clear()
            self.scope_counts.clear()
            self.lifetime = self.default_lifetime
            self.clock_offset = 0.0

    def token_requests(self, scope: str | None = None) -> int:
        """How many token requests asked for ``scope`` (exact text, e.g.
        ``"repository:test-1/app:pull"``), or how many requests there were in all."""
        with self._lock:
            return len(self.requests) if scope is None else self.scope_counts[scope]

    @contextlib.contextmanager
    def settings(
        self, *, lifetime: int | None = None, clock_offset: float | None = None
    ) -> Iterator[TokenServer]:
        """Change ``lifetime`` and/or ``clock_offset`` for the ``with`` block."""
        saved = (self.lifetime, self.clock_offset)
        if lifetime is not None:
            self.lifetime = lifetime
        if clock_offset is not None:
            self.clock_offset = clock_offset
        try:
            yield self
        finally:
            self.lifetime, self.clock_offset = saved

    # -- issuing ---------------------------------------------------------------------------

    def authorize(self, account: str | None, scopes: Sequence[str]) -> list[dict[str, Any]]:
        """The ``access`` claim for ``account`` (None: anonymous) asking for ``scopes``."""
        access: list[dict[str, Any]] = []
        for text in scopes:
            scope = Scope.parse(text)
            granted = self._granted(account, scope)
            if granted:
                access.append({"type": scope.type, "name": scope.name, "actions": granted})
        return access

    def _granted(self, account: str | None, scope: Scope) -> list[str]:
        if account is not None and account in self.users:
            if scope.type == "repository":
                return [a for a in scope.actions if a in ALL_ACTIONS]
            if scope.type == "registry" and scope.name == "catalog":
                return [a for a in scope.actions if a == "*"]
            return []
        if scope.type == "repository" and scope.name.startswith(PUBLIC_PREFIX):
            return [a for a in scope.actions if a == "pull"]
        return []

    def issue(self, account: str | None, scopes: Sequence[str]) -> tuple[str, dict[str, Any]]:
        """Mint a token for ``account`` and ``scopes`` as a request would; returns the JWT and
        its claims."""
        now = int(time.time() + self.clock_offset)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": account or "",
            "aud": self.service,
            "exp": now + self.lifetime,
            "nbf": now - 1,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": self.authorize(account, scopes),
        }
        key = self.signing.key
        header: dict[str, Any] = {"typ": "JWT", "alg": _alg(key)}
        if self.header == "x5c":
            header["x5c"] = [
                base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
                for c in self.signing.chain
            ]
        else:
            header["kid"] = libtrust_key_id(key)
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        signature = _sign(key, signing_input.encode())
        return f"{signing_input}.{_b64url(signature)}", claims

    def _answer(
        self,
        account: str | None,
        scopes: Sequence[str],
        *,
        oauth: bool,
        offline: bool,
    ) -> dict[str, Any]:
        token, claims = self.issue(account, scopes)
        issued = datetime.datetime.fromtimestamp(claims["iat"], datetime.UTC)
        body: dict[str, Any] = {
            "access_token": token,
            "expires_in": self.lifetime,
            "issued_at": issued.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if oauth:
            body["scope"] = " ".join(scopes)
        else:
            body["token"] = token
        if offline and account is not None:
            refresh = secrets.token_urlsafe(24)
            with self._lock:
                self._refresh_tokens[refresh] = account
            body["refresh_token"] = refresh
        return body

    def _record(
        self,
        method: str,
        grant_type: str,
        account: str | None,
        scopes: Sequence[str],
        status: int,
    ) -> None:
        with self._lock:
            self.requests.append(TokenRequest(method, grant_type, account, tuple(scopes), status))
            self.scope_counts.update(scopes)

    def _check_password(self, username: str | None, password: str | None) -> bool:
        return username is not None and self.users.get(username) == password

    def handle_get(self, query: str, authorization: str | None) -> tuple[int, dict[str, Any]]:
        """Answer ``GET /token?QUERY``; returns the status and the JSON body."""
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        scopes = [s for value in params.get("scope", []) for s in value.split()]
        account_param = params.get("account", [None])[0]
        grant = "anonymous"
        account: str | None = None
        if authorization is not None:
            grant = "basic"
            username, password = _basic_credentials(authorization)
            if not self._check_password(username, password):
                self._record("GET", grant, username or account_param, scopes, 401)
                return 401, _error("UNAUTHORIZED", "wrong user name or password")
            account = username
        status, body = self._validate(params.get("service", [None])[0], scopes)
        if status == 200:
            offline = params.get("offline_token", ["false"])[0].lower() == "true"
            body = self._answer(account, scopes, oauth=False, offline=offline)
        self._record("GET", grant, account or account_param, scopes, status)
        return status, body

    def handle_post(self, form_text: str) -> tuple[int, dict[str, Any]]:
        """Answer the OAuth2 ``POST /token`` with the url-encoded form ``form_text``."""
        form = {k: v[0] for k, v in urllib.parse.parse_qs(form_text).items()}
        grant = form.get("grant_type", "")
        scopes = form.get("scope", "").split()
        account: str | None
        if grant == "password":
            account = form.get("username")
            if not self._check_password(account, form.get("password")):
                self._record("POST", grant, account, scopes, 401)
                return 401, {"error": "invalid_grant", "error_description": "wrong password"}
        elif grant == "refresh_token":
            with self._lock:
                account = self._refresh_tokens.get(form.get("refresh_token", ""))
            if account is None:
                self._record("POST", grant, None, scopes, 401)
                return 401, {"error": "invalid_grant", "error_description": "unknown token"}
        else:
            self._record("POST", grant, None, scopes, 400)
            return 400, {"error": "unsupported_grant_type"}
        status, body = self._validate(form.get("service"), scopes)
        if status == 200 and not form.get("client_id"):
            status, body = 400, {"error": "invalid_request", "error_description": "no client_id"}
        if status == 200:
            offline = form.get("access_type") == "offline"
            body = self._answer(account, scopes, oauth=True, offline=offline)
            if grant == "refresh_token":
                body["refresh_token"] = form["refresh_token"]
        self._record("POST", grant, account, scopes, status)
        return status, body

    def _validate(self, service: str | None, scopes: Sequence[str]) -> tuple[int, dict[str, Any]]:
        if service != self.service:
            return 400, _error("DENIED", f"unknown service {service!r}, want {self.service!r}")
        for scope in scopes:
            try:
                Scope.parse(scope)
            except ValueError as exc:
                return 400, _error("DENIED", str(exc))
        return 200, {}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message}]}


def _basic_credentials(header: str) -> tuple[str | None, str | None]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, sep, password = base64.b64decode(value.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return (user, password) if sep else (None, None)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    token_server: TokenServer


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: Mapping[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="dockwright test token server"')
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path != "/token":
            self._reply(404, _error("NOT_FOUND", path))
            return
        self._reply(*self.server.token_server.handle_get(query, self.headers["Authorization"]))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = self.rfile.read(length).decode()
        if self.path.partition("?")[0] != "/token":
            self._reply(404, _error("NOT_FOUND", self.path))
            return
        self._reply(*self.server.token_server.handle_post(form))
