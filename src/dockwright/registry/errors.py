"""Registry failures as one clear line each: distribution-spec codes, network and TLS trouble.

Every message names the reference (or host) and what to do next. No message ever holds a
credential: they are built from the registry's error code and message, the HTTP status and
the host, never from request headers.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dockwright.errors import RegistryError

if TYPE_CHECKING:
    import httpx

_MESSAGE_MAX = 200
_STATUS_CODES = {401: "UNAUTHORIZED", 403: "DENIED", 429: "TOOMANYREQUESTS"}


class RegistryDigestError(RegistryError):
    """Content from a registry does not match the digest that names it (nothing was kept)."""


class RegistryUnavailableError(RegistryError):
    """A registry could not be reached, or the connection broke (after retries)."""


@dataclass(frozen=True, slots=True)
class SpecError:
    """One entry of a distribution-spec error body."""

    code: str
    message: str


def parse_error_body(body: bytes) -> list[SpecError]:
    """The ``errors`` of a ``{"errors": [{"code", "message", "detail"}]}`` body; ``[]`` else."""
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    if not isinstance(obj, dict) or not isinstance(obj.get("errors"), list):
        return []
    out: list[SpecError] = []
    for entry in obj["errors"]:
        if isinstance(entry, dict):
            out.append(SpecError(str(entry.get("code", "")), str(entry.get("message", ""))))
    return out


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _MESSAGE_MAX else flat[: _MESSAGE_MAX - 1] + "…"


def _login_hint(host: str) -> str:
    return f"log in with `dockwright login {host}`"


def response_error(
    status: int,
    body: bytes,
    *,
    host: str,
    ref: str,
    name: str,
    subject: str,
    action: str = "pull",
    authenticated: bool = False,
) -> RegistryError:
    """The :class:`RegistryError` for an error response.

    ``ref`` is the reference shown to the user, ``name`` its ``registry/repository``,
    ``subject`` what was asked for (``tag 1.23``, ``blob sha256:…``), ``action`` ``pull`` or
    ``push`` and ``authenticated`` whether credentials were sent.
    """
    errors = parse_error_body(body)
    codes = [e.code for e in errors if e.code]
    if not codes and status in _STATUS_CODES:
        codes = [_STATUS_CODES[status]]  # a HEAD, or a proxy's bare answer: no body
    said = _one_line("; ".join(e.message for e in errors if e.message))
    detail = f": {said}" if said else ""

    def make(message: str, hint: str | None) -> RegistryError:
        return RegistryError(message, status=status, codes=codes, hint=hint)

    if "UNAUTHORIZED" in codes or status == 401:
        if authenticated:
            return make(
                f"{host} refused {action} access to {ref} with your credentials{detail}",
                f"check that your account may {action} {name}, or log in again with "
                f"`dockwright login {host}`",
            )
        return make(f"{host} requires authentication to {action} {ref}{detail}", _login_hint(host))
    if "DENIED" in codes or status == 403:
        return make(
            f"{host} denied {action} access to {ref}{detail}",
            f"check that your account may {action} {name}; {_login_hint(host)}",
        )
    if "TOOMANYREQUESTS" in codes or status == 429:
        return make(
            f"{host} is rate-limiting requests for {ref}{detail}",
            f"wait and try again, log in (`dockwright login {host}`) for a higher limit, or "
            "pull through a mirror (--registry-mirror)",
        )
    if "NAME_UNKNOWN" in codes:
        return make(
            f"repository {name} not found on {host}{detail}",
            "check the name (and that you may see it: private repositories look absent "
            "without credentials)",
        )
    if "MANIFEST_UNKNOWN" in codes or (status == 404 and subject.startswith(("tag", "manifest"))):
        return make(
            f"{subject} not found in {name}{detail}",
            "check the tag or digest; the repository exists but has no such image",
        )
    if "BLOB_UNKNOWN" in codes or (status == 404 and subject.startswith("blob")):
        return make(
            f"{subject} of {ref} not found on {host}{detail}",
            "the image is incomplete on the registry; push it again",
        )
    if "BLOB_UPLOAD_UNKNOWN" in codes:
        return make(f"{host} lost the upload of {subject} to {ref}{detail}", "try the push again")
    if "DIGEST_INVALID" in codes or "SIZE_INVALID" in codes:
        return make(
            f"{host} rejected {subject} for {ref}: the uploaded bytes do not match its "
            f"digest or size{detail}",
            "the local copy may be corrupt; run `dockwright prune --repair`, then rebuild or "
            "pull again",
        )
    if "MANIFEST_INVALID" in codes or "MANIFEST_BLOB_UNKNOWN" in codes:
        return make(
            f"{host} rejected {subject} for {ref}{detail}",
            "the registry may not support this media type, or a blob it needs is missing",
        )
    if "UNSUPPORTED" in codes or status == 405:
        return make(
            f"{host} does not support this operation on {ref}{detail}",
            "the registry may be read-only or a mirror",
        )
    if status == 404:
        return make(f"{subject} of {ref} not found on {host}{detail}", "check the name")
    if status >= 500:
        return make(
            f"{host} failed with HTTP {status} on {subject} of {ref}{detail}",
            "the registry has a problem; try again later",
        )
    return make(f"{host} answered HTTP {status} to {subject} of {ref}{detail}", None)


def _is_verify_failure(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def is_unknown_host(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) says a host name does not resolve (a
    temporary resolver failure does not count)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror) and current.errno in (
            getattr(socket, "EAI_NONAME", None),
            getattr(socket, "EAI_NODATA", None),
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


def is_tls_verify_failure(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is a failed TLS certificate verification."""
    return _is_verify_failure(exc)


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return _one_line(text)


def connection_error(host: str, exc: httpx.TransportError, *, attempts: int = 1) -> RegistryError:
    """The error for a request that could not be completed at the network level."""
    import httpx  # noqa: PLC0415 - a pull that never fails must not pay for importing it

    tries = f" (after {attempts} attempts)" if attempts > 1 else ""
    if _is_verify_failure(exc):
        return RegistryUnavailableError(
            f"the TLS certificate of registry {host} could not be verified: {_reason(exc)}",
            hint=f"trust its CA with --ca-cert FILE, or allow it with --insecure-registry {host}",
        )
    if is_unknown_host(exc):
        return RegistryUnavailableError(
            f"cannot reach registry {host}: the name {host.rsplit(':', 1)[0]} does not "
            f"resolve ({_reason(exc)})",
            hint="check the name and the network; without internet access, pull through a "
            "mirror (--registry-mirror)",
        )
    if isinstance(exc, httpx.TimeoutException):
        return RegistryUnavailableError(
            f"registry {host} did not answer in time{tries}: {_reason(exc)}",
            hint="check the network, or raise the timeout",
        )
    if isinstance(exc, httpx.ConnectError):
        return RegistryUnavailableError(
            f"cannot reach registry {host}{tries}: {_reason(exc)}",
            hint="is it running, and is the address right?",
        )
    return RegistryUnavailableError(
        f"the connection to registry {host} broke{tries}: {_reason(exc)}",
        hint="check the network and try again",
    )


def digest_error(what: str, expected: str, actual: str, host: str) -> RegistryDigestError:
    """The error for content whose digest does not match what names it."""
    return RegistryDigestError(
        f"{what} from {host} hashes to {actual}, expected {expected}; it was not kept",
        hint="the registry, a mirror or a proxy altered the content; try again",
    )


def codes_of(errors: Sequence[SpecError]) -> tuple[str, ...]:
    """The codes of parsed spec errors."""
    return tuple(e.code for e in errors if e.code)
