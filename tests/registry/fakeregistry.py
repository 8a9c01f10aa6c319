"""An in-memory distribution registry behind ``httpx.MockTransport``, with auth and faults.

Enough of the distribution spec for the client's unit tests: ``/v2/``, manifests (GET, HEAD,
PUT), blobs (GET with ranges, HEAD), uploads (POST with mount, PATCH, PUT, GET status), tag
lists with pagination, and distribution-style error bodies. ``auth`` is ``None``, ``"basic"``
or ``"bearer"`` (a token server at ``https://auth.test/token`` in the same transport).
``faults`` are callables tried first on every request: one that returns a response (or
raises) answers it instead of the registry.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx

from dockwright.image.digest import Digest

Fault = Callable[[httpx.Request], httpx.Response | None]
TOKEN_REALM = "https://auth.test/token"
SERVICE = "fake-registry"
USER, PASSWORD = "alice", "correct-horse-battery"
REFRESH_TOKEN = "refresh-token-secret-value"


def error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """A distribution-spec error response."""
    body = {"errors": [{"code": code, "message": message, "detail": None}]}
    return httpx.Response(status, json=body, headers=headers or {})


class BrokenStream(httpx.SyncByteStream):
    """A body that yields ``data`` then fails as a dropped connection would."""

    def __init__(self, data: bytes, exc: Exception | None = None) -> None:
        self.data = data
        self.exc = exc

    def __iter__(self) -> Iterator[bytes]:
        yield self.data
        if self.exc is not None:
            raise self.exc
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")


@dataclass
class Upload:
    repository: str
    data: bytearray = field(default_factory=bytearray)


@dataclass
class Token:
    scopes: tuple[str, ...]
    account: str


class FakeRegistry:
    """The registry's state plus the request handler."""

    def __init__(
        self,
        host: str = "reg.test",
        *,
        auth: str | None = None,
        anonymous_pull: bool = True,
        token_lifetime: int | None = 300,
        page_size: int = 0,
        honour_range: bool = True,
    ) -> None:
        self.host = host
        self.auth = auth
        self.anonymous_pull = anonymous_pull
        self.token_lifetime = token_lifetime
        self.page_size = page_size
        self.honour_range = honour_range
        self.blobs: dict[str, dict[str, bytes]] = {}
        self.manifests: dict[str, dict[str, tuple[str, bytes]]] = {}
        self.uploads: dict[str, Upload] = {}
        self.tokens: dict[str, Token] = {}
        self.revoked: set[str] = set()
        self.requests: list[httpx.Request] = []
        self.token_requests: list[httpx.Request] = []
        self.faults: list[Fault] = []
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------ setup helpers

    def add_blob(self, repository: str, data: bytes) -> Digest:
        """Put ``data`` in ``repository``; returns its digest."""
        digest = Digest.of(data)
        self.blobs.setdefault(repository, {})[str(digest)] = data
        return digest

    def add_manifest(
        self, repository: str, data: bytes, media_type: str, tag: str | None = None
    ) -> Digest:
        """Store a manifest under its digest (and ``tag``)."""
        digest = Digest.of(data)
        repo = self.manifests.setdefault(repository, {})
        repo[str(digest)] = (media_type, data)
        if tag:
            repo[tag] = (media_type, data)
        return digest

    def transport(self) -> httpx.MockTransport:
        """The MockTransport serving this registry (and its token server)."""
        return httpx.MockTransport(self.handle)

    def calls(self, method: str | None = None, path: str = "") -> list[httpx.Request]:
        """Requests seen by the registry (not the token server), filtered."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and path in r.url.path
        ]

    # ------------------------------------------------------------------ auth

    def _token_endpoint(self, request: httpx.Request) -> httpx.Response:
        self.token_requests.append(request)
        account = ""
        if request.method == "POST":
            form = dict(httpx.QueryParams(request.content.decode()))
            if (
                form.get("grant_type") != "refresh_token"
                or form.get("refresh_token") != REFRESH_TOKEN
            ):
                return httpx.Response(401, json={"error": "invalid_grant"})
            scopes = tuple(form.get("scope", "").split())
            account = USER
        else:
            header = request.headers.get("authorization", "")
            if header:
                user, _, password = base64.b64decode(header.split()[1]).decode().partition(":")
                if (user, password) != (USER, PASSWORD):
                    return error(401, "UNAUTHORIZED", "invalid username or password")
                account = user
            scopes = tuple(request.url.params.get_list("scope"))
        granted = tuple(s for s in scopes if account or s.endswith(":pull"))
        value = f"tok-{next(self._ids)}"
        self.tokens[value] = Token(granted, account)
        body: dict[str, object] = {"token": value}
        if self.token_lifetime is not None:
            body["expires_in"] = self.token_lifetime
        return httpx.Response(200, json=body)

    def _needed(self, request: httpx.Request, repository: str) -> list[str]:
        if request.method in ("GET", "HEAD"):
            return [f"repository:{repository}:pull"]
        scopes = [f"repository:{repository}:push"]
        source = request.url.params.get("from")
        if source:
            scopes.append(f"repository:{source}:pull")
        return scopes

    def _check_auth(self, request: httpx.Request, repository: str | None) -> httpx.Response | None:
        header = request.headers.get("authorization", "")
        if self.auth == "basic":
            expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if header != expected:
                return error(
                    401,
                    "UNAUTHORIZED",
                    "authentication required",
                    {"WWW-Authenticate": 'Basic realm="fake registry"'},
                )
            return None
        if self.auth != "bearer":
            return None
        needed = self._needed(request, repository) if repository else []
        token = self.tokens.get(header[7:]) if header.startswith("Bearer ") else None
        if token is not None and header[7:] not in self.revoked:
            granted: set[str] = set()
            for scope in token.scopes:
                resource, _, actions = scope.rpartition(":")
                granted.update(f"{resource}:{a}" for a in actions.split(","))
            if all(n in granted for n in needed):
                return None
        scope = " ".join(needed) if needed else ""
        challenge = f'Bearer realm="{TOKEN_REALM}",service="{SERVICE}"'
        if scope:
            challenge += f',scope="{scope}"'
        if token is not None:
            challenge += ',error="insufficient_scope"'
        return error(
            401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge}
        )

    # ------------------------------------------------------------------ dispatch

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request."""
        if request.url.host != "auth.test":
            self.requests.append(request)
        for fault in list(self.faults):
            answer = fault(request)
            if answer is not None:
                return answer
        if request.url.host == "auth.test":
            return self._token_endpoint(request)
        path = request.url.path
        if path == "/v2/":
            denied = self._check_auth(request, None)
            return denied or httpx.Response(200, json={})
        match = re.fullmatch(r"/v2/(.+?)/(manifests|blobs|tags)/(.*)", path)
        if match is None:
            return error(404, "NOT_FOUND", "no route")
        repository, kind, rest = match.groups()
        denied = self._check_auth(request, repository)
        if denied is not None:
            return denied
        if kind == "manifests":
            return self._manifests(request, repository, rest)
        if kind == "tags":
            return self._tags(request, repository)
        if rest.startswith("uploads/"):
            return self._uploads(request, repository, rest[len("uploads/") :])
        return self._blobs(request, repository, rest)

    def _manifests(self, request: httpx.Request, repository: str, ref: str) -> httpx.Response:
        repo = self.manifests.get(repository, {})
        if request.method == "PUT":
            data = request.content
            media_type = request.headers.get("content-type", "")
            digest = self.add_manifest(repository, data, media_type)
            if not ref.startswith("sha256:"):
                self.manifests[repository][ref] = (media_type, data)
            elif ref != str(digest):
                return error(400, "DIGEST_INVALID", "manifest digest did not match")
            return httpx.Response(
                201,
                headers={
                    "Docker-Content-Digest": str(digest),
                    "Location": f"/v2/{repository}/manifests/{digest}",
                },
            )
        if ref not in repo:
            return error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        media_type, data = repo[ref]
        headers = {
            "Content-Type": media_type,
            "Docker-Content-Digest": str(Digest.of(data)),
            "Content-Length": str(len(data)),
        }
        if request.method == "HEAD":
            return httpx.Response(200, headers=headers)
        return httpx.Response(200, headers=headers, content=data)

    def _tags(self, request: httpx.Request, repository: str) -> httpx.Response:
        if repository not in self.manifests:
            return error(404, "NAME_UNKNOWN", "repository name not known to registry")
        tags = sorted(t for t in self.manifests[repository] if not t.startswith("sha256:"))
        last = request.url.params.get("last")
        if last:
            tags = [t for t in tags if t > last]
        headers = {}
        if self.page_size and len(tags) > self.page_size:
            tags = tags[: self.page_size]
            headers["Link"] = (
                f'</v2/{repository}/tags/list?last={tags[-1]}&n={self.page_size}>; rel="next"'
            )
        return httpx.Response(200, json={"name": repository, "tags": tags}, headers=headers)

    def _blobs(self, request: httpx.Request, repository: str, digest: str) -> httpx.Response:
        data = self.blobs.get(repository, {}).get(digest)
        if data is None:
            return error(404, "BLOB_UNKNOWN", "blob unknown to registry")
        headers = {"Docker-Content-Digest": digest, "Content-Type": "application/octet-stream"}
        if request.method == "HEAD":
            return httpx.Response(200, headers={**headers, "Content-Length": str(len(data))})
        wanted = request.headers.get("range", "")
        match = re.fullmatch(r"bytes=(\d+)-", wanted)
        if match and self.honour_range:
            start = int(match.group(1))
            if start >= len(data):
                return httpx.Response(416, headers={"Content-Range": f"bytes */{len(data)}"})
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            return httpx.Response(206, headers=headers, content=data[start:])
        return httpx.Response(200, headers=headers, content=data)

    def _uploads(self, request: httpx.Request, repository: str, rest: str) -> httpx.Response:
        if request.method == "POST":
            mount, source = request.url.params.get("mount"), request.url.params.get("from")
            if mount and source and mount in self.blobs.get(source, {}):
                self.blobs.setdefault(repository, {})[mount] = self.blobs[source][mount]
                return httpx.Response(
                    201,
                    headers={
                        "Location": f"/v2/{repository}/blobs/{mount}",
                        "Docker-Content-Digest": mount,
                    },
                )
            uuid = f"u{next(self._ids)}"
            self.uploads[uuid] = Upload(repository)
            return httpx.Response(
                202,
                headers={
                    "Location": f"/v2/{repository}/blobs/uploads/{uuid}?_state=s{uuid}",
                    "Range": "0-0",
                },
            )
        upload = self.uploads.get(rest)
        if upload is None:
            return error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
        location = f"https://{self.host}/v2/{repository}/blobs/uploads/{rest}?_state=x"
        if request.method == "GET":
            end = max(len(upload.data) - 1, 0)
            return httpx.Response(204, headers={"Location": location, "Range": f"0-{end}"})
        if request.method == "PATCH":
            content_range = request.headers.get("content-range", "")
            match = re.fullmatch(r"(\d+)-(\d+)", content_range)
            if match is None or int(match.group(1)) != len(upload.data):
                return error(416, "BLOB_UPLOAD_INVALID", "bad range")
            upload.data.extend(request.content)
            return httpx.Response(
                202, headers={"Location": location, "Range": f"0-{len(upload.data) - 1}"}
            )
        if request.method == "PUT":
            upload.data.extend(request.content)
            digest = request.url.params.get("digest", "")
            actual = "sha256:" + hashlib.sha256(upload.data).hexdigest()
            del self.uploads[rest]
            if digest != actual:
                return error(
                    400, "DIGEST_INVALID", "provided digest did not match uploaded content"
                )
            self.blobs.setdefault(repository, {})[digest] = bytes(upload.data)
            return httpx.Response(
                201,
                headers={
                    "Location": f"/v2/{repository}/blobs/{digest}",
                    "Docker-Content-Digest": digest,
                },
            )
        return error(405, "UNSUPPORTED", "method not allowed")


def manifest_json(data: object) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(data, separators=(",", ":")).encode()
