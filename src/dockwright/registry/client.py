"""The distribution-spec client: manifests, blobs, tags; mirrors, auth and http fallback.

Reads (manifests, blobs, tags) try the mirrors configured for the registry first, in
order, then the registry itself; writes go to the registry only. How hosts are reached
(https, or plain http for loopback and insecure registries) is :mod:`.endpoints`' business.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, TypeVar

from dockwright.errors import ImageFormatError, RegistryError
from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest
from dockwright.image.model import Descriptor, load_json, sniff_media_type
from dockwright.image.reference import Reference
from dockwright.registry.auth import Authenticator, repository_scope
from dockwright.registry.content import Writable
from dockwright.registry.credentials import DockerKeychain, Keychain
from dockwright.registry.download import Download, fetch_into
from dockwright.registry.endpoints import Endpoint, EndpointResolver
from dockwright.registry.errors import (
    RegistryUnavailableError,
    digest_error,
    response_error,
)
from dockwright.registry.lean import LeanFailure
from dockwright.registry.options import RegistryOptions
from dockwright.registry.progress import ProgressCallback, Reporter
from dockwright.registry.transport import Body, Clock, HttpSession

if TYPE_CHECKING:
    import random

    import httpx

log = logging.getLogger(__name__)

MANIFEST_ACCEPT = ", ".join(
    (mt.OCI_INDEX, mt.OCI_MANIFEST, mt.DOCKER_MANIFEST_LIST, mt.DOCKER_MANIFEST)
)
SCHEMA1_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    }
)
MANIFEST_MAX = 4 << 20
_ERROR_BODY_MAX = 64 << 10
_READ_CHUNK = 1 << 20
_T = TypeVar("_T")
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def _subject(ref: Reference) -> str:
    return f"manifest {ref.digest}" if ref.digest is not None else f"tag {ref.tag or 'latest'}"


class Client:
    """A registry client; one per command, shared by its threads. Close it (or use
    ``with``) to release connections.

    ``transport`` replaces httpx's network transport (tests pass ``httpx.MockTransport``),
    ``keychain`` the credential lookup (default: Docker's config and auth.json files),
    ``clock`` the time source for retries and token expiry. ``progress`` receives the
    blob events of every transfer that is not given a callback of its own.
    """

    def __init__(
        self,
        options: RegistryOptions | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        keychain: Keychain | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.options = options or RegistryOptions()
        self.progress = progress
        self.session = HttpSession(self.options, transport=transport, clock=clock, rng=rng)
        self.auth = Authenticator(self.session, keychain or DockerKeychain(self.options.auth_file))
        self.endpoints = EndpointResolver(self.options, self.session)

    def close(self) -> None:
        """Release the pooled connections."""
        self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ endpoints

    def endpoint(self, registry: str) -> Endpoint:
        """The endpoint of the registry itself (never a mirror)."""
        return self.endpoints.registry(registry)

    def _with_mirrors(self, ref: Reference, call: Callable[[Endpoint], _T], what: str) -> _T:
        failures: list[str] = []
        for ep in self.endpoints.mirrors(ref):
            try:
                return call(ep)
            except RegistryUnavailableError as exc:
                self.endpoints.mark_dead(ep)
                failures.append(f"{ep.host}: {exc.message}")
            except RegistryError as exc:
                failures.append(f"{ep.host}: {exc.message}")
            log.info("mirror %s could not serve %s: %s", ep.host, what, failures[-1])
        try:
            return call(self.endpoint(ref.registry))
        except RegistryError as exc:
            if failures:
                exc.message += f" (mirror tried first: {'; '.join(failures)})"
                exc.args = (exc.message,)
            raise

    # ------------------------------------------------------------------ requests

    def request(
        self,
        ep: Endpoint,
        method: str,
        url: str | httpx.URL,
        *,
        scopes: Sequence[str],
        headers: dict[str, str] | None = None,
        content: Body = None,
        stream: bool = False,
        retries: int | None = None,
        retry_unsafe: bool = False,
        follow_redirects: bool = False,
    ) -> httpx.Response:
        """Send an authenticated request to ``ep`` (answering one 401 challenge)."""
        import httpx  # noqa: PLC0415 - a pull through the lean path never gets here

        target = httpx.URL(str(url))
        same_host = target.netloc.decode() == ep.host
        sent_headers = dict(headers or {})
        sent = self.auth.header(ep.host, ep.cred_host, scopes) if same_host else None
        if sent:
            sent_headers["Authorization"] = sent

        def send() -> httpx.Response:
            return self.session.send(
                method,
                target,
                headers=sent_headers,
                content=content,
                stream=stream,
                retries=retries,
                retry_unsafe=retry_unsafe,
                follow_redirects=follow_redirects,
            )

        response = send()
        if response.status_code != 401 or not same_host:
            return response
        retry = self.auth.challenged(response, ep.host, ep.cred_host, scopes, sent)
        if retry is None:
            return response
        response.close()
        sent_headers["Authorization"] = retry
        return send()

    def error(
        self,
        response: httpx.Response,
        ep: Endpoint,
        ref: Reference,
        subject: str,
        *,
        action: str = "pull",
    ) -> RegistryError:
        """The error for a failed response (reads at most 64 KiB of its body)."""
        import httpx  # noqa: PLC0415 - see request()

        body = b""
        if response.request.method != "HEAD":
            try:
                body = response.read()[:_ERROR_BODY_MAX]
            except httpx.HTTPError:
                body = b""
        response.close()
        return response_error(
            response.status_code,
            body,
            host=ep.host,
            ref=ref.familiar if not ep.mirror else f"{ref.familiar} (mirror {ep.host})",
            name=ref.name,
            subject=subject,
            action=action,
            authenticated=self.auth.credential(ep.cred_host) is not None,
        )

    def url(self, ep: Endpoint, ref: Reference, kind: str, identifier: str = "") -> str:
        """``{base}/v2/{repository}/{kind}/{identifier}``."""
        tail = f"/{identifier}" if identifier else "/"
        return f"{ep.base}/v2/{ref.repository}/{kind}{tail}"

    @staticmethod
    def pull_scopes(ref: Reference) -> list[str]:
        """Scopes a read of ``ref`` needs."""
        return [repository_scope(ref.repository, ("pull",))]

    @staticmethod
    def push_scopes(ref: Reference, mount_from: Sequence[str] = ()) -> list[str]:
        """Scopes a push to ``ref`` needs (plus pull on mount sources)."""
        scopes = [repository_scope(ref.repository, ("pull", "push"))]
        scopes += [repository_scope(r, ("pull",)) for r in mount_from if r != ref.repository]
        return scopes

    # ------------------------------------------------------------------ API

    def ping(self, registry: str) -> None:
        """Check that ``registry`` answers the v2 API and accepts our credentials (if any).

        Raises :class:`RegistryError` (code ``UNAUTHORIZED`` for refused or missing
        credentials) otherwise.
        """
        ep = self.endpoint(registry)
        response = self.request(ep, "GET", f"{ep.base}/v2/", scopes=())
        if response.status_code == 200:
            response.close()
            return
        if response.status_code == 401:
            response.close()
            login = f"`dockwright login {ep.cred_host}`"
            if self.auth.credential(ep.cred_host) is not None:
                raise RegistryError(
                    f"{ep.cred_host} rejected the user name or password",
                    status=401,
                    codes=("UNAUTHORIZED",),
                    hint=f"check them, then log in again with {login}",
                )
            raise RegistryError(
                f"{ep.cred_host} requires authentication",
                status=401,
                codes=("UNAUTHORIZED",),
                hint=f"log in with {login}",
            )
        body = response.read()[:_ERROR_BODY_MAX]
        raise response_error(
            response.status_code,
            body,
            host=ep.host,
            ref=ep.cred_host,
            name=ep.cred_host,
            subject="the API check",
        )

    def get_manifest(self, ref: Reference) -> tuple[Descriptor, bytes]:
        """Fetch the manifest or index ``ref`` names; returns its descriptor and bytes.

        The bytes are checked against the reference's digest (or the registry's
        ``Docker-Content-Digest``); schema 1 manifests are refused.
        """
        return self._with_mirrors(ref, lambda ep: self._get_manifest(ep, ref), _subject(ref))

    def lean_headers(
        self, ep: Endpoint, scopes: Sequence[str], headers: dict[str, str]
    ) -> dict[str, str]:
        """``headers`` plus the ``Authorization`` that :meth:`request` would send first."""
        sent = self.auth.header(ep.host, ep.cred_host, scopes)
        return {**headers, "Authorization": sent} if sent else headers

    def _lean_manifest(self, ep: Endpoint, ref: Reference) -> tuple[bytes, str, str] | None:
        """The manifest's bytes, Content-Type and Docker-Content-Digest through the lean
        path; ``None`` for anything but a plain 200 (the caller asks httpx instead)."""
        lean = self.session.lean
        if lean is None:
            return None
        url = self.url(ep, ref, "manifests", ref.identifier)
        headers = self.lean_headers(ep, self.pull_scopes(ref), {"Accept": MANIFEST_ACCEPT})
        try:
            response = lean.get(url, headers)
            try:
                data = response.read(MANIFEST_MAX) if response.status == 200 else None
            finally:
                response.close()
        except LeanFailure as exc:
            log.debug("lean GET of %s failed (%s); using httpx", ref, type(exc).__name__)
            return None
        if data is None:
            self.session.pause_before_retry(response.status, response.header("retry-after"))
            return None
        return data, response.header("content-type"), response.header("docker-content-digest")

    def _get_manifest(self, ep: Endpoint, ref: Reference) -> tuple[Descriptor, bytes]:
        got = self._lean_manifest(ep, ref)
        if got is None:
            response = self.request(
                ep,
                "GET",
                self.url(ep, ref, "manifests", ref.identifier),
                scopes=self.pull_scopes(ref),
                headers={"Accept": MANIFEST_ACCEPT},
                follow_redirects=True,
            )
            if response.status_code != 200:
                raise self._manifest_error(response, ep, ref)
            got = (
                response.content,
                response.headers.get("content-type", ""),
                response.headers.get("docker-content-digest", ""),
            )
        data, content_type, header = got
        if len(data) > MANIFEST_MAX:
            raise RegistryError(
                f"the manifest of {ref.familiar} on {ep.host} is larger than 4 MiB",
                hint="this is not an image manifest dockwright can use",
            )
        media_type = self._media_type(content_type, data, ref, ep)
        expected = ref.digest
        if expected is None and header:
            try:
                expected = Digest.parse(header.strip())
            except ImageFormatError:
                log.debug("ignoring malformed Docker-Content-Digest %r", header)
        actual = Digest.of(data)
        if expected is not None:
            actual = Digest.from_hasher(hashlib.new(expected.algorithm, data))
            if actual != expected:
                raise digest_error(
                    f"the manifest of {ref.familiar}", str(expected), str(actual), ep.host
                )
        return Descriptor(media_type, actual, len(data)), data

    def _media_type(self, content_type: str, data: bytes, ref: Reference, ep: Endpoint) -> str:
        declared = content_type.split(";", maxsplit=1)[0].strip()
        try:
            obj = load_json(data, f"the manifest of {ref.familiar}")
        except ImageFormatError as exc:
            raise RegistryError(
                f"{ep.host} sent a manifest for {ref.familiar} that is not JSON",
                hint="the registry or a proxy is broken",
            ) from exc
        if declared in SCHEMA1_TYPES or obj.get("schemaVersion") == 1:
            raise RegistryError(
                f"{ref.familiar} is a Docker schema 1 image, which dockwright does not support",
                codes=("MANIFEST_INVALID",),
                hint="push it again with a current Docker, skopeo or dockwright to get "
                "schema 2 / OCI",
            )
        if declared in mt.INDEX_TYPES or declared in mt.MANIFEST_TYPES:
            return declared
        try:
            return sniff_media_type(data)
        except ImageFormatError as exc:
            raise RegistryError(
                f"{ep.host} sent a document for {ref.familiar} that is neither a manifest "
                f"nor an index (Content-Type {declared or 'missing'})",
                hint="check the reference; it may name an artifact, not an image",
            ) from exc

    def _manifest_error(
        self, response: httpx.Response, ep: Endpoint, ref: Reference
    ) -> RegistryError:
        err = self.error(response, ep, ref, _subject(ref))
        if response.status_code != 404 or "NAME_UNKNOWN" in err.codes:
            return err
        # The registry says only "manifest unknown": tell a missing repository apart.
        try:
            tags = self._list_tags(ep, ref)
        except RegistryError as tag_err:
            if "NAME_UNKNOWN" in tag_err.codes:
                return RegistryError(
                    f"repository {ref.name} not found on {ep.host}",
                    status=404,
                    codes=("NAME_UNKNOWN",),
                    hint="check the name (private repositories look absent without "
                    "credentials: `dockwright login " + ep.cred_host + "`)",
                )
            return err
        shown = ", ".join(tags[:8]) + (" …" if len(tags) > 8 else "")
        hint = f"available tags: {shown}" if tags else "the repository has no tags"
        return RegistryError(
            f"{_subject(ref)} not found in {ref.name}", status=404, codes=err.codes, hint=hint
        )

    def resolve(self, ref: Reference) -> Descriptor:
        """The descriptor ``ref`` points at (a HEAD request, a GET when the registry does
        not say the digest)."""

        def head(ep: Endpoint) -> Descriptor:
            response = self.request(
                ep,
                "HEAD",
                self.url(ep, ref, "manifests", ref.identifier),
                scopes=self.pull_scopes(ref),
                headers={"Accept": MANIFEST_ACCEPT},
                follow_redirects=True,
            )
            media_type = response.headers.get("content-type", "").split(";")[0].strip()
            header = response.headers.get("docker-content-digest", "")
            size = response.headers.get("content-length", "")
            if (
                response.status_code == 200
                and header
                and size.isdigit()
                and (media_type in mt.INDEX_TYPES or media_type in mt.MANIFEST_TYPES)
            ):
                try:
                    digest = Digest.parse(header.strip())
                except ImageFormatError:
                    digest = None
                if digest is not None and (ref.digest is None or ref.digest == digest):
                    return Descriptor(media_type, digest, int(size))
            return self._get_manifest(ep, ref)[0]

        return self._with_mirrors(ref, head, _subject(ref))

    def blob_exists(self, ref: Reference, digest: Digest, *, action: str = "pull") -> bool:
        """True when the registry (not a mirror) has ``digest`` in ``ref``'s repository.

        With ``action="push"`` the request carries push credentials (one token serves
        the whole push instead of a pull token first).
        """
        ep = self.endpoint(ref.registry)
        scopes = self.push_scopes(ref) if action == "push" else self.pull_scopes(ref)
        response = self.request(
            ep,
            "HEAD",
            self.url(ep, ref, "blobs", str(digest)),
            scopes=scopes,
            follow_redirects=True,
        )
        if response.status_code == 200:
            return True
        if response.status_code == 404:
            return False
        raise self.error(response, ep, ref, f"blob {digest}", action=action)

    def fetch_blob(
        self,
        ref: Reference,
        desc: Descriptor,
        out: Writable,
        progress: ProgressCallback | None = None,
        *,
        verify: bool = True,
    ) -> None:
        """Stream ``desc``'s blob into ``out``, verifying size and digest on the way.

        A broken transfer resumes with ``Range: bytes=N-`` (a server that answers 200
        instead of 206 is read past the bytes already written). Raises
        :class:`~dockwright.registry.errors.RegistryDigestError` when the bytes do not
        match: the caller must discard what ``out`` received. ``verify=False`` leaves the
        digest (not the size) to ``out`` — for a writer that hashes what it is given and
        refuses a mismatch at commit, so the bytes are not hashed twice.
        """
        reporter = Reporter(progress or self.progress, desc.digest, desc.size, desc.media_type)
        state = Download(desc.digest.hasher() if verify else None)
        self._with_mirrors(
            ref,
            lambda ep: self._fetch_from(
                ep, ref=ref, desc=desc, out=out, state=state, reporter=reporter
            ),
            f"blob {desc.digest}",
        )
        actual = state.hasher.hexdigest() if state.hasher is not None else desc.digest.hex
        if state.done != desc.size or actual != desc.digest.hex:
            raise digest_error(
                f"blob {desc.digest} of {ref.familiar}",
                f"{desc.digest} ({desc.size} bytes)",
                f"{desc.digest.algorithm}:{actual} ({state.done} bytes)",
                state.host,
            )
        reporter.emit("done", state.done)

    def _fetch_from(
        self,
        ep: Endpoint,
        *,
        ref: Reference,
        desc: Descriptor,
        out: Writable,
        state: Download,
        reporter: Reporter,
    ) -> None:
        state.host = ep.host
        fetch_into(self, ep, ref=ref, desc=desc, out=out, state=state, reporter=reporter)

    def push_blob(
        self,
        ref: Reference,
        desc: Descriptor,
        open_blob: Callable[[], BinaryIO],
        *,
        mount_from: Sequence[str] = (),
        progress: ProgressCallback | None = None,
    ) -> str:
        """Make ``desc``'s blob present in ``ref``'s repository; returns ``"exists"``,
        ``"mounted"`` or ``"uploaded"``.

        ``mount_from`` names other repositories of the same registry that may hold the
        blob (tried as cross-repository mounts). ``open_blob`` is called once per attempt.
        """
        from dockwright.registry.upload import upload_blob  # noqa: PLC0415 - push only

        return upload_blob(
            self, ref, desc, open_blob, mount_from=mount_from, progress=progress or self.progress
        )

    def put_manifest(self, ref: Reference, data: bytes, media_type: str) -> Digest:
        """PUT a manifest or index under ``ref``'s tag (or digest); returns its digest."""
        ep = self.endpoint(ref.registry)
        digest = (
            Digest.of(data)
            if ref.digest is None
            else Digest.from_hasher(hashlib.new(ref.digest.algorithm, data))
        )
        if ref.digest is not None and digest != ref.digest:
            raise RegistryError(
                f"cannot push to {ref.familiar}: the manifest's digest is {digest}",
                hint="push by tag, or by the manifest's own digest",
            )
        response = self.request(
            ep,
            "PUT",
            self.url(ep, ref, "manifests", ref.identifier),
            scopes=self.push_scopes(ref),
            headers={"Content-Type": media_type},
            content=data,
        )
        if response.status_code not in (200, 201, 202):
            raise self.error(response, ep, ref, f"the manifest for {ref.identifier}", action="push")
        header = response.headers.get("docker-content-digest", "").strip()
        if header and header != str(digest):
            raise RegistryError(
                f"{ep.host} stored the manifest of {ref.familiar} as {header}, expected {digest}",
                hint="the registry rewrote the manifest; it does not keep content as given",
            )
        return digest

    def list_tags(self, ref: Reference) -> list[str]:
        """Every tag of ``ref``'s repository (following pagination)."""
        return self._with_mirrors(ref, lambda ep: self._list_tags(ep, ref), "the tag list")

    def _list_tags(self, ep: Endpoint, ref: Reference) -> list[str]:
        import httpx  # noqa: PLC0415 - see request()

        url: str | httpx.URL = self.url(ep, ref, "tags", "list")
        tags: list[str] = []
        for _ in range(1000):
            response = self.request(ep, "GET", url, scopes=self.pull_scopes(ref))
            if response.status_code != 200:
                raise self.error(response, ep, ref, "the tag list")
            try:
                obj = response.json()
            except ValueError as exc:
                raise RegistryError(
                    f"{ep.host} sent a tag list for {ref.name} that is not JSON"
                ) from exc
            listed = obj.get("tags") if isinstance(obj, dict) else None
            tags.extend(str(t) for t in listed or ())
            match = _LINK_NEXT.search(response.headers.get("link", ""))
            if match is None:
                break
            url = httpx.URL(str(response.url)).join(match.group(1))
        return tags
