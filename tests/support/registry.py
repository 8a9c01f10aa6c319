"""The CNCF distribution registry (Debian's ``docker-registry``) on 127.0.0.1, in three set-ups.

- ``plain``: HTTP, no authentication;
- ``basic``: HTTPS with a test CA, ``auth.htpasswd`` (bcrypt) with user ``dwuser``;
- ``token``: HTTPS with a test CA, ``auth.token`` against a :class:`TokenServer` (HTTPS too)
  that this module starts beside it.

All three allow deletes (``storage.delete.enabled``). Each registry lives in its own folder
(config, storage, certificates, log); the process gets SIGKILL if the thread that started it
dies (``setpriv --pdeathsig``), so a killed pytest leaves none behind.

Also here: putting content into a registry without dockwright. :func:`make_test_image`
writes a small deterministic OCI layout, :func:`skopeo_copy` copies it to the registry and
:func:`skopeo_inspect` reads it back. :func:`main` starts a registry by hand:
``PYTHONPATH=tests .venv/bin/python -c 'from support.registry import main; main()' SETUP``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import signal
import ssl
import subprocess
import tarfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict

import httpx
import pytest

from support.pki import issue_cert, make_ca
from support.tokenserver import PASSWORD, USERNAME, HeaderKind, TokenServer
from support.tools import find_tool, free_port, require_tool

REGISTRY_HINT = "apt-get install -y docker-registry"
SKOPEO_HINT = "apt-get install -y skopeo"
START_TIMEOUT = 30.0
# The lowest cost the registry's bcrypt accepts: every request with Basic auth checks it.
BCRYPT_COST = 4

Setup = Literal["plain", "basic", "token"]
SETUPS: tuple[Setup, ...] = ("plain", "basic", "token")


class RegistryError(AssertionError):
    """The registry did not start, or a tool talking to it (skopeo) failed."""


class SkopeoAccess(TypedDict):
    """How skopeo reaches a registry: the keyword arguments of :func:`skopeo_copy`."""

    creds: str | None
    tls_verify: bool
    cert_dir: Path | None


@dataclass
class RegistryServer:
    """A running ``docker-registry serve``. ``host`` is ``127.0.0.1:PORT``."""

    workdir: Path
    setup: Setup
    host: str
    scheme: str
    ca_cert: Path | None = None
    username: str | None = None
    password: str | None = None
    token_server: TokenServer | None = field(default=None, repr=False)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` or ``https://127.0.0.1:PORT``."""
        return f"{self.scheme}://{self.host}"

    @property
    def root(self) -> Path:
        """The storage folder (``storage.filesystem.rootdirectory``)."""
        return self.workdir / "storage"

    @property
    def config_path(self) -> Path:
        """The registry's configuration file (JSON, which YAML parsers read)."""
        return self.workdir / "config.yml"

    @property
    def log_path(self) -> Path:
        """Where the registry writes its log (stdout and stderr)."""
        return self.workdir / "registry.log"

    @property
    def cert_dir(self) -> Path | None:
        """A folder with only ``ca.crt`` (skopeo's ``--cert-dir``), or None for HTTP."""
        return self.workdir / "client-certs" if self.ca_cert is not None else None

    @property
    def creds(self) -> str | None:
        """``USER:PASSWORD`` for the set-ups that have a user, else None."""
        if self.username is None or self.password is None:
            return None
        return f"{self.username}:{self.password}"

    def ref(self, name: str) -> str:
        """The skopeo reference of ``name`` (``repo:tag`` or ``repo@digest``) here."""
        return f"docker://{self.host}/{name}"

    def skopeo_access(self, *, anonymous: bool = False) -> SkopeoAccess:
        """The :func:`skopeo_copy` / :func:`skopeo_inspect` keywords for this registry:
        ``skopeo_copy(src, reg.ref("a:1"), **reg.skopeo_access())``. With ``anonymous``,
        no credentials."""
        return SkopeoAccess(
            creds=None if anonymous else self.creds,
            tls_verify=self.scheme == "https",
            cert_dir=self.cert_dir,
        )

    def ssl_context(self) -> ssl.SSLContext:
        """A client SSL context trusting the test CA (the system's CAs for HTTP set-ups),
        e.g. for ``httpx.Client(verify=...)`` talking to the registry or its token server."""
        if self.ca_cert is None:
            return ssl.create_default_context()
        return ssl.create_default_context(cafile=str(self.ca_cert))

    def client(self, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` with ``base_url=url`` that trusts the CA and, for ``basic``,
        sends the credentials. Keyword arguments go to ``httpx.Client``."""
        kwargs.setdefault("base_url", self.url)
        kwargs.setdefault("verify", self.ssl_context())
        if self.setup == "basic" and self.username and self.password:
            kwargs.setdefault("auth", (self.username, self.password))
        return httpx.Client(**kwargs)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the registry's log, for failure messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the registry (SIGTERM, then SIGKILL after 10 s) and its token server."""
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self.token_server is not None:
            self.token_server.stop()


def htpasswd_line(user: str, password: str) -> str:
    """``user:BCRYPT-HASH``, the only htpasswd format the registry accepts.

    Uses the ``bcrypt`` package, else Apache's ``htpasswd``; fails the test when neither is
    there.
    """
    try:
        import bcrypt
    except ImportError:
        tool = find_tool("htpasswd")
        if tool is None:
            pytest.fail(
                "the basic-auth registry needs a bcrypt htpasswd file: install the `bcrypt` "
                "package (`.venv/bin/pip install -e '.[dev]'`) or Apache's htpasswd "
                "(`apt-get install -y apache2-utils`)",
                pytrace=False,
            )
        out = subprocess.run(
            [tool, "-nbB", "-C", str(BCRYPT_COST), user, password],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out.strip()
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_COST))
    return f"{user}:{hashed.decode()}"


def _config(workdir: Path, port: int) -> dict[str, Any]:
    return {
        "version": "0.1",
        "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": False}},
        "storage": {
            "filesystem": {"rootdirectory": str(workdir / "storage")},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {
            "addr": f"127.0.0.1:{port}",
            # A fixed secret: the registry warns (and signs upload state randomly) without one.
            "secret": "dockwright-test-registry-secret",
        },
    }


def start_registry(
    workdir: Path,
    setup: Setup = "plain",
    *,
    token_header: HeaderKind = "x5c",
    token_key: str = "ec",
    port: int | None = None,
    timeout: float = START_TIMEOUT,
) -> RegistryServer:
    """Start a registry living in ``workdir`` (created) and wait until ``/v2/`` answers.

    ``token_header`` and ``token_key`` (``"ec"`` for ES256, ``"rsa"`` for RS256) choose how the
    token server signs (``token`` set-up only); ``port`` defaults to a free one. Raises
    :class:`RegistryError` with the log's tail when the registry exits or does not answer
    within ``timeout`` seconds. Start it from the main thread: it is killed when the thread
    that started it ends (``--pdeathsig``)."""
    binary = require_tool("docker-registry", REGISTRY_HINT)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "storage").mkdir(exist_ok=True)
    port = port or free_port()
    config = _config(workdir, port)
    server = RegistryServer(workdir=workdir, setup=setup, host=f"127.0.0.1:{port}", scheme="http")
    if setup != "plain":
        ca = make_ca(workdir / "pki")
        tls = issue_cert(ca, workdir / "pki", "server")
        ca.cert_dir(workdir / "client-certs")
        config["http"]["tls"] = {"certificate": str(tls.cert_path), "key": str(tls.key_path)}
        server.scheme, server.ca_cert = "https", ca.cert_path
        server.username, server.password = USERNAME, PASSWORD
        if setup == "basic":
            htpasswd = workdir / "htpasswd"
            htpasswd.write_text(htpasswd_line(USERNAME, PASSWORD) + "\n")
            config["auth"] = {"htpasswd": {"realm": "dockwright-test", "path": str(htpasswd)}}
        elif setup == "token":
            signing = issue_cert(
                ca, workdir / "pki", "token-signing", server=False, key_kind=token_key
            )
            # The CA verifies an x5c chain; the signing certificate itself gives the key
            # that a kid header names. With both, either header verifies.
            bundle = workdir / "pki" / "token-rootcerts.pem"
            bundle.write_bytes(ca.cert_path.read_bytes() + signing.cert_path.read_bytes())
            token_server = TokenServer(signing, tls=tls, header=token_header).start()
            server.token_server = token_server
            config["auth"] = {
                "token": {
                    "realm": token_server.realm,
                    "service": token_server.service,
                    "issuer": token_server.issuer,
                    "rootcertbundle": str(bundle),
                }
            }
        else:
            raise ValueError(f"unknown registry set-up {setup!r}: one of {SETUPS}")
    server.config_path.write_text(json.dumps(config, indent=2) + "\n")
    cmd = [binary, "serve", str(server.config_path)]
    setpriv = find_tool("setpriv")
    if setpriv is not None:
        cmd = [setpriv, "--pdeathsig", "KILL", "--", *cmd]
    # REGISTRY_* variables would override the config file.
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    with server.log_path.open("wb") as log:
        server.process = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    try:
        _wait_ready(server, cmd, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: RegistryServer, cmd: Sequence[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error = ""
    with server.client(timeout=2) as client:
        while True:
            assert server.process is not None
            if server.process.poll() is not None:
                why = f"exited with code {server.process.returncode}"
                break
            try:
                response = client.get("/v2/")
            except httpx.HTTPError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code in (200, 401):
                    return
                last_error = f"GET /v2/ answered {response.status_code}"
            if time.monotonic() > deadline:
                why = f"did not answer GET {server.url}/v2/ within {timeout:.0f} s"
                break
            time.sleep(0.1)
    raise RegistryError(
        f"docker-registry ({server.setup}) {why}\ncommand: {' '.join(cmd)}\n"
        f"last probe: {last_error or '-'}\n--- registry log tail ---\n{server.log_tail()}"
    )


def stop_registry(server: RegistryServer) -> None:
    """Stop the registry and its token server (the folder stays, for post-mortems)."""
    server.stop()


@contextlib.contextmanager
def running_registry(workdir: Path, setup: Setup = "plain") -> Iterator[RegistryServer]:
    """A registry for the duration of the ``with`` block."""
    server = start_registry(workdir, setup)
    try:
        yield server
    finally:
        server.stop()


# -- content without dockwright ------------------------------------------------------------

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _platform(text: str) -> dict[str, str]:
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"platform {text!r} is not OS/ARCH[/VARIANT]")
    platform = {"os": parts[0], "architecture": parts[1]}
    if len(parts) == 3:
        platform["variant"] = parts[2]
    return platform


def _layer(platform: str, payload_size: int) -> tuple[bytes, bytes]:
    """(uncompressed tar, gzip of it) holding ``platform.txt`` and optional ``payload.bin``."""
    files = [("platform.txt", f"{platform}\n".encode())]
    if payload_size:
        # Incompressible and different per platform, so blobs are as big as asked.
        files.append(("payload.bin", hashlib.shake_256(platform.encode()).digest(payload_size)))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0, compresslevel=6) as gz:
        gz.write(raw.getvalue())
    return raw.getvalue(), packed.getvalue()


def make_test_image(
    dest: Path,
    platforms: Sequence[str] = ("linux/amd64",),
    *,
    tag: str = "latest",
    payload_size: int = 0,
) -> Path:
    """Write a small OCI image layout in ``dest`` (created; must be empty) and return it.

    One image per platform (``"linux/arm64/v8"`` style), each with one gzip'd layer holding
    ``platform.txt`` (the platform and a newline) and, with ``payload_size``, ``payload.bin``
    of that many incompressible bytes. With one platform ``index.json`` points at the image
    manifest; with several, at an image index. The entry is tagged ``tag``, so skopeo
    reads it as ``oci:DEST:TAG`` (copy several platforms with ``all_platforms=True``). The same
    arguments always give the same bytes.
    """
    if not platforms:
        raise ValueError("make_test_image needs at least one platform")
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty")
    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes, media_type: str, **extra: Any) -> dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data), **extra}

    manifests = []
    for text in platforms:
        platform = _platform(text)
        raw, packed = _layer(text, payload_size)
        config = {
            "created": "1970-01-01T00:00:00Z",
            **platform,
            "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(raw).hexdigest()}"]},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": f"test {text}"}],
        }
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": put(_canonical(config), OCI_CONFIG),
            "layers": [put(packed, OCI_LAYER_GZIP)],
        }
        manifests.append(put(_canonical(manifest), OCI_MANIFEST, platform=platform))
    if len(manifests) == 1:
        top = {k: v for k, v in manifests[0].items() if k != "platform"}
    else:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        top = put(_canonical(index), OCI_INDEX)
    top["annotations"] = {REF_NAME: tag}
    layout_index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [top]}
    (dest / "index.json").write_bytes(_canonical(layout_index))
    (dest / "oci-layout").write_bytes(_canonical({"imageLayoutVersion": "1.0.0"}))
    return dest


def layout_digest(layout: Path, tag: str = "latest") -> str:
    """The digest ``tag`` names in the OCI layout ``layout`` (manifest or index)."""
    index = json.loads((layout / "index.json").read_text())
    for entry in index["manifests"]:
        if entry.get("annotations", {}).get(REF_NAME) == tag:
            return str(entry["digest"])
    raise KeyError(f"no tag {tag!r} in {layout}/index.json")


def _access_flags(
    prefix: str, creds: str | None, tls_verify: bool, cert_dir: Path | None
) -> list[str]:
    flags = [f"--{prefix}creds={creds}" if creds else f"--{prefix}no-creds"]
    flags.append(f"--{prefix}tls-verify={'true' if tls_verify else 'false'}")
    if cert_dir is not None:
        flags.append(f"--{prefix}cert-dir={cert_dir}")
    return flags


def _skopeo(args: Sequence[str], check: bool, timeout: float) -> subprocess.CompletedProcess[str]:
    cmd = [require_tool("skopeo", SKOPEO_HINT), *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise RegistryError(
            f"`{' '.join(cmd)}` exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )
    return result


def skopeo_copy(
    src: str,
    dest: str,
    *,
    all_platforms: bool = False,
    creds: str | None = None,
    tls_verify: bool = True,
    cert_dir: Path | None = None,
    check: bool = True,
    extra: Sequence[str] = (),
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``skopeo copy SRC DEST`` (e.g. ``oci:DIR:latest`` to ``docker://HOST/repo:tag``).

    ``creds`` (``USER:PASSWORD``; None is anonymous, never a stored login), ``tls_verify``
    and ``cert_dir`` (a folder with ``ca.crt``) apply to each ``docker://`` side;
    ``registry.skopeo_access()`` gives them for a :class:`RegistryServer`. ``all_platforms``
    copies every image of an index (``--all``). With ``check`` a failure raises
    :class:`RegistryError` carrying skopeo's output.
    """
    args = ["copy", "--retry-times=0"]
    if all_platforms:
        args.append("--all")
    for prefix, ref in (("src-", src), ("dest-", dest)):
        if ref.startswith("docker://"):
            args += _access_flags(prefix, creds, tls_verify, cert_dir)
    return _skopeo([*args, *extra, src, dest], check, timeout)


def skopeo_inspect(
    ref: str,
    *,
    raw: bool = False,
    creds: str | None = None,
    tls_verify: bool = True,
    cert_dir: Path | None = None,
    timeout: float = 120,
) -> Any:
    """``skopeo inspect [--raw] REF`` parsed from JSON (with ``raw``, the manifest or index
    itself). Same access keywords as :func:`skopeo_copy`; a failure raises
    :class:`RegistryError`."""
    args = ["inspect", *_access_flags("", creds, tls_verify, cert_dir)]
    if raw:
        args.append("--raw")
    return json.loads(_skopeo([*args, ref], True, timeout).stdout)


def main(argv: Sequence[str] | None = None) -> None:
    """Start a registry by hand (arguments: SETUP [--dir DIR]), print how to reach it and
    serve until Ctrl-C."""
    import argparse
    import sys
    import tempfile

    parser = argparse.ArgumentParser(
        prog="support.registry", description="Start a test registry by hand."
    )
    parser.add_argument("setup", choices=SETUPS)
    parser.add_argument("--dir", type=Path, help="its folder (default: a new one in /tmp)")
    parser.add_argument("--port", type=int, help="its port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    workdir = args.dir or Path(tempfile.mkdtemp(prefix=f"dw-registry-{args.setup}-"))
    server = start_registry(workdir, args.setup, port=args.port)
    lines = [f"registry ({args.setup}): {server.url}", f"folder: {workdir}"]
    if server.ca_cert is not None:
        lines.append(f"CA: {server.ca_cert} (skopeo: --dest-cert-dir={server.cert_dir})")
    if server.creds:
        lines.append(f"user: {server.creds}")
    if server.token_server is not None:
        lines.append(f"token realm: {server.token_server.realm}")
    print("\n".join([*lines, "Ctrl-C stops it."]), flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
