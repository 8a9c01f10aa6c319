"""What one RUN does, as far as the lint rules need to know: the facts about its commands.

:class:`RunFacts` holds what a RUN creates (files, caches), removes, installs or uninstalls,
downloads, verifies, compiles, fetches and re-modes; :class:`Collector` gathers them while
:mod:`dockwright.lint.commands` reads the script command by command.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field

from dockwright.lint.paths import resolve
from dockwright.lint.shellwords import SimpleCommand

__all__ = ["Collector", "Download", "ModeChange", "PackageOp", "PathRef", "RunFacts"]


@dataclass(frozen=True, slots=True)
class PathRef:
    """A path a command creates or removes (absolute, maybe a glob) and what it is."""

    path: str
    what: str
    command: str
    tree: bool = True


@dataclass(frozen=True, slots=True)
class PackageOp:
    """A package manager installing, removing or autoremoving packages."""

    manager: str
    action: str  # install | remove | autoremove
    packages: tuple[str, ...]
    command: SimpleCommand


@dataclass(frozen=True, slots=True)
class Download:
    """A file fetched over the network: by which tool, from where, to where, or into what."""

    tool: str
    url: str | None
    output: str | None
    piped_to: str | None
    command: SimpleCommand


@dataclass(frozen=True, slots=True)
class ModeChange:
    """A ``chmod``/``chown``/``chgrp`` of some paths."""

    tool: str
    value: str
    paths: tuple[str, ...]
    recursive: bool
    command: SimpleCommand


@dataclass(frozen=True, slots=True)
class RunFacts:
    """Everything the rules learn from one RUN."""

    commands: tuple[SimpleCommand, ...] = ()
    created: tuple[PathRef, ...] = ()
    removed: tuple[PathRef, ...] = ()
    packages: tuple[PackageOp, ...] = ()
    downloads: tuple[Download, ...] = ()
    verifies: bool = False
    compiles: tuple[SimpleCommand, ...] = ()
    fetches: tuple[tuple[str, SimpleCommand], ...] = ()
    mode_changes: tuple[ModeChange, ...] = ()
    cache_mounts: tuple[str, ...] = ()
    script: str = ""


@dataclass
class Collector:
    """The facts of one RUN while its commands are read (paths resolved as they come)."""

    cwd: str
    env: Mapping[str, str]
    command: SimpleCommand = field(default_factory=lambda: SimpleCommand((), ()))
    created: list[PathRef] = field(default_factory=list)
    removed: list[PathRef] = field(default_factory=list)
    packages: list[PackageOp] = field(default_factory=list)
    downloads: list[Download] = field(default_factory=list)
    compiles: list[SimpleCommand] = field(default_factory=list)
    fetches: list[tuple[str, SimpleCommand]] = field(default_factory=list)
    mode_changes: list[ModeChange] = field(default_factory=list)
    next_command: SimpleCommand | None = None

    def path(self, raw: str) -> str | None:
        cwd = self.cwd
        if self.command.cwd is None:
            if not raw.startswith(("/", "~", "$")):
                return None
        elif self.command.cwd:
            cwd = posixpath.join(cwd, self.command.cwd)
        return resolve(raw, cwd, self.env)

    def env_or(self, name: str, default: str) -> str:
        value = self.env.get(name)
        if value is None:
            return default
        return resolve(value, "/", self.env) or default

    def create(self, raw: str, what: str, *, tree: bool = True) -> None:
        path = self.path(raw)
        if path is not None:
            self.created.append(PathRef(path, what, self.command.text, tree))

    def remove(self, raw: str, what: str) -> None:
        path = self.path(raw)
        if path is not None:
            self.removed.append(PathRef(path, what, self.command.text))

    def package(self, manager: str, action: str, packages: list[str]) -> None:
        self.packages.append(PackageOp(manager, action, tuple(packages), self.command))

    # well-known caches ------------------------------------------------------------------
    def home(self) -> str:
        return self.env_or("HOME", "/root")

    def go_cache(self) -> str:
        return self.env_or("GOCACHE", self.home() + "/.cache/go-build")

    def go_mod_cache(self) -> str:
        gopath = self.env_or("GOPATH", self.home() + "/go").split(":")[0]
        return self.env_or("GOMODCACHE", gopath + "/pkg/mod")

    def pip_cache(self) -> str:
        return self.env_or("PIP_CACHE_DIR", self.home() + "/.cache/pip")

    def cargo_home(self) -> str:
        return self.env_or("CARGO_HOME", self.home() + "/.cargo")
