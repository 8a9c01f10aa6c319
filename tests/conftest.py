"""Fixtures shared by all of dockwright's tests. The helpers behind them are in ``support``.

- ``dockerd`` (session): one private Docker Engine for the whole run.
- ``busybox_rootfs_dir`` (session): a busybox-static root filesystem folder.
- ``busybox_image`` (session): that rootfs imported into ``dockerd`` as ``dwtest/busybox``.
- ``go`` (session): the path of a Go toolchain's ``go`` binary.
- ``go_build_env`` (session): Go variables for hermetic builds, with a shared build cache.
- ``dockwright_home``: a fresh DOCKWRIGHT_HOME for one test.

The suite does not skip: a missing tool fails the test with a hint. The only allowed skip is
the absence of the BuildKit conformance folder (``support.conformance_dir``).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from support import (
    BUSYBOX_IMAGE,
    CONFORMANCE_SKIP_REASON,
    DockerCommandError,
    DockerDaemon,
    busybox_rootfs,
    go_env,
    go_toolchain,
    rootfs_to_docker_image,
    start_dockerd,
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
