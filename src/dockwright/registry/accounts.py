"""``login`` and ``logout``: check credentials against a registry, then keep or drop them.

Credentials go where Docker keeps them: the credential helper the Docker config names for
the registry (``credHelpers``, else ``credsStore``; ``docker-credential-<name> store``), or
else the config's ``auths`` as base64 ``auth``. The file is written atomically with mode
0600 (``RegistryOptions.auth_file`` replaces Docker's ``config.json`` when given).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from dockwright.errors import RegistryError
from dockwright.registry.client import Client
from dockwright.registry.credentials import (
    HELPER_PREFIX,
    Credential,
    StaticKeychain,
    docker_config_path,
    helper_for,
    read_config,
    run_helper,
    server_key,
    server_url,
)
from dockwright.registry.options import RegistryOptions

log = logging.getLogger(__name__)


def _config_path(options: RegistryOptions, environ: Mapping[str, str] | None) -> Path:
    if options.auth_file is not None:
        return Path(options.auth_file).expanduser()
    return docker_config_path(environ)


def write_config(path: Path, config: Mapping[str, Any]) -> None:
    """Write ``config`` as JSON to ``path`` atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = (json.dumps(config, indent="\t") + "\n").encode()
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise


def _load(path: Path) -> dict[str, Any]:
    return read_config(path) or {}


def _auths(config: dict[str, Any], path: Path) -> dict[str, Any]:
    auths = config.setdefault("auths", {})
    if not isinstance(auths, dict):
        raise RegistryError(
            f"credentials file {path} has an 'auths' that is not an object",
            hint="fix or remove it",
        )
    return auths


def _helper_failed(program: str, action: str, code: int) -> RegistryError:
    return RegistryError(
        f"credential helper {program} could not {action} the credentials (exit {code})",
        hint=f"check that {program} works: run it by hand",
    )


def login(
    registry: str,
    username: str,
    password: str,
    options: RegistryOptions | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> str:
    """Check ``username``/``password`` against ``registry``, then store them.

    Returns where they were stored (a file path or a helper program's name). Wrong
    credentials raise :class:`RegistryError` with code ``UNAUTHORIZED``; nothing is
    written then.
    """
    opts = options or RegistryOptions()
    name = server_key(registry)
    if not username or not password:
        raise RegistryError(
            f"log in to {name} needs a user name and a password",
            hint="give --username and --password-stdin",
        )
    credential = Credential(username, password, source="login")
    with Client(opts, keychain=StaticKeychain({name: credential}), transport=transport) as client:
        try:
            client.ping(name)
        except RegistryError as exc:
            if "UNAUTHORIZED" in exc.codes:
                raise RegistryError(
                    f"login to {name} failed: the registry rejected the user name or password",
                    status=exc.status,
                    codes=exc.codes,
                    hint="check them and try again; nothing was stored",
                ) from exc
            raise
    path = _config_path(opts, environ)
    config = _load(path)
    helper = helper_for(config, name)
    if helper is not None:
        payload = json.dumps(
            {"ServerURL": server_url(name), "Username": username, "Secret": password}
        )
        result = run_helper(helper, "store", payload, environ)
        if result.returncode != 0:
            raise _helper_failed(HELPER_PREFIX + helper, "store", result.returncode)
        where = HELPER_PREFIX + helper
        auths = _auths(config, path)
        for key in [k for k in auths if server_key(k) == name]:
            del auths[key]
        auths[server_url(name)] = {}
    else:
        auths = _auths(config, path)
        for key in [k for k in auths if server_key(k) == name]:
            del auths[key]
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        auths[server_url(name)] = {"auth": token}
        where = str(path)
    try:
        write_config(path, config)
    except OSError as exc:
        raise RegistryError(
            f"cannot write credentials file {path}: {exc.strerror}",
            hint="check the permissions of its folder",
        ) from exc
    log.info("logged in to %s as %s; credentials in %s", name, username, where)
    return where


def logout(
    registry: str,
    options: RegistryOptions | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> bool:
    """Forget the credentials of ``registry``; True when there were any."""
    opts = options or RegistryOptions()
    name = server_key(registry)
    path = _config_path(opts, environ)
    config = read_config(path)
    if config is None:
        return False
    removed = False
    helper = helper_for(config, name)
    if helper is not None:
        result = run_helper(helper, "erase", server_url(name), environ)
        if result.returncode == 0:
            removed = True
        elif "not found" not in result.stdout.lower():
            raise _helper_failed(HELPER_PREFIX + helper, "erase", result.returncode)
    auths = config.get("auths")
    if isinstance(auths, dict):
        keys = [k for k in auths if isinstance(k, str) and server_key(k) == name]
        for key in keys:
            del auths[key]
        if keys:
            removed = True
            try:
                write_config(path, config)
            except OSError as exc:
                raise RegistryError(
                    f"cannot write credentials file {path}: {exc.strerror}",
                    hint="check the permissions of its folder",
                ) from exc
    return removed
