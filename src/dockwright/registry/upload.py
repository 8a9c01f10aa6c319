"""Putting one blob into a registry: HEAD, cross-repository mount, monolithic or chunked upload.

Recovery: an upload that fails on the network, with a 5xx/429, or whose bytes the registry
finds altered (``DIGEST_INVALID``) is retried up to ``options.retries`` times with backoff.
A chunked upload first asks the registry how much it acknowledged (``GET`` on the upload
URL, the ``Range`` header) and continues from there; when it cannot tell, or for a
monolithic upload, it starts a new upload session from scratch. Before restarting, a HEAD
checks whether the blob arrived after all (a lost answer to a successful PUT).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, BinaryIO

import httpx

from dockwright.errors import RegistryError
from dockwright.image.model import Descriptor
from dockwright.image.reference import Reference
from dockwright.registry.errors import RegistryUnavailableError
from dockwright.registry.progress import ProgressCallback, Reporter

if TYPE_CHECKING:
    from dockwright.registry.client import Client
    from dockwright.registry.endpoints import Endpoint

log = logging.getLogger(__name__)

CHUNK = 1 << 20
MOUNT_CANDIDATES = 3
_RANGE = re.compile(r"(?:bytes=)?(\d+)-(\d+)")
_RETRY_CODES = frozenset({"DIGEST_INVALID", "BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID"})
_OCTETS = "application/octet-stream"


class _Retry(Exception):
    """This attempt failed in a way a fresh attempt may fix; ``error`` says why."""

    def __init__(self, error: RegistryError) -> None:
        super().__init__(error.message)
        self.error = error


class _Upload:
    """One blob's upload to one repository."""

    def __init__(
        self,
        client: Client,
        ref: Reference,
        desc: Descriptor,
        open_blob: Callable[[], BinaryIO],
        reporter: Reporter,
    ) -> None:
        self.client = client
        self.ref = ref
        self.desc = desc
        self.open_blob = open_blob
        self.reporter = reporter
        self.ep: Endpoint = client.endpoint(ref.registry)
        self.scopes = client.push_scopes(ref)
        self.subject = f"blob {desc.digest}"

    # ------------------------------------------------------------------ helpers

    def _fail(self, response: httpx.Response) -> RegistryError:
        return self.client.error(response, self.ep, self.ref, self.subject, action="push")

    def _judge(self, response: httpx.Response) -> RegistryError:
        """Map a failed upload response; raise :class:`_Retry` when another try may work."""
        status = response.status_code
        error = self._fail(response)
        if "DIGEST_INVALID" in error.codes and not self._local_ok():
            raise RegistryError(
                f"the local copy of {self.subject} is corrupt: its bytes do not hash to its "
                "digest, so the registry refused them",
                codes=error.codes,
                status=status,
                hint="run `dockwright prune --repair`, then rebuild or pull the image again",
            )
        if status >= 500 or status in (404, 408, 416, 429) or _RETRY_CODES & set(error.codes):
            raise _Retry(error)
        return error

    def _local_ok(self) -> bool:
        hasher = self.desc.digest.hasher()
        size = 0
        with self.open_blob() as stream:
            while chunk := stream.read(CHUNK):
                hasher.update(chunk)
                size += len(chunk)
        return size == self.desc.size and hasher.hexdigest() == self.desc.digest.hex

    def _location(self, response: httpx.Response) -> httpx.URL:
        location = response.headers.get("location")
        if not location:
            raise RegistryError(
                f"{self.ep.host} started an upload for {self.ref.familiar} without a Location",
                hint="the registry does not follow the distribution spec",
            )
        return httpx.URL(str(response.url)).join(location)

    def _uploads_url(self) -> str:
        return self.client.url(self.ep, self.ref, "blobs", "uploads/")

    # ------------------------------------------------------------------ steps

    def mount(self, sources: Sequence[str]) -> tuple[bool, httpx.URL | None]:
        """Try cross-repository mounts; ``(True, None)`` when one worked, else maybe the
        upload session a failed mount opened."""
        for source in sources:
            scopes = self.client.push_scopes(self.ref, (source,))
            url = httpx.URL(self._uploads_url()).copy_merge_params(
                {"mount": str(self.desc.digest), "from": source}
            )
            try:
                response = self.client.request(
                    self.ep, "POST", url, scopes=scopes, content=b"", retry_unsafe=True
                )
            except RegistryUnavailableError:
                return False, None
            if response.status_code == 201:
                log.debug(
                    "mounted %s from %s into %s", self.desc.digest.short, source, self.ref.name
                )
                return True, None
            if response.status_code == 202:
                # The registry could not mount and opened an ordinary upload instead.
                return False, self._location(response)
            log.debug(
                "mount of %s from %s refused (HTTP %d)",
                self.desc.digest.short,
                source,
                response.status_code,
            )
            response.close()
        return False, None

    def start(self) -> httpx.URL:
        """Open an upload session; returns its URL."""
        response = self.client.request(
            self.ep, "POST", self._uploads_url(), scopes=self.scopes, content=b"", retry_unsafe=True
        )
        if response.status_code != 202:
            raise self._judge(response)
        return self._location(response)

    def _body(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        stop = self.desc.size if end is None else end
        sent = start
        with self.open_blob() as stream:
            if start:
                try:
                    stream.seek(start)
                except (OSError, ValueError):
                    _skip(stream, start)
            while sent < stop:
                chunk = stream.read(min(CHUNK, stop - sent))
                if not chunk:
                    raise RegistryError(
                        f"the local copy of {self.subject} ends after {sent} bytes; "
                        f"its descriptor says {self.desc.size}",
                        hint="run `dockwright prune --repair`, then rebuild or pull it again",
                    )
                sent += len(chunk)
                self.reporter.emit("uploading", sent)
                yield chunk

    def monolithic(self, location: httpx.URL) -> None:
        """PUT the whole blob to the session."""
        response = self.client.request(
            self.ep,
            "PUT",
            location.copy_merge_params({"digest": str(self.desc.digest)}),
            scopes=self.scopes,
            headers={"Content-Type": _OCTETS, "Content-Length": str(self.desc.size)},
            content=self._body,
            retries=0,
        )
        if response.status_code not in (201, 204):
            raise self._judge(response)
        response.close()

    def _status(self, location: httpx.URL) -> tuple[int, httpx.URL] | None:
        """How much of the session the registry holds, or ``None`` when it cannot say."""
        try:
            response = self.client.request(self.ep, "GET", location, scopes=self.scopes)
        except RegistryUnavailableError:
            return None
        match = _RANGE.fullmatch(response.headers.get("range", "").strip())
        if response.status_code != 204 or match is None:
            response.close()
            return None
        end = int(match.group(2))
        if end == 0:
            return None  # "0-0" means 0 or 1 bytes: start over rather than guess
        if response.headers.get("location"):
            location = self._location(response)
        return end + 1, location

    def chunked(self, location: httpx.URL, chunk_size: int) -> None:
        """PATCH the blob in pieces of ``chunk_size`` bytes, then PUT to finish."""
        offset = 0
        stalls = 0
        while offset < self.desc.size:
            end = min(self.desc.size, offset + chunk_size)
            data = b"".join(self._body(offset, end))
            try:
                response = self.client.request(
                    self.ep,
                    "PATCH",
                    location,
                    scopes=self.scopes,
                    headers={
                        "Content-Type": _OCTETS,
                        "Content-Range": f"{offset}-{end - 1}",
                        "Content-Length": str(len(data)),
                    },
                    content=data,
                    retries=0,
                )
            except RegistryUnavailableError as exc:
                response = None
                failure: RegistryError = exc
            if response is not None and response.status_code == 202:
                location = self._location(response)
                match = _RANGE.fullmatch(response.headers.get("range", "").strip())
                acked = int(match.group(2)) + 1 if match and int(match.group(2)) > 0 else end
                # Trust the registry's count when it is plausible: it may keep less.
                offset = acked if offset < acked <= end else end
                response.close()
                stalls = 0
                continue
            if response is not None:
                try:
                    failure = self._judge(response)
                except _Retry as retry:
                    failure = retry.error
                else:
                    raise failure
            stalls += 1
            status = self._status(location)
            if status is None or stalls > self.client.options.retries:
                raise _Retry(failure)
            offset, location = status
            log.info("chunked upload of %s resumes at byte %d", self.desc.digest.short, offset)
            self.reporter.emit("retrying", offset)
            self.client.session.clock.sleep(self.client.session.backoff(stalls - 1))
        response = self.client.request(
            self.ep,
            "PUT",
            location.copy_merge_params({"digest": str(self.desc.digest)}),
            scopes=self.scopes,
            headers={"Content-Length": "0"},
            content=b"",
            retries=0,
        )
        if response.status_code not in (201, 204):
            raise self._judge(response)
        response.close()


def _skip(stream: BinaryIO, count: int) -> None:
    left = count
    while left:
        chunk = stream.read(min(CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)


def upload_blob(
    client: Client,
    ref: Reference,
    desc: Descriptor,
    open_blob: Callable[[], BinaryIO],
    *,
    mount_from: Sequence[str] = (),
    progress: ProgressCallback | None = None,
) -> str:
    """Make ``desc`` present in ``ref``'s repository: ``"exists"``, ``"mounted"`` or
    ``"uploaded"`` (see :meth:`Client.push_blob <dockwright.registry.Client.push_blob>`)."""
    reporter = Reporter(progress, desc.digest, desc.size, desc.media_type)
    if client.blob_exists(ref, desc.digest, action="push"):
        reporter.emit("exists", desc.size)
        return "exists"
    upload = _Upload(client, ref, desc, open_blob, reporter)
    sources = [r for r in dict.fromkeys(mount_from) if r != ref.repository][:MOUNT_CANDIDATES]
    mounted, location = upload.mount(sources) if sources else (False, None)
    if mounted:
        reporter.emit("mounted", desc.size)
        return "mounted"
    attempt = 0
    while True:
        try:
            if location is None:
                location = upload.start()
            if client.options.chunk_size:
                upload.chunked(location, client.options.chunk_size)
            else:
                upload.monolithic(location)
            reporter.emit("done", desc.size)
            return "uploaded"
        except (_Retry, RegistryUnavailableError) as exc:
            error = exc.error if isinstance(exc, _Retry) else exc
            location = None
            if attempt >= client.options.retries:
                raise error from exc
            try:
                if client.blob_exists(ref, desc.digest, action="push"):
                    reporter.emit("done", desc.size)
                    return "uploaded"
            except RegistryError:
                pass
            delay = client.session.backoff(attempt)
            log.info(
                "upload of %s to %s failed (%s); starting over in %.1f s",
                desc.digest.short,
                ref.name,
                error.message,
                delay,
            )
            reporter.emit("retrying", 0)
            client.session.clock.sleep(delay)
            attempt += 1
