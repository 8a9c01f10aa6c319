"""The lean read path (plain GETs over http.client) against the real registry: a plain pull
never imports httpx, the probe tells http from https, and what the lean path does not
finish (challenges, faults) still ends with verified content through httpx."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockwright.image.model import Manifest
from dockwright.image.reference import Reference
from dockwright.registry import Client, RegistryOptions, pull, push
from dockwright.registry.credentials import StaticKeychain
from dockwright.registry.lean import LeanHttp
from dockwright.registry.transport import ssl_context
from dockwright.store import Store
from dockwright.store.testing import add_image
from support import RegistryServer, free_port

_PULL_AND_REPORT = """
import json, sys
from dockwright.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "httpx": "httpx" in sys.modules}))
"""


def _pushed(registry: RegistryServer, repo: str, tmp_path: Path) -> tuple[str, str]:
    source = Store.open(tmp_path / "src")
    # Many reads of the lean path's buffer, and past the store's 4 MiB early-writeback step.
    payload = os.urandom(9 << 20)
    root = add_image(source, layers=({"big.bin": payload}, {"small": b"s"}), compress=False)
    name = f"{registry.host}/{repo}/lean:1"
    with Client(RegistryOptions(), keychain=StaticKeychain()) as c:
        push(c, source, root, Reference.parse(name))
    return name, str(root.digest)


def test_plain_pull_never_imports_httpx(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    name, digest = _pushed(registry, repo, tmp_path)
    home = tmp_path / "home"
    proc = subprocess.run(
        [sys.executable, "-c", _PULL_AND_REPORT, "pull", name],
        env={**os.environ, "DOCKWRIGHT_HOME": str(home)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"code": 0, "httpx": False}, proc.stderr
    assert digest in proc.stdout
    store = Store.open(home)
    assert str(store.resolve(name).digest) == digest
    assert store.verify() == []


def test_probe_tells_plain_http_and_gives_up_on_nothing(registry: RegistryServer) -> None:
    lean = LeanHttp(RegistryOptions(timeout=5.0), ssl_context)
    try:
        assert lean.probe(registry.host) == "http"
        assert lean.probe(f"127.0.0.1:{free_port()}") is None  # refused: the caller decides
    finally:
        lean.close()


def test_lean_get_reuses_its_connection_and_reconnects_after_close(
    registry: RegistryServer,
) -> None:
    lean = LeanHttp(RegistryOptions(timeout=5.0), ssl_context)
    try:
        for _ in range(3):
            response = lean.get(f"http://{registry.host}/v2/", {})
            assert response.status == 200
            assert response.read(1 << 10) is not None
            response.close()
        lean.close()  # every connection closed under the thread's feet: one silent reconnect
        response = lean.get(f"http://{registry.host}/v2/", {})
        assert response.status == 200
        response.close()
    finally:
        lean.close()


def test_pull_through_a_client_with_the_lean_path_verifies_everything(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    name, digest = _pushed(registry, repo, tmp_path)
    store = Store.open(tmp_path / "dest")
    with Client(RegistryOptions(), keychain=StaticKeychain()) as c:
        assert c.session.lean is not None
        result = pull(c, Reference.parse(name), store)
    assert str(result.root.digest) == digest
    assert result.blobs_fetched == 3
    store.tag("lean:1", result.root)
    assert store.verify() == []


@pytest.fixture
def redirector(registry: RegistryServer) -> Iterator[tuple[str, list[str]]]:
    """A server that answers every GET with a 307 to the same path on the registry (as
    registries send blob GETs to storage); yields its host and the paths it was asked."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(307)
            self.send_header("Location", f"http://{registry.host}{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def test_lean_blob_gets_follow_redirects(
    registry: RegistryServer,
    redirector: tuple[str, list[str]],
    repo: str,
    tmp_path: Path,
) -> None:
    name, digest = _pushed(registry, repo, tmp_path)
    host, hits = redirector
    store = Store.open(tmp_path / "dest")
    with Client(RegistryOptions(), keychain=StaticKeychain()) as c:
        result = pull(c, Reference.parse(name.replace(registry.host, host)), store)
    assert str(result.root.digest) == digest
    store.tag("lean:1", result.root)
    assert store.verify() == []
    blob_gets = Counter(p for p in hits if "/blobs/sha256:" in p)
    # Followed by the lean path itself: no second GET of a blob through httpx.
    assert len(blob_gets) == 3 and set(blob_gets.values()) == {1}, blob_gets


class _FailingWriter:
    """Takes one write, then fails like a full disk."""

    def __init__(self) -> None:
        self.calls = 0

    def write(self, data: bytes | memoryview, /) -> int:
        self.calls += 1
        if self.calls > 1:
            raise OSError(28, "No space left on device")
        return len(data)


def test_a_failed_write_is_not_resumed(registry: RegistryServer, repo: str, tmp_path: Path) -> None:
    name, _ = _pushed(registry, repo, tmp_path)
    ref = Reference.parse(name)
    with Client(RegistryOptions(), keychain=StaticKeychain()) as c:
        root = c.get_manifest(ref)[1]
        layer = max(Manifest.from_bytes(root).layers, key=lambda d: d.size)
        out = _FailingWriter()
        with pytest.raises(OSError, match="No space"):
            c.fetch_blob(ref, layer, out)
    # A write that failed may have left part of its bytes behind: going on after it
    # would store bytes the running hash never saw.
    assert out.calls == 2
