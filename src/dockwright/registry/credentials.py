"""Where registry credentials come from: Docker's config.json, credential helpers, auth.json.

Lookup order for a registry host (first hit wins):

1. ``RegistryOptions.auth_file`` when given;
2. Docker's ``config.json`` (``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``):
   ``credHelpers[host]``, else ``credsStore`` (each runs ``docker-credential-<name> get``
   with the server URL on stdin), else ``auths`` (base64 ``auth`` or ``username`` /
   ``password``, and ``identitytoken``);
3. ``$REGISTRY_AUTH_FILE``;
4. ``$XDG_RUNTIME_DIR/containers/auth.json`` and ``~/.config/containers/auth.json``.

Docker Hub is stored under ``https://index.docker.io/v1/``, as Docker does. Secrets never
reach a log or an error message: :class:`Credential` hides them from ``repr`` and helper
failures are reported by exit status only.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dockwright.errors import RegistryError
from dockwright.image.reference import DOCKER_HUB_ALIASES, normalize_registry

if TYPE_CHECKING:
    import subprocess

log = logging.getLogger(__name__)

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
HELPER_PREFIX = "docker-credential-"
_HELPER_TIMEOUT = 60.0
_TOKEN_USER = "<token>"  # noqa: S105 - the user name helpers give identity tokens


@dataclass(frozen=True, slots=True)
class Credential:
    """A user name with a password, or an identity (refresh) token; secrets hidden from repr.

    ``source`` says where it was found (a file path or a helper name), for logs.
    """

    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)
    source: str = ""

    @property
    def has_password(self) -> bool:
        """True when a user name and password can be sent (Basic auth)."""
        return bool(self.username and self.password)


class Keychain(Protocol):
    """Finds the credential for a registry host."""

    def get(self, registry: str) -> Credential | None:
        """The credential for ``registry`` (``host[:port]``), or ``None`` (anonymous)."""
        ...


class StaticKeychain:
    """A keychain holding fixed credentials (tests, and ``login``'s check)."""

    def __init__(self, credentials: Mapping[str, Credential] | None = None) -> None:
        self._by_host = {server_key(k): v for k, v in (credentials or {}).items()}

    def get(self, registry: str) -> Credential | None:
        """The credential stored for ``registry``, if any."""
        return self._by_host.get(server_key(registry))


def server_key(text: str) -> str:
    """The registry host a config key names: scheme, path and Docker Hub's aliases dropped.

    ``https://index.docker.io/v1/`` → ``docker.io``, ``http://localhost:5000/v2/`` →
    ``localhost:5000``.
    """
    host = text.strip()
    if "://" in host:
        host = host.split("://", 1)[1]
    host = host.split("/", 1)[0].rstrip("/")
    return normalize_registry(host.lower() if host.lower() in DOCKER_HUB_ALIASES else host)


def server_url(registry: str) -> str:
    """What Docker stores and hands to helpers for a registry: Docker Hub's v1 URL, or the
    host itself."""
    key = server_key(registry)
    return DOCKER_HUB_KEY if key == "docker.io" else key


def docker_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    env = os.environ if environ is None else environ
    folder = env.get("DOCKER_CONFIG")
    if folder:
        return Path(folder).expanduser() / "config.json"
    return _home(env) / ".docker" / "config.json"


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME")
    return Path(home) if home else Path.home()


def auth_file_paths(
    auth_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> list[Path]:
    """Every file searched for credentials, in order."""
    env = os.environ if environ is None else environ
    paths: list[Path] = []
    if auth_file is not None:
        paths.append(Path(auth_file).expanduser())
    paths.append(docker_config_path(env))
    if env.get("REGISTRY_AUTH_FILE"):
        paths.append(Path(env["REGISTRY_AUTH_FILE"]).expanduser())
    if env.get("XDG_RUNTIME_DIR"):
        paths.append(Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    paths.append(_home(env) / ".config" / "containers" / "auth.json")
    return list(dict.fromkeys(paths))


def read_config(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; ``None`` if the file does not exist.

    A file that is not a JSON object raises :class:`RegistryError` naming it (its content is
    never quoted: it holds secrets).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RegistryError(
            f"cannot read credentials file {path}: {exc.strerror}",
            hint="check its permissions",
        ) from exc
    try:
        obj = json.loads(data) if data.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise RegistryError(
            f"credentials file {path} is not valid JSON",
            hint="fix or remove it, then log in again",
        ) from exc
    if not isinstance(obj, dict):
        raise RegistryError(
            f"credentials file {path} is not a JSON object", hint="fix or remove it"
        )
    return obj


def _from_auths(auths: Any, registry: str, source: str) -> Credential | None:
    if not isinstance(auths, dict):
        return None
    wanted = server_key(registry)
    for key, entry in auths.items():
        if not isinstance(key, str) or not isinstance(entry, dict) or server_key(key) != wanted:
            continue
        username = str(entry.get("username") or "")
        password = str(entry.get("password") or "")
        encoded = entry.get("auth")
        if isinstance(encoded, str) and encoded:
            try:
                decoded = base64.b64decode(encoded, validate=False).decode()
            except (binascii.Error, UnicodeDecodeError):
                log.warning("ignoring a malformed 'auth' entry for %s in %s", key, source)
                continue
            username, sep, password = decoded.partition(":")
            if not sep:
                log.warning("ignoring a malformed 'auth' entry for %s in %s", key, source)
                continue
        token = str(entry.get("identitytoken") or "")
        if username or password or token:
            return Credential(username, password, token, source)
    return None


def run_helper(
    helper: str, action: str, stdin: str, environ: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``docker-credential-<helper> <action>`` with ``stdin``; raises RegistryError when
    the program is missing. The caller judges the exit status."""
    import subprocess  # noqa: PLC0415 - only credential helpers need it, not every pull

    env = dict(os.environ if environ is None else environ)
    program = HELPER_PREFIX + helper
    path = shutil.which(program, path=env.get("PATH"))
    if path is None:
        raise RegistryError(
            f"credential helper {program} is not installed (named in the Docker config)",
            hint="install it, or remove credsStore/credHelpers from the Docker config",
        )
    try:
        return subprocess.run(
            [path, action],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=_HELPER_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RegistryError(
            f"credential helper {program} could not run: {type(exc).__name__}",
            hint="check that it works: run it by hand",
        ) from exc


def _helper_get(helper: str, registry: str, environ: Mapping[str, str] | None) -> Credential | None:
    program = HELPER_PREFIX + helper
    result = run_helper(helper, "get", server_url(registry), environ)
    if result.returncode != 0:
        if "credentials not found" in result.stdout.lower():
            return None
        # The helper's output is not shown: it is not ours to know what it holds.
        log.warning(
            "credential helper %s failed for %s (exit %d); continuing without credentials",
            program,
            server_key(registry),
            result.returncode,
        )
        return None
    try:
        obj = json.loads(result.stdout)
        username = str(obj.get("Username") or "")
        secret = str(obj.get("Secret") or "")
    except (ValueError, AttributeError):
        log.warning("credential helper %s gave unreadable output; ignoring it", program)
        return None
    if not secret:
        return None
    if username == _TOKEN_USER:
        return Credential(identity_token=secret, source=program)
    return Credential(username, secret, "", program)


def helper_for(config: Mapping[str, Any], registry: str) -> str | None:
    """The credential helper a Docker config names for ``registry`` (credHelpers, then
    credsStore), or ``None``."""
    wanted = server_key(registry)
    helpers = config.get("credHelpers")
    if isinstance(helpers, dict):
        for key, name in helpers.items():
            if isinstance(key, str) and server_key(key) == wanted and isinstance(name, str):
                return name or None
    store = config.get("credsStore")
    return store if isinstance(store, str) and store else None


class DockerKeychain:
    """Credentials from Docker's and the containers tools' files and credential helpers."""

    def __init__(
        self, auth_file: Path | None = None, environ: Mapping[str, str] | None = None
    ) -> None:
        self._auth_file = auth_file
        self._environ = dict(os.environ if environ is None else environ)

    def get(self, registry: str) -> Credential | None:
        """The first credential found for ``registry`` (see the module's lookup order)."""
        for path in auth_file_paths(self._auth_file, self._environ):
            config = read_config(path)
            if config is None:
                continue
            helper = helper_for(config, registry)
            if helper is not None:
                found = _helper_get(helper, registry, self._environ)
                if found is not None:
                    log.debug("credentials for %s from %s", server_key(registry), found.source)
                    return found
            found = _from_auths(config.get("auths"), registry, str(path))
            if found is not None:
                log.debug("credentials for %s from %s", server_key(registry), path)
                return found
        return None
