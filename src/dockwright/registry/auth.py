"""Registry authentication: ``WWW-Authenticate`` challenges, Basic, and Docker's token flow.

A registry answers 401 with a challenge. ``Basic`` asks for the user name and password on
every request. ``Bearer realm=…,service=…,scope=…`` sends the client to a token server:
``GET realm?service=…&scope=…`` (Basic credentials if any, none for an anonymous token), or,
for an identity token, the OAuth2 ``POST`` with ``grant_type=refresh_token``. Tokens are
cached per (realm, service, scopes) until shortly before ``expires_in`` (60 s when absent)
and fetched again when the registry refuses one. A token for ``pull,push`` serves requests
that need only ``pull``.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dockwright.errors import RegistryError
from dockwright.registry.credentials import Credential, Keychain
from dockwright.registry.errors import parse_error_body

if TYPE_CHECKING:
    import httpx

    from dockwright.registry.transport import HttpSession

log = logging.getLogger(__name__)

DEFAULT_EXPIRY = 60.0
CLIENT_ID = "dockwright"
_TOKEN_BODY_MAX = 1 << 20


@dataclass(frozen=True, slots=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge: a scheme (lower case) and its parameters."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        """The token server URL (Bearer) or the protection space name (Basic)."""
        return self.params.get("realm", "")

    @property
    def service(self) -> str:
        """The ``service`` parameter (the registry's name at the token server)."""
        return self.params.get("service", "")

    @property
    def scopes(self) -> tuple[str, ...]:
        """The space-separated ``scope`` parameter, split."""
        return tuple(self.params.get("scope", "").split())


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _token(text: str, pos: int) -> tuple[str, int]:
    start = pos
    while pos < len(text) and text[pos] not in ' \t,="':
        pos += 1
    return text[start:pos], pos


def _quoted(text: str, pos: int) -> tuple[str, int]:
    out: list[str] = []
    pos += 1  # the opening quote
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])
            pos += 2
            continue
        if char == '"':
            return "".join(out), pos + 1
        out.append(char)
        pos += 1
    return "".join(out), pos


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate`` value into its challenges (RFC 9110 §11.6.1).

    Quoted values may hold commas, spaces and escaped quotes; parameter names are matched
    case-insensitively; several challenges may share one header.
    """
    out: list[Challenge] = []
    pos = 0
    text = header
    while True:
        pos = _skip(text, pos, " \t,")
        if pos >= len(text):
            return out
        scheme, pos = _token(text, pos)
        if not scheme:
            pos += 1  # a stray '=' or '"': skip it rather than loop
            continue
        params: dict[str, str] = {}
        while True:
            mark = _skip(text, pos, " \t,")
            name, after = _token(text, mark)
            after_ws = _skip(text, after, " \t")
            if not name or after_ws >= len(text) or text[after_ws] != "=":
                pos = mark  # no 'name=' here: the next challenge starts, or the header ends
                break
            value_pos = _skip(text, after_ws + 1, " \t")
            if value_pos < len(text) and text[value_pos] == '"':
                value, pos = _quoted(text, value_pos)
            else:
                start = value_pos
                while value_pos < len(text) and text[value_pos] not in ", \t":
                    value_pos += 1
                value, pos = text[start:value_pos], value_pos
            params[name.lower()] = value
        out.append(Challenge(scheme.lower(), params))


def challenges_of(response: httpx.Response) -> list[Challenge]:
    """All challenges in a response's ``WWW-Authenticate`` headers."""
    out: list[Challenge] = []
    for value in response.headers.get_list("www-authenticate"):
        out.extend(parse_challenges(value))
    return out


def repository_scope(repository: str, actions: Iterable[str]) -> str:
    """``repository:NAME:pull,push`` (actions in the order given, duplicates dropped)."""
    return f"repository:{repository}:{','.join(dict.fromkeys(actions))}"


def _split_scope(scope: str) -> tuple[str, frozenset[str]]:
    resource, _, actions = scope.rpartition(":")
    return resource, frozenset(a for a in actions.split(",") if a)


def scopes_cover(have: Iterable[str], want: Iterable[str]) -> bool:
    """True when the scopes ``have`` grant every action of every scope in ``want``."""
    granted: dict[str, set[str]] = {}
    for scope in have:
        resource, actions = _split_scope(scope)
        granted.setdefault(resource, set()).update(actions)
    for scope in want:
        resource, actions = _split_scope(scope)
        held = granted.get(resource)
        if held is None or not (actions <= held or "*" in held):
            return False
    return True


def basic_header(credential: Credential) -> str:
    """The ``Authorization`` value for Basic auth."""
    raw = f"{credential.username}:{credential.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


@dataclass(slots=True)
class _Token:
    value: str
    scopes: tuple[str, ...]
    expires: float


class Authenticator:
    """Works out the ``Authorization`` header for each request; shared by all threads.

    Hosts are ``host[:port]`` of the endpoint the request goes to; credentials are looked
    up under ``cred_host`` (``docker.io`` for Docker Hub's API host).
    """

    def __init__(self, session: HttpSession, keychain: Keychain) -> None:
        self._session = session
        self._keychain = keychain
        self._lock = threading.Lock()
        self._fetch_lock = threading.Lock()
        self._challenges: dict[str, Challenge] = {}
        self._tokens: dict[tuple[str, str], list[_Token]] = {}
        self._credentials: dict[str, Credential | None] = {}

    def credential(self, cred_host: str) -> Credential | None:
        """The credential for ``cred_host`` (looked up once per client)."""
        with self._lock:
            if cred_host in self._credentials:
                return self._credentials[cred_host]
        found = self._keychain.get(cred_host)
        with self._lock:
            self._credentials[cred_host] = found
        return found

    def header(self, host: str, cred_host: str, scopes: Sequence[str]) -> str | None:
        """The header to send up front, from what ``host`` asked for before; ``None`` when
        it has not challenged yet (or wants nothing)."""
        with self._lock:
            challenge = self._challenges.get(host)
        if challenge is None:
            return None
        return self._answer(challenge, host, cred_host, scopes, fresh=False)

    def challenged(
        self,
        response: httpx.Response,
        host: str,
        cred_host: str,
        scopes: Sequence[str],
        sent: str | None,
    ) -> str | None:
        """The header to retry with after ``response`` (a 401), or ``None`` if retrying
        cannot help (no usable challenge, or the same header would be sent again)."""
        choices = challenges_of(response)
        challenge = next((c for c in choices if c.scheme == "bearer"), None) or next(
            (c for c in choices if c.scheme == "basic"), None
        )
        if challenge is None:
            return None
        with self._lock:
            self._challenges[host] = challenge
        extra = [s for s in challenge.scopes if not scopes_cover(scopes, [s])]
        wanted = list(dict.fromkeys([*scopes, *extra]))
        header = self._answer(challenge, host, cred_host, wanted, fresh=sent is not None)
        if header is None or header == sent:
            return None
        return header

    def _answer(
        self,
        challenge: Challenge,
        host: str,
        cred_host: str,
        scopes: Sequence[str],
        *,
        fresh: bool,
    ) -> str | None:
        credential = self.credential(cred_host)
        if challenge.scheme == "basic":
            if credential is None or not credential.has_password:
                return None
            return basic_header(credential)
        if challenge.scheme != "bearer" or not challenge.realm:
            return None
        token = self.token(challenge, cred_host, scopes, fresh=fresh)
        return f"Bearer {token}"

    def token(
        self, challenge: Challenge, cred_host: str, scopes: Sequence[str], *, fresh: bool = False
    ) -> str:
        """A bearer token for ``scopes`` from the challenge's realm (cached; ``fresh``
        drops cached ones that would otherwise be used)."""
        key = (challenge.realm, challenge.service)
        now = self._session.clock.monotonic()
        with self._lock:
            cached = self._tokens.get(key, [])
            cached[:] = [t for t in cached if t.expires > now]
            if not fresh:
                for tok in cached:
                    if scopes_cover(tok.scopes, scopes):
                        return tok.value
            else:
                cached[:] = [t for t in cached if not scopes_cover(t.scopes, scopes)]
        with self._fetch_lock:
            # Another thread may have fetched it meanwhile.
            with self._lock:
                for tok in self._tokens.get(key, []):
                    if tok.expires > now and scopes_cover(tok.scopes, scopes) and not fresh:
                        return tok.value
            value, lifetime = self._fetch(challenge, cred_host, scopes)
        expires = self._session.clock.monotonic() + max(lifetime * 0.5, lifetime - 10.0)
        with self._lock:
            self._tokens.setdefault(key, []).append(_Token(value, tuple(scopes), expires))
        return value

    def _fetch(
        self, challenge: Challenge, cred_host: str, scopes: Sequence[str]
    ) -> tuple[str, float]:
        import httpx  # noqa: PLC0415 - only token fetches need it; a plain pull does not

        credential = self.credential(cred_host)
        realm = httpx.URL(challenge.realm)
        if realm.scheme not in ("http", "https"):
            raise RegistryError(
                f"registry {cred_host} sent a token realm that is not an http(s) URL",
                hint="the registry is misconfigured",
            )
        if credential is not None and credential.identity_token:
            form = {
                "grant_type": "refresh_token",
                "refresh_token": credential.identity_token,
                "client_id": CLIENT_ID,
            }
            if challenge.service:
                form["service"] = challenge.service
            if scopes:
                form["scope"] = " ".join(scopes)
            response = self._session.send(
                "POST",
                realm,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                content=_form(form),
                retry_unsafe=True,
            )
            how = "identity token"
        else:
            params: list[tuple[str, str | int | float | bool | None]] = []
            if challenge.service:
                params.append(("service", challenge.service))
            params.extend(("scope", s) for s in scopes)
            headers: dict[str, str] = {}
            if credential is not None and credential.has_password:
                params.append(("account", credential.username))
                headers["Authorization"] = basic_header(credential)
            response = self._session.send("GET", realm.copy_merge_params(params), headers=headers)
            how = "user name and password" if headers else "anonymous"
        log.debug(
            "token from %s for %s (%s): HTTP %d",
            realm.host,
            " ".join(scopes) or "no scope",
            how,
            response.status_code,
        )
        return _token_from(response, cred_host, credential is not None)


def _form(fields: Mapping[str, str]) -> bytes:
    import httpx  # noqa: PLC0415 - see Authenticator._fetch

    return str(httpx.QueryParams(fields)).encode()


def _token_from(response: httpx.Response, cred_host: str, authenticated: bool) -> tuple[str, float]:
    body = response.content[:_TOKEN_BODY_MAX]
    if response.status_code in (401, 403):
        said = "; ".join(e.message for e in parse_error_body(body) if e.message)
        detail = f" ({said[:200]})" if said else ""
        if authenticated:
            raise RegistryError(
                f"{cred_host} rejected the credentials: the token server refused them{detail}",
                status=response.status_code,
                codes=("UNAUTHORIZED",),
                hint=f"check the user name and password, then `dockwright login {cred_host}`",
            )
        raise RegistryError(
            f"{cred_host} refused an anonymous token{detail}",
            status=response.status_code,
            codes=("UNAUTHORIZED",),
            hint=f"log in with `dockwright login {cred_host}`",
        )
    if response.status_code != 200:
        raise RegistryError(
            f"the token server of {cred_host} answered HTTP {response.status_code}",
            status=response.status_code,
            hint="try again later; if it persists the registry's auth service is broken",
        )
    try:
        obj: Any = response.json()
    except ValueError as exc:
        raise RegistryError(
            f"the token server of {cred_host} sent a reply that is not JSON",
            hint="the registry's auth service is broken or a proxy interferes",
        ) from exc
    value = obj.get("token") or obj.get("access_token") if isinstance(obj, dict) else None
    if not isinstance(value, str) or not value:
        raise RegistryError(
            f"the token server of {cred_host} sent no token",
            hint="the registry's auth service is broken",
        )
    lifetime = obj.get("expires_in")
    seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 0.0
    return value, seconds or DEFAULT_EXPIRY
