"""Fixtures shared by all of dockwright's tests. The helpers behind them are in ``support``.

- ``dockerd`` (session): one private Docker Engine for the whole run.
- ``busybox_rootfs_dir`` (session): a busybox-static root filesystem folder.
- ``busybox_image`` (session): that rootfs imported into ``dockerd`` as ``dwtest/busybox``.
- ``go`` (session): the path of a Go toolchain's ``go`` binary.
- ``go_build_env`` (session): Go variables for hermetic builds, with a shared build cache.
- ``dockwright_home``: a fresh DOCKWRIGHT_HOME for one test.
- ``registry`` (session): a plain-HTTP distribution registry, no auth (``RegistryServer``).
- ``registry_basic`` (session): HTTPS with a test CA and htpasswd user ``dwuser``.
- ``registry_token`` (session): HTTPS with a test CA and token auth (its ``token_server``).
- ``token_server``: ``registry_token``'s token server, counters and settings reset per test.
- ``repo``: a repository prefix (``test-<n>``) no other test of the session uses.
- ``fault_proxy``: a ``FaultProxy`` in front of ``registry``, for this test only.

The suite does not skip: a missing tool fails the test with a hint. The only allowed skip is
the absence of the BuildKit conformance folder (``support.conformance_dir``).
"""

from __future__ import annotations

import itertools
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from support import (
    BUSYBOX_IMAGE,
    CONFORMANCE_SKIP_REASON,
    DockerCommandError,
    DockerDaemon,
    FaultProxy,
    RegistryError,
    RegistryServer,
    Setup,
    TokenServer,
    busybox_rootfs,
    go_env,
    go_toolchain,
    rootfs_to_docker_image,
    start_dockerd,
    start_registry,
    stop_dockerd,
)

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def dockerd() -> Iterator[DockerDaemon]:
    """A private Docker Engine (dockerd) started once for the session, stopped at its end."""
    try:
        daemon = start_dockerd()
    except DockerCommandError as exc:
        pytest.fail(f"could not start the test Docker Engine: {exc}", pytrace=False)
    try:
        yield daemon
    finally:
        stop_dockerd(daemon)


@pytest.fixture(scope="session")
def busybox_rootfs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A busybox-static root filesystem folder, made once per session. Do not modify it."""
    return busybox_rootfs(tmp_path_factory.mktemp("busybox") / "rootfs")


@pytest.fixture(scope="session")
def busybox_image(dockerd: DockerDaemon, busybox_rootfs_dir: Path) -> str:
    """The busybox rootfs as image ``dwtest/busybox:latest`` in ``dockerd``; returns the name."""
    rootfs_to_docker_image(dockerd, busybox_rootfs_dir, BUSYBOX_IMAGE)
    return BUSYBOX_IMAGE


@pytest.fixture(scope="session")
def go() -> str:
    """Path of a ``go`` binary (fails when there is none)."""
    return go_toolchain()


@pytest.fixture(scope="session")
def go_build_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Go variables for hermetic builds (GOTOOLCHAIN=local, GOPROXY=off, CGO_ENABLED=0) with
    one build cache for the whole session. Merge over os.environ before use."""
    return go_env(tmp_path_factory.mktemp("go"))


@pytest.fixture
def dockwright_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty DOCKWRIGHT_HOME for this test (subprocesses inherit it)."""
    home = tmp_path / "dockwright-home"
    home.mkdir()
    monkeypatch.setenv("DOCKWRIGHT_HOME", str(home))
    return home


def _serve_registry(factory: pytest.TempPathFactory, setup: Setup) -> Iterator[RegistryServer]:
    try:
        server = start_registry(factory.mktemp(f"registry-{setup}"), setup)
    except RegistryError as exc:
        pytest.fail(f"could not start the test registry ({setup}): {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A plain-HTTP registry on 127.0.0.1 without auth, deletes enabled, for the session.
    Tests share it: put content under the ``repo`` fixture's prefix."""
    yield from _serve_registry(tmp_path_factory, "plain")


@pytest.fixture(scope="session")
def registry_basic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """An HTTPS registry (test CA: ``.ca_cert``, ``.cert_dir``) with htpasswd basic auth for
    ``dwuser`` / ``s3cret-pass`` (``.username``, ``.password``), for the session."""
    yield from _serve_registry(tmp_path_factory, "basic")


@pytest.fixture(scope="session")
def registry_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """An HTTPS registry with token auth; ``.token_server`` issues the tokens (anonymous: pull
    of ``public/...`` only; ``dwuser`` / ``s3cret-pass``: everything), for the session."""
    yield from _serve_registry(tmp_path_factory, "token")


@pytest.fixture
def token_server(registry_token: RegistryServer) -> Iterator[TokenServer]:
    """``registry_token``'s token server with its request counters, ``lifetime`` and
    ``clock_offset`` reset before and after the test."""
    server = registry_token.token_server
    assert server is not None
    server.reset()
    try:
        yield server
    finally:
        server.reset()


_repo_numbers = itertools.count(1)


@pytest.fixture
def repo() -> str:
    """A repository prefix no other test of this session uses: ``test-<n>``. Name
    repositories ``f"{repo}/app"`` (or ``f"public/{repo}/app"`` for anonymous pulls from
    ``registry_token``)."""
    return f"test-{next(_repo_numbers)}"


@pytest.fixture
def fault_proxy(registry: RegistryServer) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of ``registry`` (plain HTTP), stopped after the test.
    Program faults with ``fault_proxy.add_fault(...)``; see ``support.faultproxy``."""
    with FaultProxy(registry.host) as proxy:
        yield proxy


def _skip_reason(longrepr: object) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _forbid_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report.longrepr)
    if CONFORMANCE_SKIP_REASON in reason:
        return
    report.outcome = "failed"
    report.longrepr = (
        f"skipped tests are not allowed in dockwright's suite (see DEVELOPERS.md); "
        f"fail with a clear message instead. Skip reason was: {reason}"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Turn any skip other than the conformance-folder one into a failure."""
    report = yield
    _forbid_skip(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """Same rule for skips raised while collecting a module (``pytest.importorskip``)."""
    report = yield
    _forbid_skip(report)
    return report
