"""Command line: parse arguments, call the library, render the result.

Heavy modules are imported inside the command functions, so ``dockwright --help`` and a
fully cached ``package`` spend little time importing.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from dockwright import __version__
from dockwright.errors import BuildError, DockwrightError

Command = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"dockwright: error: {message}\n")


def _add_package(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser(
        "package",
        help="compile a Go main package on the host and package it into an image",
        description=(
            "Cross-compile a Go main package for each --platform and append the binary as "
            "one layer to a base image. Reproducible: same sources and flags, same digest. "
            "The image always lands in the local store (tagged with -t); --output also "
            "exports it."
        ),
    )
    p.add_argument("path", nargs="?", default=".", help="main package folder (default: .)")
    p.add_argument("-t", "--tag", action="append", default=[], help="name:tag (repeatable)")
    p.add_argument(
        "--platform",
        action="append",
        default=[],
        help="target platforms, comma separated (default: $DOCKER_DEFAULT_PLATFORM or host)",
    )
    p.add_argument(
        "--base",
        default="static",
        help="base image: static (default), scratch, a store tag, an OCI layout or "
        "docker-archive path (oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE)",
    )
    p.add_argument(
        "-o",
        "--output",
        help="export too: type=oci,dest=FILE.tar | type=oci,dest=DIR,tar=false | "
        "type=docker,dest=FILE.tar[,platform=P]; add compression=gzip|zstd|uncompressed "
        "and compression-level=N (default: gzip for oci, uncompressed for docker)",
    )
    p.add_argument("--entrypoint", help="entrypoint as a JSON array or words")
    p.add_argument("--cmd", help="default arguments as a JSON array or words")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument(
        "--annotation",
        action="append",
        default=[],
        metavar="[index:|manifest:]KEY=VALUE",
        help="manifest annotation (prefix index: for the index)",
    )
    p.add_argument("--user", default=None, help="user (default: 65532:65532, nonroot)")
    p.add_argument("--workdir", default=None)
    p.add_argument("--expose", action="append", default=[], metavar="PORT[/PROTO]")
    p.add_argument("--include", action="append", default=[], metavar="SRC:DEST")
    p.add_argument("--binary-path", default=None, help="where the binary goes in the image")
    p.add_argument("--ldflags", default="", help="extra -ldflags for go build")
    p.add_argument("--tags", dest="go_tags", default="", help="go build tags")
    p.add_argument("--cgo", action="store_true", help="build with CGO_ENABLED=1")
    p.add_argument("--no-trimpath", action="store_true", help="keep file system paths")
    p.add_argument("--no-strip", action="store_true", help="keep symbols and DWARF")
    p.add_argument("--buildvcs", choices=("auto", "true", "false"), default="auto")
    p.add_argument("--go", default=None, help="path of the go command")
    p.add_argument("--no-vcs-labels", action="store_true", help="no OCI source/revision labels")
    p.add_argument("--index", action="store_true", help="write an index even for one platform")
    p.add_argument(
        "--iidfile",
        default=None,
        help="write the image digest to this file (the exported one when --output is given)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print only the digest")
    p.add_argument(
        "--push", action="store_true", help="push the result to each -t name (a registry ref)"
    )
    add_registry_flags(p)
    p.set_defaults(func=_run("package"), args=[])
    p.epilog = "Arguments after -- become the image's default arguments (like --cmd)."


def _add_build(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser(
        "build",
        help="build a Dockerfile (multistage, BuildKit syntax) without a daemon",
        description=(
            "Run a Dockerfile like BuildKit: only the stages the target needs, RUN steps "
            "under runc, layers from filesystem snapshots, a content-addressed cache. The "
            "image lands in the local store (tagged with -t); --output also exports it."
        ),
    )
    p.add_argument("context", nargs="?", default=".", help="build context folder (default: .)")
    p.add_argument("-f", "--file", default=None, help="Dockerfile (default: CONTEXT/Dockerfile)")
    p.add_argument("-t", "--tag", action="append", default=[], help="name:tag (repeatable)")
    p.add_argument("--target", default=None, help="the stage to build (default: the last)")
    p.add_argument("--build-arg", action="append", default=[], metavar="KEY[=VALUE]")
    p.add_argument(
        "--platform", action="append", default=[], help="target platforms, comma separated"
    )
    p.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="id=ID[,src=FILE|env=VAR]",
        help="a secret for RUN --mount=type=secret",
    )
    p.add_argument(
        "--ssh", action="append", default=[], metavar="default", help="forward SSH_AUTH_SOCK"
    )
    p.add_argument(
        "--build-context",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="an extra named context for FROM/COPY --from",
    )
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--annotation", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--network", choices=("default", "host", "none"), default="default")
    p.add_argument(
        "--cgroup-parent",
        default="/dockwright",
        metavar="PATH",
        help="the cgroup RUN containers are made in (default /dockwright; relative: below "
        "dockwright's own cgroup; empty: runc's default)",
    )
    p.add_argument("--no-cache", action="store_true", help="run every step")
    p.add_argument(
        "--cache-from",
        action="append",
        default=[],
        metavar="type=registry,ref=REF|type=local,src=DIR",
        help="import a build cache (repeatable)",
    )
    p.add_argument(
        "--cache-to",
        action="append",
        default=[],
        metavar="type=registry,ref=REF|type=local,dest=DIR[,mode=min|max]",
        help="export the build cache (default mode=min; compression=gzip|zstd|uncompressed)",
    )
    p.add_argument(
        "--no-cache-filter",
        action="append",
        default=[],
        metavar="STAGE",
        help="run every step of these stages",
    )
    p.add_argument(
        "-o",
        "--output",
        action="append",
        default=[],
        help="export too: type=oci,dest=FILE.tar | type=docker,dest=FILE.tar | type=registry",
    )
    p.add_argument("--push", action="store_true", help="push the result to each -t name")
    p.add_argument("--iidfile", default=None, help="write the image digest to this file")
    p.add_argument("--metadata-file", default=None, help="write build metadata (JSON) here")
    p.add_argument("--progress", choices=("auto", "tty", "plain", "json", "quiet"), default="auto")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the digest")
    add_registry_flags(p)
    p.set_defaults(func=_run("build"))


def _add_store_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    images = sub.add_parser("images", help="list the images in the local store")
    images.add_argument("--format", choices=("table", "json"), default="table")
    images.add_argument("-q", "--quiet", action="store_true", help="names only")
    images.set_defaults(func=_run("images"))

    rmi = sub.add_parser("rmi", help="remove tags from the local store")
    rmi.add_argument("tags", nargs="+", metavar="TAG")
    rmi.add_argument("--prune", action="store_true", help="free unreferenced blobs afterwards")
    rmi.set_defaults(func=_run("rmi"))

    prune = sub.add_parser(
        "prune",
        help="delete blobs no tag references",
        description="Delete blobs no tag references. A plain prune keeps the build cache's "
        "layers; --keep-storage and --build-cache trim it.",
    )
    prune.add_argument(
        "--repair", action="store_true", help="also verify every blob and drop corrupt ones"
    )
    prune.add_argument(
        "--keep-storage",
        metavar="SIZE",
        default=None,
        help="trim the build cache (cached layers, unpacked layers, cache mounts) to SIZE, "
        "least recently used first; e.g. 500MB, 2GB (binary units)",
    )
    prune.add_argument(
        "--build-cache",
        "--all",
        dest="build_cache",
        action="store_true",
        help="empty the build cache (as --keep-storage 0); layers of tagged images stay",
    )
    prune.set_defaults(func=_run("prune"))

    save = sub.add_parser("save", help="write a stored image to an OCI or docker archive")
    save.add_argument("tag", metavar="TAG")
    save.add_argument("-o", "--output", required=True, metavar="FILE")
    save.add_argument("--format", choices=("oci", "docker"), default="oci")
    save.add_argument("--platform", default=None, help="for --format docker: which platform")
    save.set_defaults(func=_run("save"))


def add_registry_flags(p: argparse.ArgumentParser) -> None:
    """Flags for commands that talk to registries (also read from registries.toml)."""
    g = p.add_argument_group("registry access")
    g.add_argument(
        "--registry-mirror",
        action="append",
        default=[],
        metavar="REGISTRY=URL",
        help="pull REGISTRY's images through URL first (e.g. docker.io=http://127.0.0.1:5000)",
    )
    g.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST",
        help="allow plain http and unverified TLS for HOST[:PORT]",
    )
    g.add_argument(
        "--ca-cert", action="append", default=[], metavar="FILE", help="extra CA certificates"
    )


def _add_registry_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    pull = sub.add_parser("pull", help="pull an image from a registry into the local store")
    pull.add_argument("ref", metavar="REF")
    pull.add_argument("--platform", default=None, help="platforms to pull (default: host)")
    pull.add_argument("--all-platforms", action="store_true", help="every platform of an index")
    pull.add_argument("-q", "--quiet", action="store_true", help="print only the digest")
    pull.add_argument(
        "--unpack",
        action="store_true",
        help="also unpack the layers for builds now (as docker pull does), not at first use",
    )
    add_registry_flags(pull)
    pull.set_defaults(func=_run("pull"))

    push = sub.add_parser("push", help="push a stored image to a registry")
    push.add_argument("tag", metavar="TAG", help="image in the local store")
    push.add_argument("dest", nargs="?", metavar="DEST", help="registry reference (default TAG)")
    push.add_argument("--compression", choices=("gzip", "zstd", "uncompressed"), default="gzip")
    push.add_argument("--compression-level", type=int, default=None)
    push.add_argument("-q", "--quiet", action="store_true", help="print only the digest")
    add_registry_flags(push)
    push.set_defaults(func=_run("push"))

    copy = sub.add_parser(
        "copy",
        help="copy an image between registries, OCI layouts, archives and the local store",
        description="Locations: REF or docker://REF (registry), oci:DIR[:REF], "
        "oci-archive:FILE[:REF], docker-archive:FILE[:TAG], store:TAG (the local store).",
    )
    copy.add_argument("src", metavar="SRC")
    copy.add_argument("dest", metavar="DEST")
    copy.add_argument("--platform", default=None, help="platforms to copy (default: all)")
    copy.add_argument(
        "--unpack",
        action="store_true",
        help="with a store: destination, also unpack the layers for builds now (as docker load)",
    )
    add_registry_flags(copy)
    copy.set_defaults(func=_run("copy"))

    login = sub.add_parser("login", help="store credentials for a registry")
    login.add_argument("server", nargs="?", default="docker.io", metavar="SERVER")
    login.add_argument("-u", "--username", required=True)
    login.add_argument("-p", "--password", default=None, help="prefer --password-stdin")
    login.add_argument("--password-stdin", action="store_true")
    add_registry_flags(login)
    login.set_defaults(func=_run("login"))

    logout = sub.add_parser("logout", help="forget the credentials of a registry")
    logout.add_argument("server", nargs="?", default="docker.io", metavar="SERVER")
    logout.set_defaults(func=_run("logout"))


def _add_dockerfile_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    outline = sub.add_parser(
        "outline", help="show a Dockerfile's stages, bases, args and which stages a build runs"
    )
    outline.add_argument("-f", "--file", default="Dockerfile", help="the Dockerfile")
    outline.add_argument("--target", default=None, help="build this stage (default: last)")
    outline.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    outline.add_argument("--platform", default=None, help="target platform(s)")
    outline.add_argument("--format", choices=("text", "json"), default="text")
    outline.set_defaults(func=_run("outline"))

    lint = sub.add_parser("lint", help="find mistakes that make images big, slow or unsafe")
    lint.add_argument("file", nargs="?", default="Dockerfile", metavar="FILE")
    lint.add_argument("--context", default=None, help="build context folder (default: none)")
    lint.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    lint.add_argument(
        "--fail-on",
        choices=("info", "warning", "error", "never"),
        default="warning",
        help="exit 1 when a finding is at least this severe (default: warning)",
    )
    lint.add_argument("--fix", action="store_true", help="apply the safe fixes, print a diff")
    lint.add_argument("--target", default=None, help="the stage that is the final image")
    lint.set_defaults(func=_run("lint"))


_MODULES = {
    "build": "build_cmd",
    "package": "package_cmd",
    "images": "store_cmds",
    "rmi": "store_cmds",
    "prune": "store_cmds",
    "save": "store_cmds",
    "pull": "registry_cmds",
    "push": "registry_cmds",
    "copy": "registry_cmds",
    "login": "registry_cmds",
    "logout": "registry_cmds",
    "outline": "outline_cmd",
    "lint": "lint_cmd",
}


def _run(name: str) -> Command:
    def command(args: argparse.Namespace) -> int:
        import importlib  # noqa: PLC0415

        module = importlib.import_module(f"dockwright.cli.{_MODULES[name]}")
        handler: Command = getattr(module, f"run_{name}")
        return handler(args)

    return command


# The hot commands (rebuilds answer in tens of milliseconds): when one is named, only its own
# parser is built, not the ~120 arguments of every command.
_HOT = {"build": _add_build, "package": _add_package}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of the ``dockwright`` command (``only``: just that hot command's)."""
    parser = _Parser(
        prog="dockwright",
        description="Build container images for compiled applications, without a daemon.",
    )
    parser.add_argument("--version", action="version", version=f"dockwright {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    if only in _HOT:
        _HOT[only](sub)
        return parser
    _add_build(sub)
    _add_package(sub)
    _add_store_commands(sub)
    _add_registry_commands(sub)
    _add_dockerfile_commands(sub)
    return parser


def _report(exc: DockwrightError) -> None:
    print(f"dockwright: error: {exc.message}", file=sys.stderr)
    if isinstance(exc, BuildError) and exc.output_tail:
        for line in exc.output_tail:
            print(f"  | {line}", file=sys.stderr)
    if exc.hint:
        print(f"dockwright: hint: {exc.hint}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(words[0] if words else None)
    # Everything after "--" is the image's default arguments, never options or the path.
    trailing: list[str] | None = None
    if "--" in words:
        cut = words.index("--")
        words, trailing = words[:cut], words[cut + 1 :]
    args = parser.parse_args(words)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if trailing is not None:
        if args.command != "package":
            parser.error(f"'--' is only for 'package', not {args.command!r}")
        args.args = trailing
    try:
        code: int = args.func(args)
    except DockwrightError as exc:
        _report(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        print("dockwright: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 141
    except Exception as exc:
        if os.environ.get("DOCKWRIGHT_DEBUG"):
            raise
        print(
            f"dockwright: internal error: {type(exc).__name__}: {exc} "
            "(set DOCKWRIGHT_DEBUG=1 for a traceback, and please report it)",
            file=sys.stderr,
        )
        return 70
    return code
