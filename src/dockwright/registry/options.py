"""How to reach registries: mirrors, insecure hosts, extra CAs, retries, parallelism.

:func:`load_registry_config` reads the same settings from a TOML file::

    insecure = ["registry.internal:5000"]        # plain http / unverified TLS allowed
    ca_certs = ["/etc/ssl/private-ca.pem"]       # trusted in addition to the system CAs

    [mirrors]
    "docker.io" = ["http://127.0.0.1:5000"]      # pulls try these first, pushes never
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from dockwright import __version__
from dockwright.errors import UsageError
from dockwright.image.reference import normalize_registry

CONFIG_ENV = "DOCKWRIGHT_REGISTRIES_CONFIG"
USER_AGENT = f"dockwright/{__version__}"


@dataclass(frozen=True, slots=True)
class RegistryOptions:
    """Settings of a :class:`~dockwright.registry.Client`.

    ``mirrors`` maps a registry (``docker.io``) to mirror base URLs tried, in order, before
    the registry itself when pulling. ``insecure`` hosts (``host[:port]``) may be reached
    over plain http or with unverified TLS. ``ca_certs`` are trusted in addition to the
    system's CA store. ``auth_file`` replaces Docker's ``config.json`` as the credentials
    file that is read first and written by ``login``. ``chunk_size`` ``None`` uploads each
    blob in one request; a number uploads in PATCH chunks of that many bytes.
    """

    mirrors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    insecure: frozenset[str] = frozenset()
    ca_certs: tuple[Path, ...] = ()
    auth_file: Path | None = None
    retries: int = 5
    timeout: float = 60.0
    parallel: int = 4
    chunk_size: int | None = None
    user_agent: str = USER_AGENT

    def mirrors_for(self, registry: str) -> tuple[str, ...]:
        """Mirror base URLs for ``registry`` (Docker Hub's spellings are one registry)."""
        wanted = normalize_registry(registry)
        for key, urls in self.mirrors.items():
            if normalize_registry(key) == wanted:
                return tuple(url.rstrip("/") for url in urls)
        return ()

    def is_insecure(self, host: str) -> bool:
        """True when ``host`` (``name[:port]``) was declared insecure."""
        return host in self.insecure or host.rsplit(":", 1)[0] in self.insecure


def is_loopback(host: str) -> bool:
    """True for ``localhost``, ``127.0.0.0/8`` and ``::1``, with or without a port."""
    name = host
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else name[1:]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$DOCKWRIGHT_REGISTRIES_CONFIG``, else ``~/.config/dockwright/registries.toml``."""
    env = os.environ if environ is None else environ
    override = env.get(CONFIG_ENV)
    if override:
        return Path(override).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "dockwright" / "registries.toml"


def _bad(path: Path, what: str) -> UsageError:
    return UsageError(
        f"registry configuration {path}: {what}",
        hint='expected insecure = ["host:port"], ca_certs = ["file.pem"] and a [mirrors] '
        'table such as "docker.io" = ["http://127.0.0.1:5000"]',
    )


def _strings(path: Path, key: str, value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(path, f"{key} must be a list of strings")
    return list(value)


def load_registry_config(
    path: Path | None = None,
    *,
    base: RegistryOptions | None = None,
    environ: Mapping[str, str] | None = None,
) -> RegistryOptions:
    """Options from a TOML file merged over ``base``; a missing default file gives ``base``.

    ``path`` defaults to :func:`default_config_path`. A file given explicitly (or through
    ``$DOCKWRIGHT_REGISTRIES_CONFIG``) must exist. Malformed files raise
    :class:`~dockwright.errors.UsageError` naming the file and the key.
    """
    options = base or RegistryOptions()
    env = os.environ if environ is None else environ
    explicit = path is not None or bool(env.get(CONFIG_ENV))
    file = Path(path).expanduser() if path is not None else default_config_path(env)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        if explicit:
            raise UsageError(
                f"registry configuration {file} does not exist",
                hint=f"create it, or unset {CONFIG_ENV}",
            ) from exc
        return options
    except OSError as exc:
        raise UsageError(f"cannot read registry configuration {file}: {exc.strerror}") from exc
    import tomllib  # noqa: PLC0415 - only when there is a file to read

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _bad(file, f"not valid TOML ({exc})") from exc
    unknown = set(data) - {"mirrors", "insecure", "ca_certs"}
    if unknown:
        raise _bad(file, f"unknown key(s) {', '.join(sorted(unknown))}")
    mirrors = dict(options.mirrors)
    raw_mirrors = data.get("mirrors", {})
    if not isinstance(raw_mirrors, dict):
        raise _bad(file, "mirrors must be a table")
    for registry, urls in raw_mirrors.items():
        listed = _strings(file, f"mirrors.{registry}", urls)
        for url in listed:
            if not url.startswith(("http://", "https://")):
                raise _bad(file, f"mirror {url!r} must start with http:// or https://")
        mirrors[normalize_registry(registry)] = tuple(listed)
    insecure = options.insecure | frozenset(_strings(file, "insecure", data.get("insecure", [])))
    ca_certs = options.ca_certs + tuple(
        (file.parent / Path(p).expanduser())
        for p in _strings(file, "ca_certs", data.get("ca_certs", []))
    )
    return replace(options, mirrors=mirrors, insecure=insecure, ca_certs=ca_certs)
