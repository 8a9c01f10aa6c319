"""The test registries (plain, basic auth, token auth), the token server and the fault proxy
work with a real client (skopeo, httpx) before dockwright's registry client relies on them."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import support.registry
import support.tools
from support import (
    PASSWORD,
    USERNAME,
    FaultProxy,
    RegistryError,
    RegistryServer,
    Scope,
    TokenServer,
    decode_jwt,
    free_port,
    layout_digest,
    libtrust_key_id,
    make_test_image,
    running_registry,
    skopeo_copy,
    skopeo_inspect,
    start_registry,
)

TESTS = Path(__file__).resolve().parent
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ACCEPT = {"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"}
PLATFORMS = ["linux/amd64", "linux/arm64/v8"]


def _sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def _layer_files(blob: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def _blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()


# -- the test image ----------------------------------------------------------------------


def test_make_test_image_is_deterministic_and_names_each_platform(tmp_path: Path) -> None:
    one = make_test_image(tmp_path / "one", PLATFORMS)
    two = make_test_image(tmp_path / "two", PLATFORMS)
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
    for rel in files:
        assert (one / rel).read_bytes() == (two / rel).read_bytes(), rel

    index = json.loads(_blob(one, layout_digest(one)))
    assert index["mediaType"] == OCI_INDEX
    seen = []
    for entry in index["manifests"]:
        manifest = json.loads(_blob(one, entry["digest"]))
        config = json.loads(_blob(one, manifest["config"]["digest"]))
        layer = _blob(one, manifest["layers"][0]["digest"])
        platform = "/".join(
            filter(None, [config["os"], config["architecture"], config.get("variant")])
        )
        assert _layer_files(layer) == {"platform.txt": f"{platform}\n".encode()}
        assert entry["platform"]["architecture"] == config["architecture"]
        seen.append(platform)
    assert seen == PLATFORMS


def test_make_test_image_single_platform_has_a_manifest_and_a_payload(tmp_path: Path) -> None:
    layout = make_test_image(tmp_path / "img", ["linux/riscv64"], tag="v1", payload_size=50_000)
    manifest = json.loads(_blob(layout, layout_digest(layout, "v1")))
    assert manifest["mediaType"] == OCI_MANIFEST
    files = _layer_files(_blob(layout, manifest["layers"][0]["digest"]))
    assert files["platform.txt"] == b"linux/riscv64\n"
    assert len(files["payload.bin"]) == 50_000
    assert manifest["layers"][0]["size"] > 50_000  # incompressible
    out = skopeo_inspect(f"oci:{layout}:v1", tls_verify=False)
    assert out["Architecture"] == "riscv64"


# -- the three set-ups, with skopeo ------------------------------------------------------

SETUP_FIXTURES = ["registry", "registry_basic", "registry_token"]


@pytest.mark.parametrize("fixture", SETUP_FIXTURES)
def test_push_and_inspect_single_platform(
    fixture: str, repo: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    registry: RegistryServer = request.getfixturevalue(fixture)
    layout = make_test_image(tmp_path / "img", ["linux/amd64"])
    ref = registry.ref(f"{repo}/app:1")
    skopeo_copy(f"oci:{layout}:latest", ref, **registry.skopeo_access())

    raw = skopeo_inspect(ref, raw=True, **registry.skopeo_access())
    assert raw["mediaType"] == OCI_MANIFEST
    info = skopeo_inspect(ref, **registry.skopeo_access())
    assert info["Digest"] == layout_digest(layout)  # copied byte for byte
    assert info["Architecture"] == "amd64"
    assert (registry.root / "docker" / "registry" / "v2" / "repositories" / repo).is_dir()


@pytest.mark.parametrize("fixture", SETUP_FIXTURES)
def test_push_and_pull_back_multi_platform(
    fixture: str, repo: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    registry: RegistryServer = request.getfixturevalue(fixture)
    layout = make_test_image(tmp_path / "img", PLATFORMS)
    ref = registry.ref(f"{repo}/multi:1")
    skopeo_copy(f"oci:{layout}:latest", ref, all_platforms=True, **registry.skopeo_access())

    index = skopeo_inspect(ref, raw=True, **registry.skopeo_access())
    assert index["mediaType"] == OCI_INDEX
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]
    back = tmp_path / "back"
    skopeo_copy(ref, f"oci:{back}:copy", all_platforms=True, **registry.skopeo_access())
    assert layout_digest(back, "copy") == layout_digest(layout)


def test_plain_registry_answers_anonymously_and_allows_deletes(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    assert registry.scheme == "http" and registry.url == f"http://{registry.host}"
    assert registry.ca_cert is None and registry.username is None and registry.creds is None
    layout = make_test_image(tmp_path / "img")
    skopeo_copy(f"oci:{layout}:latest", registry.ref(f"{repo}/app:1"), tls_verify=False)
    with registry.client() as client:
        assert client.get("/v2/").status_code == 200
        url = f"/v2/{repo}/app/manifests/{layout_digest(layout)}"
        assert client.delete(url).status_code == 202
        assert client.get(url, headers=ACCEPT).status_code == 404


def test_basic_registry_needs_the_password_and_the_ca(
    registry_basic: RegistryServer, repo: str, tmp_path: Path
) -> None:
    reg = registry_basic
    assert reg.scheme == "https" and reg.url.startswith("https://127.0.0.1:")
    assert (reg.username, reg.password) == (USERNAME, PASSWORD)
    assert reg.cert_dir is not None and (reg.cert_dir / "ca.crt").read_bytes() == (
        reg.ca_cert.read_bytes() if reg.ca_cert else b""
    )
    with reg.client() as client:
        assert client.get("/v2/").status_code == 200
    with reg.client(auth=None) as client:
        denied = client.get("/v2/")
    assert denied.status_code == 401
    assert denied.headers["WWW-Authenticate"].startswith("Basic realm=")
    # The server certificate names both 127.0.0.1 and localhost.
    port = reg.host.rsplit(":", 1)[1]
    with httpx.Client(verify=reg.ssl_context(), auth=(USERNAME, PASSWORD)) as client:
        assert client.get(f"https://localhost:{port}/v2/").status_code == 200

    layout = make_test_image(tmp_path / "img")
    src, dest = f"oci:{layout}:latest", reg.ref(f"{repo}/app:1")
    anonymous = skopeo_copy(src, dest, **reg.skopeo_access(anonymous=True), check=False)
    assert anonymous.returncode != 0
    assert "unauthorized" in anonymous.stderr.lower()
    wrong = skopeo_copy(src, dest, creds=f"{USERNAME}:wrong", cert_dir=reg.cert_dir, check=False)
    assert wrong.returncode != 0
    untrusted = skopeo_copy(src, dest, creds=reg.creds, check=False)
    assert untrusted.returncode != 0
    assert "certificate" in untrusted.stderr
    skopeo_copy(src, dest, **reg.skopeo_access())


# -- the token server ----------------------------------------------------------------------


def _token_client(reg: RegistryServer) -> httpx.Client:
    return httpx.Client(verify=reg.ssl_context())


def test_token_registry_anonymous_may_pull_public_only(
    registry_token: RegistryServer, token_server: TokenServer, repo: str, tmp_path: Path
) -> None:
    reg = registry_token
    layout = make_test_image(tmp_path / "img")
    src = f"oci:{layout}:latest"
    public, private = reg.ref(f"public/{repo}/app:1"), reg.ref(f"{repo}/app:1")
    skopeo_copy(src, public, **reg.skopeo_access())
    skopeo_copy(src, private, **reg.skopeo_access())

    anonymous = reg.skopeo_access(anonymous=True)
    assert skopeo_inspect(public, **anonymous)["Digest"] == layout_digest(layout)
    with pytest.raises(RegistryError, match=r"(?i)unauthorized|denied"):
        skopeo_inspect(private, **anonymous)
    for dest in (public.replace(":1", ":2"), reg.ref(f"{repo}/other:1")):
        push = skopeo_copy(src, dest, **anonymous, check=False)
        assert push.returncode != 0, dest
    wrong = skopeo_copy(
        src, reg.ref(f"{repo}/x:1"), creds=f"{USERNAME}:wrong", cert_dir=reg.cert_dir, check=False
    )
    assert wrong.returncode != 0
    assert any(r.status == 401 and r.account == USERNAME for r in token_server.requests)


def test_token_server_grants_by_the_rules(
    registry_token: RegistryServer, token_server: TokenServer
) -> None:
    params = {"service": token_server.service}
    both = ["repository:public/a:pull,push", "repository:b:pull,push,delete", "registry:catalog:*"]
    with _token_client(registry_token) as client:
        anon = client.get(token_server.realm, params={**params, "scope": both})
        user = client.get(
            token_server.realm,
            params={**params, "scope": both, "account": USERNAME},
            auth=(USERNAME, PASSWORD),
        )
        wrong = client.get(token_server.realm, params=params, auth=(USERNAME, "nope"))
        stranger = client.get(token_server.realm, params=params, auth=("mallory", PASSWORD))
        bad_service = client.get(token_server.realm, params={"service": "other"})

    assert anon.status_code == 200
    body = anon.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == token_server.lifetime
    assert body["issued_at"].endswith("Z")
    header, claims = decode_jwt(body["token"])
    assert header["alg"] == "ES256" and "x5c" in header
    assert claims["access"] == [{"type": "repository", "name": "public/a", "actions": ["pull"]}]
    assert claims["sub"] == "" and claims["aud"] == token_server.service
    assert claims["iss"] == token_server.issuer
    assert claims["exp"] - claims["iat"] == token_server.lifetime

    _, user_claims = decode_jwt(user.json()["token"])
    assert user_claims["sub"] == USERNAME
    assert user_claims["access"] == [
        {"type": "repository", "name": "public/a", "actions": ["pull", "push"]},
        {"type": "repository", "name": "b", "actions": ["pull", "push", "delete"]},
        {"type": "registry", "name": "catalog", "actions": ["*"]},
    ]
    assert wrong.status_code == 401 and stranger.status_code == 401
    assert "token" not in wrong.json()
    assert bad_service.status_code == 400

    assert token_server.token_requests() == 5
    assert token_server.token_requests("repository:public/a:pull,push") == 2
    assert [r.grant_type for r in token_server.requests] == [
        "anonymous",
        "basic",
        "basic",
        "basic",
        "anonymous",
    ]


def test_token_counts_lifetime_and_expiry_reach_the_registry(
    registry_token: RegistryServer, token_server: TokenServer, repo: str, tmp_path: Path
) -> None:
    reg = registry_token
    layout = make_test_image(tmp_path / "img")
    skopeo_copy(f"oci:{layout}:latest", reg.ref(f"{repo}/app:1"), **reg.skopeo_access())
    assert token_server.token_requests(f"repository:{repo}/app:pull,push") >= 1  # skopeo's
    scope = f"repository:{repo}/app:pull"

    url = f"/v2/{repo}/app/manifests/1"
    with reg.client() as client:
        challenge = client.get(url, headers=ACCEPT)
        assert challenge.status_code == 401
        assert f'scope="{scope}"' in challenge.headers["WWW-Authenticate"]
        assert f'realm="{token_server.realm}"' in challenge.headers["WWW-Authenticate"]

        def fetch(**settings: Any) -> httpx.Response:
            with token_server.settings(**settings):
                token, _ = token_server.issue(USERNAME, [scope])
            return client.get(url, headers={**ACCEPT, "Authorization": f"Bearer {token}"})

        before = token_server.token_requests(scope)
        assert fetch().status_code == 200
        assert token_server.token_requests(scope) == before  # issue() is not a request
        assert fetch(lifetime=5, clock_offset=-30).status_code == 200  # within the leeway
        expired = fetch(lifetime=5, clock_offset=-300)
        assert expired.status_code == 401
        with token_server.settings(lifetime=7):
            short = _token_client(reg).get(
                token_server.realm,
                params={"service": token_server.service, "scope": scope},
                auth=(USERNAME, PASSWORD),
            )
        assert short.json()["expires_in"] == 7
        assert token_server.lifetime != 7  # restored


def test_token_server_oauth2_post_and_refresh(
    registry_token: RegistryServer, token_server: TokenServer
) -> None:
    form = {
        "grant_type": "password",
        "username": USERNAME,
        "password": PASSWORD,
        "service": token_server.service,
        "client_id": "dockwright-tests",
        "access_type": "offline",
        "scope": "repository:a:pull repository:b:push",
    }
    with _token_client(registry_token) as client:
        first = client.post(token_server.realm, data=form)
        assert first.status_code == 200
        body = first.json()
        assert set(body) == {"access_token", "scope", "expires_in", "issued_at", "refresh_token"}
        assert body["scope"] == form["scope"]
        refreshed = client.post(
            token_server.realm,
            data={
                "grant_type": "refresh_token",
                "refresh_token": body["refresh_token"],
                "service": token_server.service,
                "client_id": "dockwright-tests",
                "scope": "repository:c:pull",
            },
        )
        assert refreshed.status_code == 200
        _, claims = decode_jwt(refreshed.json()["access_token"])
        assert claims["sub"] == USERNAME
        assert claims["access"] == [{"type": "repository", "name": "c", "actions": ["pull"]}]
        online = client.post(token_server.realm, data={**form, "access_type": "online"})
        assert "refresh_token" not in online.json()
        assert client.post(token_server.realm, data={**form, "password": "x"}).status_code == 401
        bad_refresh = {**form, "grant_type": "refresh_token", "refresh_token": "made-up"}
        assert client.post(token_server.realm, data=bad_refresh).status_code == 401
        offline_get = client.get(
            token_server.realm,
            params={"service": token_server.service, "offline_token": "true"},
            auth=(USERNAME, PASSWORD),
        )
        assert "refresh_token" in offline_get.json()
    # password, online, wrong password, unknown refresh token: each counts, granted or not
    assert token_server.token_requests("repository:a:pull") == 4


def test_scope_parsing_keeps_colons_in_names() -> None:
    scope = Scope.parse("repository:127.0.0.1:5000/app:pull,push")
    assert (scope.type, scope.name, scope.actions) == (
        "repository",
        "127.0.0.1:5000/app",
        ("pull", "push"),
    )
    assert str(scope) == "repository:127.0.0.1:5000/app:pull,push"
    with pytest.raises(ValueError, match="malformed"):
        Scope.parse("repository-app")


@pytest.mark.parametrize(
    ("header", "key", "alg"),
    [
        ("x5c", "ec", "ES256"),
        ("x5c", "rsa", "RS256"),
        ("kid", "ec", "ES256"),
        ("kid", "rsa", "RS256"),
    ],
)
def test_registry_accepts_each_token_signature_variant(
    header: str, key: str, alg: str, tmp_path: Path
) -> None:
    reg = start_registry(tmp_path / "reg", "token", token_header=header, token_key=key)  # type: ignore[arg-type]
    try:
        assert reg.token_server is not None
        layout = make_test_image(tmp_path / "img")
        skopeo_copy(f"oci:{layout}:latest", reg.ref("variant/app:1"), **reg.skopeo_access())
        token, _ = reg.token_server.issue(USERNAME, ["repository:variant/app:pull"])
        jwt_header, _ = decode_jwt(token)
        assert jwt_header["alg"] == alg
        if header == "kid":
            assert jwt_header["kid"] == libtrust_key_id(reg.token_server.signing.key)
            assert len(jwt_header["kid"].split(":")) == 12
        else:
            assert len(jwt_header["x5c"]) == 2  # the signing certificate, then the CA
    finally:
        reg.stop()


def test_registry_rejects_tokens_from_another_signer(
    registry_token: RegistryServer, tmp_path: Path
) -> None:
    from support import issue_cert, make_ca

    other = make_ca(tmp_path / "other")
    forger = TokenServer(issue_cert(other, tmp_path / "other", "signing", server=False))
    token, _ = forger.issue(USERNAME, [])
    with registry_token.client() as client:
        response = client.get("/v2/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


# -- starting and stopping -----------------------------------------------------------------


def test_start_fails_with_the_log_tail_when_the_registry_cannot_listen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr(support.registry, "free_port", lambda: port)
        with pytest.raises(RegistryError, match=r"(?s)exited with code.*address already in use"):
            start_registry(tmp_path / "reg", "plain")


def test_a_missing_registry_binary_fails_with_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(support.tools, "find_tool", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y docker-registry"):
        start_registry(tmp_path / "reg", "plain")


def test_registry_fixtures_fail_clearly_without_docker_registry(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest((TESTS / "conftest.py").read_text())
    shutil.copytree(TESTS / "support", pytester.path / "support")
    pytester.makepyfile(
        test_uses_registry="""
        def test_plain(registry):
            pass

        def test_token(registry_token):
            pass
        """
    )
    empty = pytester.mkdir("empty-path")
    monkeypatch.setenv("PATH", str(empty))  # no docker-registry in PATH or the sbin dirs
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        ["*required tool 'docker-registry' was not found*apt-get install -y docker-registry*"]
    )


def test_stop_leaves_no_process_and_frees_the_port(tmp_path: Path) -> None:
    with running_registry(tmp_path / "reg", "token") as reg:
        assert reg.process is not None and reg.token_server is not None
        realm = reg.token_server.realm
        pid = reg.process.pid
    assert reg.process.poll() is not None
    assert not Path(f"/proc/{pid}").exists()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{reg.url}/v2/", verify=reg.ssl_context(), timeout=2)
    with pytest.raises(httpx.ConnectError):
        httpx.get(realm, verify=reg.ssl_context(), timeout=2)


def test_registry_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    """A killed pytest leaves no registry behind (setpriv --pdeathsig)."""
    script = (
        "import sys; from pathlib import Path; from support import start_registry\n"
        "reg = start_registry(Path(sys.argv[1]), 'plain')\n"
        "print(reg.process.pid, flush=True); sys.stdin.read()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    starter = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "reg")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    assert starter.stdout is not None
    pid = int(starter.stdout.readline())
    assert Path(f"/proc/{pid}").exists()
    starter.send_signal(signal.SIGKILL)
    starter.wait(timeout=10)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists(), f"registry {pid} outlived its parent"


# -- the fault proxy -------------------------------------------------------------------------


@pytest.fixture
def blob(registry: RegistryServer, repo: str, tmp_path: Path) -> tuple[str, bytes]:
    """A 200 kB layer pushed to ``registry``: (its URL path, its bytes)."""
    layout = make_test_image(tmp_path / "img", payload_size=200_000)
    skopeo_copy(f"oci:{layout}:latest", registry.ref(f"{repo}/app:1"), tls_verify=False)
    manifest = json.loads(_blob(layout, layout_digest(layout)))
    digest = manifest["layers"][0]["digest"]
    return f"/v2/{repo}/app/blobs/{digest}", _blob(layout, digest)


def test_proxy_forwards_requests_and_ranges(
    fault_proxy: FaultProxy, blob: tuple[str, bytes]
) -> None:
    path, data = blob
    with httpx.Client(base_url=fault_proxy.url) as client:
        assert client.get(path).content == data
        part = client.get(path, headers={"Range": "bytes=1000-"})
        head = client.head(path)
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 1000-{len(data) - 1}/{len(data)}"
    assert part.content == data[1000:]
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(data)
    assert [(r.method, r.path, r.status) for r in fault_proxy.requests] == [
        ("GET", path, 200),
        ("GET", path, 206),
        ("HEAD", path, 200),
    ]


def test_proxy_status_faults(fault_proxy: FaultProxy, blob: tuple[str, bytes]) -> None:
    path, data = blob
    busy = fault_proxy.add_fault("status429", method="GET", path_regex=r"/blobs/", times=1)
    broken = fault_proxy.add_fault("status500", path_regex=r"/blobs/", times=2, skip=1)
    with httpx.Client(base_url=fault_proxy.url) as client:
        statuses = [client.get(path) for _ in range(5)]
    assert [r.status_code for r in statuses] == [429, 200, 500, 500, 200]
    assert statuses[0].headers["Retry-After"] == "1"
    assert statuses[0].json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert statuses[4].content == data
    assert (busy.hits, broken.hits) == (1, 2)
    assert [r.status for r in fault_proxy.requests] == [429, 200, 500, 500, 200]


def test_proxy_truncate_then_resume_with_range(
    fault_proxy: FaultProxy, blob: tuple[str, bytes]
) -> None:
    path, data = blob
    fault_proxy.add_fault("truncate", method="GET", path_regex=r"/blobs/")
    received = bytearray()
    with httpx.Client(base_url=fault_proxy.url) as client:
        with pytest.raises(httpx.RemoteProtocolError), client.stream("GET", path) as response:
            assert response.headers["Content-Length"] == str(len(data))
            for chunk in response.iter_raw():
                received += chunk
        assert 0 < len(received) < len(data)
        rest = client.get(path, headers={"Range": f"bytes={len(received)}-"})
    assert rest.status_code == 206
    assert _sha256(bytes(received) + rest.content) == _sha256(data)


def test_proxy_corrupt_keeps_the_length_but_not_the_digest(
    fault_proxy: FaultProxy, blob: tuple[str, bytes]
) -> None:
    path, data = blob
    fault_proxy.add_fault("corrupt", path_regex=r"/blobs/", at=10)
    with httpx.Client(base_url=fault_proxy.url) as client:
        bad = client.get(path).content
        good = client.get(path).content
    assert len(bad) == len(data) and _sha256(bad) != _sha256(data)
    assert [i for i, (a, b) in enumerate(zip(bad, data, strict=True)) if a != b] == [10]
    assert good == data


@pytest.mark.parametrize("after_bytes", [None, 5000])
def test_proxy_drop_is_a_transport_error(
    fault_proxy: FaultProxy, blob: tuple[str, bytes], after_bytes: int | None
) -> None:
    path, data = blob
    fault_proxy.add_fault("drop", path_regex=r"/blobs/", after_bytes=after_bytes)
    with httpx.Client(base_url=fault_proxy.url) as client:
        with pytest.raises(httpx.TransportError):
            client.get(path)
        assert client.get(path).content == data
    assert fault_proxy.requests[0].status == (None if after_bytes is None else 200)


def test_proxy_slow_delays_and_push_through_the_proxy_works(
    fault_proxy: FaultProxy, repo: str, tmp_path: Path
) -> None:
    slow = fault_proxy.add_fault("slow", method="HEAD", delay=0.2, times=None)
    layout = make_test_image(tmp_path / "img", PLATFORMS, payload_size=100_000)
    dest = f"docker://{fault_proxy.host}/{repo}/via-proxy:1"
    skopeo_copy(f"oci:{layout}:latest", dest, all_platforms=True, tls_verify=False)
    methods = {r.method for r in fault_proxy.requests}
    assert {"POST", "PATCH", "PUT"} <= methods
    assert slow.hits >= 1
    # Upload URLs the registry hands out point back at the proxy, so nothing went around it.
    assert all(r.status is not None and r.status < 500 for r in fault_proxy.requests)
    info = skopeo_inspect(dest, raw=True, tls_verify=False)
    assert info["mediaType"] == OCI_INDEX


def test_proxy_rejects_unknown_fault_kinds(fault_proxy: FaultProxy) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        fault_proxy.add_fault("explode")  # type: ignore[arg-type]


def test_proxy_answers_502_without_upstream_and_any_status_on_demand() -> None:
    with FaultProxy(f"127.0.0.1:{free_port()}") as proxy, httpx.Client() as client:
        proxy.add_fault("status", status=503, retry_after="7", path_regex="^/v2/$")
        unavailable = client.get(f"{proxy.url}/v2/")
        gone = client.get(f"{proxy.url}/v2/")
    assert unavailable.status_code == 503 and unavailable.headers["Retry-After"] == "7"
    assert unavailable.json()["errors"][0]["code"] == "UNAVAILABLE"
    assert gone.status_code == 502
    assert proxy.requests == [("GET", "/v2/", 503), ("GET", "/v2/", 502)]
