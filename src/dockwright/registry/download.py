"""Streaming one blob out of a registry, resuming broken transfers with HTTP ranges.

The first attempt goes through the lean path (:mod:`.lean`) when the client has one: a
plain GET whose body is read into a reused buffer and handed to the writer as memoryviews
(the writer copies what it keeps). Whatever that attempt does not finish (an answer other
than 200, a broken connection) continues through httpx from the bytes already written.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dockwright.image.model import Descriptor
from dockwright.image.reference import Reference
from dockwright.registry.content import Writable
from dockwright.registry.errors import connection_error, digest_error
from dockwright.registry.lean import LeanFailure
from dockwright.registry.progress import Reporter

if TYPE_CHECKING:
    import httpx

    from dockwright.registry.client import Client
    from dockwright.registry.endpoints import Endpoint

log = logging.getLogger(__name__)

CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


@dataclass(slots=True)
class Download:
    """A blob download's running state, kept across resumes and endpoints."""

    hasher: hashlib._Hash | None  # None: the writer verifies the digest
    done: int = 0
    host: str = ""


class _ShortBody(Exception):
    """The server ended the body early without a protocol error."""


def _too_long(ref: Reference, desc: Descriptor, host: str) -> Exception:
    return digest_error(
        f"blob {desc.digest} of {ref.familiar}",
        f"{desc.size} bytes",
        f"more than {desc.size} bytes",
        host,
    )


def _lean_fetch(
    client: Client,
    ep: Endpoint,
    url: str,
    *,
    ref: Reference,
    desc: Descriptor,
    out: Writable,
    state: Download,
    reporter: Reporter,
) -> bool:
    """One plain GET of the whole blob through the lean path; True when it got all of it.

    Bytes that arrived before a break stay written (``state.done`` counts them)."""
    lean = client.session.lean
    if lean is None:
        return False
    headers = client.lean_headers(ep, client.pull_scopes(ref), {"Accept-Encoding": "identity"})
    try:
        response = lean.get_following(url, headers)
    except LeanFailure as exc:
        log.debug("lean GET of %s failed (%s); using httpx", desc.digest.short, exc)
        return False
    try:
        if response.status != 200 or (response.length or 0) > desc.size:
            client.session.pause_before_retry(response.status, response.header("retry-after"))
            return False
        buffer = lean.buffer()
        while True:
            try:
                n = response.readinto(buffer)
            except LeanFailure as exc:  # the network only: a failed write must not resume
                log.info(
                    "download of %s from %s broke at %d/%d bytes (%s); resuming",
                    desc.digest.short,
                    ep.host,
                    state.done,
                    desc.size,
                    type(exc).__name__,
                )
                client.session.pause_before_retry(None)
                return False
            if not n:
                return state.done == desc.size
            if state.done + n > desc.size:
                raise _too_long(ref, desc, ep.host)
            chunk = buffer[:n]
            if state.hasher is not None:
                state.hasher.update(chunk)
            out.write(chunk)
            state.done += n
            reporter.emit("downloading", state.done)
    finally:
        response.close()


def _range_start(response: httpx.Response) -> int | None:
    match = _CONTENT_RANGE.match(response.headers.get("content-range", "").strip())
    return int(match.group(1)) if match else None


def _raw_chunks(response: httpx.Response) -> Iterator[bytes]:
    # Raw bytes, never content-decoded: a blob's digest is over what the registry stores.
    # A response whose body was read already (as in-memory test transports give) is whole.
    if response.is_stream_consumed:
        yield response.content
        return
    yield from response.iter_raw()  # as received: a chunker would lose its buffer on a break


def fetch_into(
    client: Client,
    ep: Endpoint,
    *,
    ref: Reference,
    desc: Descriptor,
    out: Writable,
    state: Download,
    reporter: Reporter,
) -> None:
    """Append the rest of ``desc``'s blob (from ``state.done``) to ``out`` and ``state``.

    Transfers that break are resumed with ``Range``; failures without progress count
    against ``options.retries``. Error statuses raise the mapped RegistryError; content
    longer than the descriptor says raises a digest error at once.
    """
    url = client.url(ep, ref, "blobs", str(desc.digest))
    if not state.done and _lean_fetch(
        client, ep, url, ref=ref, desc=desc, out=out, state=state, reporter=reporter
    ):
        return
    import httpx  # noqa: PLC0415 - only what the lean path did not finish comes here

    failures = 0
    while True:
        resume_at = state.done
        headers = {"Accept-Encoding": "identity"}
        if resume_at:
            headers["Range"] = f"bytes={resume_at}-"
        response = client.request(
            ep,
            "GET",
            url,
            scopes=client.pull_scopes(ref),
            headers=headers,
            stream=True,
            follow_redirects=True,
        )
        try:
            status = response.status_code
            if status == 416 and resume_at >= desc.size:
                return
            if status == 206 and resume_at:
                start = _range_start(response)
                if start is None or start > resume_at:
                    raise _ShortBody(f"unexpected Content-Range for bytes={resume_at}-")
                skip = resume_at - start
            elif status == 200:
                skip = resume_at  # the server ignored Range: read past what we have
                if resume_at:
                    log.debug("%s ignored Range; skipping %d bytes", ep.host, resume_at)
            else:
                raise client.error(response, ep, ref, f"blob {desc.digest}")
            for chunk in _raw_chunks(response):
                if skip:
                    if len(chunk) <= skip:
                        skip -= len(chunk)
                        continue
                    chunk = chunk[skip:]  # noqa: PLW2901 - the part past what we have
                    skip = 0
                if state.done + len(chunk) > desc.size:
                    raise _too_long(ref, desc, ep.host)
                if state.hasher is not None:
                    state.hasher.update(chunk)
                out.write(chunk)
                state.done += len(chunk)
                reporter.emit("downloading", state.done)
            if state.done < desc.size:
                raise _ShortBody(f"body ended after {state.done} of {desc.size} bytes")
            return
        except (httpx.TransportError, _ShortBody) as exc:
            if state.done > resume_at:
                failures = 0
            failures += 1
            if failures > client.options.retries:
                if isinstance(exc, httpx.TransportError):
                    raise connection_error(ep.host, exc, attempts=failures) from exc
                raise connection_error(
                    ep.host, httpx.RemoteProtocolError(str(exc)), attempts=failures
                ) from exc
            delay = client.session.backoff(failures - 1)
            log.info(
                "download of %s from %s broke at %d/%d bytes (%s); resuming in %.1f s",
                desc.digest.short,
                ep.host,
                state.done,
                desc.size,
                type(exc).__name__,
                delay,
            )
            reporter.emit("retrying", state.done)
            client.session.clock.sleep(delay)
        finally:
            response.close()
