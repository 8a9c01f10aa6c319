"""Reading a RUN: its script, split into commands, each handed to its tool's handler.

:func:`run_facts` reads a RUN's script (shell form, ``sh -c`` exec form, or a heredoc script)
into :class:`~dockwright.lint.shellwords.SimpleCommand` values and hands each to the handler
for its program in ``_HANDLERS`` (one function per tool, the table at the end). A handler
records into a :class:`~dockwright.lint.facts.Collector` what the command creates, removes,
installs, downloads, verifies, compiles, fetches and re-modes. Paths are resolved against the
RUN's WORKDIR, any ``cd`` before it, and the ENV in force.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping

from dockwright.dockerfile import Run
from dockwright.lint.facts import Collector, Download, ModeChange, RunFacts
from dockwright.lint.shellwords import SimpleCommand, parse_script, program

__all__ = ["run_facts", "script_of"]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_VERIFY_TEXT = re.compile(
    r"\b(?:sha(?:1|224|256|384|512)sum|shasum|b2sum|md5sum|gpgv|gpg2?\s[^|;&]*--verify"
    r"|cosign\s+verify|minisign\s|openssl\s+dgst|rpm\s+--checksig|slsa-verifier)",
)
_SHELL_NAMES = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh"})
_HEREDOC_WORD = re.compile(r"^[0-9]*<<-?")


def script_of(run: Run) -> str:
    """The shell text a RUN executes: shell form, ``sh -c`` exec form, or heredoc scripts."""
    command = run.command
    if command.exec_form:
        args = command.args
        if len(args) >= 3 and program(args[0]) in _SHELL_NAMES and args[1].endswith("c"):
            return args[2]
        return " ".join(_quote(a) for a in args)
    text = command.shell or ""
    if run.heredocs:
        words = text.split()
        runs_heredoc = bool(words) and (
            all(_HEREDOC_WORD.match(w) for w in words)
            or (
                program(words[0]) in _SHELL_NAMES and all(_HEREDOC_WORD.match(w) for w in words[1:])
            )
        )
        if runs_heredoc:
            return "\n".join(h.text for h in run.heredocs)
    return text


def _quote(word: str) -> str:
    if word and all(c.isalnum() or c in "-_./=:@%+," for c in word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"


def run_facts(run: Run, workdir: str, env: Mapping[str, str]) -> RunFacts:
    """The facts of ``run`` executed in ``workdir`` with ``env`` (the stage's ENV and ARGs)."""
    script = script_of(run)
    commands = parse_script(script)
    collect = Collector(cwd=workdir, env=env)
    for index, command in enumerate(commands):
        collect.command = command
        collect.next_command = commands[index + 1] if index + 1 < len(commands) else None
        handler = _HANDLERS.get(_handler_key(command))
        if handler is not None:
            handler(collect, command.args())
        for op, target in command.redirects:
            if op.lstrip("0123456789&") in (">", ">>", ">|") and not target.startswith("/dev/"):
                collect.create(target, f"the file {target}", tree=False)
    cache_mounts = tuple(
        m.target for m in run.mounts if m.type in ("cache", "tmpfs") and m.target is not None
    )
    return RunFacts(
        commands=commands,
        created=tuple(collect.created),
        removed=tuple(collect.removed),
        packages=tuple(collect.packages),
        downloads=tuple(collect.downloads),
        verifies=bool(_VERIFY_TEXT.search(script)),
        compiles=tuple(collect.compiles),
        fetches=tuple(collect.fetches),
        mode_changes=tuple(collect.mode_changes),
        cache_mounts=cache_mounts,
        script=script,
    )


def _handler_key(command: SimpleCommand) -> str:
    name = command.name
    argv = command.argv
    if name.startswith("python") and len(argv) >= 3 and argv[1] == "-m":
        return argv[2]
    if name in ("gradlew", "mvnw"):
        return name.removesuffix("w")
    return name


def _operands(args: tuple[str, ...], value_opts: frozenset[str] = frozenset()) -> list[str]:
    """Arguments that are not options (``--`` ends options; some options take a value)."""
    out: list[str] = []
    skip = False
    ended = False
    for arg in args:
        if skip:
            skip = False
            continue
        if ended or not arg.startswith("-") or arg == "-":
            out.append(arg)
        elif arg == "--":
            ended = True
        elif arg in value_opts:
            skip = True
    return out


def _python_args(c: Collector, args: tuple[str, ...]) -> tuple[str, ...]:
    # `python -m pip install …` reaches the pip handler with ("-m", "pip", "install", …)
    if c.command.name.startswith("python") and args[:1] == ("-m",):
        return args[2:]
    return args


# --- handlers, one per tool ---------------------------------------------------------------


def _rm(c: Collector, args: tuple[str, ...]) -> None:
    for operand in _operands(args):
        c.remove(operand, operand)


def _apt(c: Collector, args: tuple[str, ...]) -> None:
    words = _operands(args, frozenset({"-o", "-t", "-c", "--target-release", "--option"}))
    if not words:
        return
    sub, rest = words[0], words[1:]
    if sub == "update":
        c.create("/var/lib/apt/lists", "the apt package lists (/var/lib/apt/lists)")
    elif sub in ("install", "reinstall"):
        c.package("apt", "install", [p for p in rest if not p.endswith(".deb")])
    elif sub in ("remove", "purge"):
        c.package("apt", "remove", rest)
    elif sub == "autoremove":
        c.package("apt", "autoremove", rest)
    elif sub in ("clean", "autoclean", "distclean"):
        c.remove("/var/cache/apt", "apt's package cache")


def _apk(c: Collector, args: tuple[str, ...]) -> None:
    value_opts = frozenset({"-t", "--virtual", "-X", "--repository", "-p", "--root", "--arch"})
    words = _operands(args, value_opts)
    if not words:
        return
    sub, rest = words[0], words[1:]
    no_cache = "--no-cache" in args
    if sub in ("add", "update", "upgrade", "fix") and not no_cache:
        c.create("/var/cache/apk", "apk's index cache (/var/cache/apk)")
    if sub == "add":
        virtual = _option_value(args, ("-t", "--virtual"))
        c.package("apk", "install", rest + ([virtual] if virtual else []))
    elif sub == "del":
        c.package("apk", "remove", rest)
    elif sub == "cache" and rest[:1] in (["clean"], ["purge"]):
        c.remove("/var/cache/apk", "apk's cache")


def _option_value(args: tuple[str, ...], names: tuple[str, ...]) -> str | None:
    for index, arg in enumerate(args):
        for name in names:
            if arg == name and index + 1 < len(args):
                return args[index + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg[len(name) + 1 :]
            if not name.startswith("--") and arg.startswith(name) and len(arg) > len(name):
                return arg[len(name) :]
    return None


def _rpm_family(cache: str, family: str) -> Callable[[Collector, tuple[str, ...]], None]:
    def handle(c: Collector, args: tuple[str, ...]) -> None:
        words = _operands(args, frozenset({"--setopt", "--enablerepo", "--disablerepo", "-x"}))
        if not words:
            return
        sub, rest = words[0], words[1:]
        manager = c.command.name
        if sub in ("install", "in", "groupinstall", "localinstall", "update", "upgrade", "up"):
            c.create(cache, f"{manager}'s cache ({cache})")
            if sub in ("install", "in", "groupinstall"):
                c.package(family, "install", rest)
        elif sub in ("remove", "erase", "rm", "purge"):
            c.package(family, "remove", rest)
        elif sub == "autoremove":
            c.package(family, "autoremove", rest)
        elif sub == "clean":
            c.remove(cache, f"{manager}'s cache")

    return handle


def _pip(c: Collector, args: tuple[str, ...]) -> None:
    args = _python_args(c, args)
    words = _operands(
        args, frozenset({"-r", "--requirement", "-c", "--constraint", "-i", "--index-url"})
    )
    if not words:
        return
    sub = words[0]
    if sub == "install":
        no_cache = "--no-cache-dir" in args or c.env.get("PIP_NO_CACHE_DIR", "").lower() in (
            "1",
            "true",
            "on",
            "yes",
            "off",
            "0",
        )
        if not no_cache:
            c.create(c.pip_cache(), f"pip's download cache ({c.pip_cache()})")
        if _option_value(args, ("-r", "--requirement")) is not None:
            c.fetches.append(("pip", c.command))
    elif sub == "uninstall":
        c.package("pip", "remove", words[1:])
    elif sub == "cache" and words[1:2] in (["purge"], ["remove"]):
        c.remove(c.pip_cache(), "pip's cache")


def _npm(c: Collector, args: tuple[str, ...]) -> None:
    words = _operands(args)
    if not words:
        return
    sub, rest = words[0], words[1:]
    if sub == "ci" or (sub in ("install", "i") and not rest):
        c.create("node_modules", "node_modules")
        c.create(c.home() + "/.npm", f"npm's cache ({c.home()}/.npm)")
        c.fetches.append(("npm", c.command))
    elif sub == "cache" and rest[:1] == ["clean"]:
        c.remove(c.home() + "/.npm", "npm's cache")


def _yarn(c: Collector, args: tuple[str, ...]) -> None:
    words = _operands(args, frozenset({"--cache-folder", "--modules-folder"}))
    cache = "/usr/local/share/.cache/yarn"
    if not words or words[0] == "install":
        c.create("node_modules", "node_modules")
        c.create(cache, f"yarn's cache ({cache})")
        c.fetches.append(("yarn", c.command))
    elif words[:2] == ["cache", "clean"]:
        c.remove(cache, "yarn's cache")


def _pnpm(c: Collector, args: tuple[str, ...]) -> None:
    words = _operands(args)
    if words[:1] in (["install"], ["i"]) and len(words) == 1:
        c.create("node_modules", "node_modules")
        c.fetches.append(("pnpm", c.command))


def _go(c: Collector, args: tuple[str, ...]) -> None:
    words = _operands(args, frozenset({"-o", "-C", "-ldflags", "-tags", "-gcflags", "-mod"}))
    if not words:
        return
    sub = words[0]
    if sub in ("build", "install", "run", "test"):
        c.create(c.go_cache(), f"Go's build cache ({c.go_cache()})")
        c.create(c.go_mod_cache(), f"Go's module cache ({c.go_mod_cache()})")
        if sub in ("build", "install", "run"):
            c.compiles.append(c.command)
        output = _option_value(args, ("-o",))
        if output:
            c.create(output, output, tree=False)
    elif words[:2] == ["mod", "download"]:
        c.create(c.go_mod_cache(), f"Go's module cache ({c.go_mod_cache()})")
        c.fetches.append(("go", c.command))
    elif sub == "clean":
        if "-cache" in args:
            c.remove(c.go_cache(), "Go's build cache")
        if "-modcache" in args:
            c.remove(c.go_mod_cache(), "Go's module cache")


def _cargo(c: Collector, args: tuple[str, ...]) -> None:
    words = _operands(args, frozenset({"--target", "-p", "--package", "--bin", "--features"}))
    if not words:
        return
    sub = words[0]
    registry = c.cargo_home() + "/registry"
    if sub in ("build", "install", "b"):
        c.compiles.append(c.command)
        c.create("target", "cargo's target directory")
        c.create(registry, f"cargo's registry cache ({registry})")
    elif sub == "fetch":
        c.create(registry, f"cargo's registry cache ({registry})")
        c.fetches.append(("cargo", c.command))
    elif sub == "clean":
        c.remove("target", "cargo's target directory")


def _compiler(c: Collector, args: tuple[str, ...]) -> None:
    if args:
        c.compiles.append(c.command)
    output = _option_value(args, ("-o",))
    if output:
        c.create(output, output, tree=False)


def _maven(c: Collector, args: tuple[str, ...]) -> None:
    goals = _operands(args, frozenset({"-f", "-P", "-pl", "-s", "-D"}))
    if any(g in ("package", "install", "verify", "compile", "deploy") for g in goals):
        c.compiles.append(c.command)
    if any(g.startswith("dependency:") for g in goals):
        c.fetches.append(("maven", c.command))


def _gradle(c: Collector, args: tuple[str, ...]) -> None:
    tasks = _operands(args)
    build_tasks = ("build", "assemble", "jar", "bootJar", "installDist", "shadowJar")
    if any(t in build_tasks for t in tasks):
        c.compiles.append(c.command)
    if "dependencies" in tasks:
        c.fetches.append(("gradle", c.command))


def _dotnet(c: Collector, args: tuple[str, ...]) -> None:
    words = _operands(args)
    if words[:1] in (["build"], ["publish"]):
        c.compiles.append(c.command)
    elif words[:1] == ["restore"]:
        c.fetches.append(("dotnet", c.command))


def _make(c: Collector, args: tuple[str, ...]) -> None:
    if not any(w in ("clean", "help", "test", "check", "lint") for w in _operands(args)):
        c.compiles.append(c.command)


def _cmake(c: Collector, args: tuple[str, ...]) -> None:
    if "--build" in args:
        c.compiles.append(c.command)


def _fetcher(
    ecosystem: str, subcommands: tuple[str, ...]
) -> Callable[[Collector, tuple[str, ...]], None]:
    def handle(c: Collector, args: tuple[str, ...]) -> None:
        words = _operands(args)
        if words and words[0] in subcommands:
            c.fetches.append((ecosystem, c.command))

    return handle


def _curl(c: Collector, args: tuple[str, ...]) -> None:
    urls = [a for a in args if _URL.match(a)]
    if not urls or _option_value(args, ("-X", "--request")) not in (None, "GET"):
        return
    if any(a.startswith(("-d", "--data", "-F", "--form", "-T", "--upload")) for a in args):
        return
    output = _option_value(args, ("--output",)) or _short_value(args, "o")
    if output is None and any(
        a in ("-O", "--remote-name", "--remote-name-all")
        or (a.startswith("-") and not a.startswith("--") and "O" in a)
        for a in args
    ):
        output = posixpath.basename(urls[0].split("?")[0])
    _record_download(c, "curl", urls[0], output)


def _wget(c: Collector, args: tuple[str, ...]) -> None:
    urls = [a for a in args if _URL.match(a)]
    if not urls or "--spider" in args:
        return
    output = _option_value(args, ("--output-document",)) or _short_value(args, "O")
    if output is None:
        prefix = _option_value(args, ("-P", "--directory-prefix")) or ""
        output = posixpath.join(prefix, posixpath.basename(urls[0].split("?")[0]) or "index.html")
    _record_download(c, "wget", urls[0], output)


def _short_value(args: tuple[str, ...], letter: str) -> str | None:
    """The value of a short option, also inside a cluster (``-fsSLo FILE``, ``-qO-``)."""
    for index, arg in enumerate(args):
        if arg.startswith("-") and not arg.startswith("--") and letter in arg[1:]:
            rest = arg[arg.index(letter, 1) + 1 :]
            if rest:
                return rest
            return args[index + 1] if index + 1 < len(args) else None
    return None


def _record_download(c: Collector, tool: str, url: str, output: str | None) -> None:
    command = c.command
    to_stdout = output in (None, "-")
    piped_to = None
    if to_stdout and command.pipe_out and c.next_command is not None:
        piped_to = c.next_command.name
    path = None if to_stdout or output is None else c.path(output)
    if to_stdout and piped_to is None and not any(op.endswith(">") for op, _ in command.redirects):
        return  # printed, not kept: a health check or an API call
    if path is not None:
        c.create(output or "", f"the download {path}", tree=False)
    c.downloads.append(Download(tool, url, path, piped_to, command))


def _git(c: Collector, args: tuple[str, ...]) -> None:
    words = _operands(args, frozenset({"-b", "--branch", "--depth", "-C", "-c", "--origin"}))
    if words[:1] == ["clone"] and len(words) >= 2:
        target = words[2] if len(words) >= 3 else posixpath.basename(words[1].rstrip("/"))
        target = target.removesuffix(".git")
        c.create(target, f"the clone {target}")


def _mkdir(c: Collector, args: tuple[str, ...]) -> None:
    for operand in _operands(args, frozenset({"-m", "--mode"})):
        c.create(operand, operand)


def _touch(c: Collector, args: tuple[str, ...]) -> None:
    for operand in _operands(args, frozenset({"-d", "-r", "-t"})):
        c.create(operand, operand, tree=False)


def _cp(c: Collector, args: tuple[str, ...]) -> None:
    operands = _operands(args, frozenset({"-t", "--target-directory", "-S"}))
    if len(operands) < 2:
        return
    dest = operands[-1]
    if len(operands) > 2 or dest.endswith("/"):
        for source in operands[:-1]:
            c.create(posixpath.join(dest, posixpath.basename(source.rstrip("/"))), dest)
    else:
        c.create(dest, dest)


def _unzip(c: Collector, args: tuple[str, ...]) -> None:
    target = _option_value(args, ("-d",))
    if target:
        c.create(target, target)


def _mode(tool: str) -> Callable[[Collector, tuple[str, ...]], None]:
    options = frozenset({"-R", "--recursive", "-v", "-c", "-f", "-h", "-H", "-L", "-P"})

    def handle(c: Collector, args: tuple[str, ...]) -> None:
        recursive = False
        rest: list[str] = []
        for arg in args:
            if arg in options or arg.startswith("--"):
                recursive = recursive or arg in ("-R", "--recursive")
            elif tool != "chmod" and arg.startswith("-"):
                recursive = recursive or "R" in arg
            else:
                rest.append(arg)
        if len(rest) < 2:
            return
        paths = tuple(p for p in (c.path(a) for a in rest[1:]) if p is not None)
        if paths:
            c.mode_changes.append(ModeChange(tool, rest[0], paths, recursive, c.command))

    return handle


_HANDLERS: Mapping[str, Callable[[Collector, tuple[str, ...]], None]] = {
    "rm": _rm,
    "apt-get": _apt,
    "apt": _apt,
    "aptitude": _apt,
    "apk": _apk,
    "yum": _rpm_family("/var/cache/yum", "rpm"),
    "dnf": _rpm_family("/var/cache/dnf", "rpm"),
    "microdnf": _rpm_family("/var/cache/yum", "rpm"),
    "zypper": _rpm_family("/var/cache/zypp", "zypper"),
    "pip": _pip,
    "pip3": _pip,
    "npm": _npm,
    "yarn": _yarn,
    "pnpm": _pnpm,
    "go": _go,
    "cargo": _cargo,
    "gcc": _compiler,
    "g++": _compiler,
    "cc": _compiler,
    "c++": _compiler,
    "clang": _compiler,
    "clang++": _compiler,
    "rustc": _compiler,
    "javac": _compiler,
    "mvn": _maven,
    "gradle": _gradle,
    "dotnet": _dotnet,
    "make": _make,
    "cmake": _cmake,
    "ninja": _make,
    "bundle": _fetcher("bundler", ("install",)),
    "composer": _fetcher("composer", ("install",)),
    "poetry": _fetcher("poetry", ("install",)),
    "pipenv": _fetcher("pipenv", ("install", "sync")),
    "uv": _fetcher("uv", ("sync",)),
    "mix": _fetcher("mix", ("deps.get",)),
    "curl": _curl,
    "wget": _wget,
    "git": _git,
    "mkdir": _mkdir,
    "touch": _touch,
    "cp": _cp,
    "unzip": _unzip,
    "chmod": _mode("chmod"),
    "chown": _mode("chown"),
    "chgrp": _mode("chgrp"),
}
