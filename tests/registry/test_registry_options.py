"""Registry options: the TOML configuration file, loopback detection, mirrors lookup."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockwright.errors import UsageError
from dockwright.registry.options import (
    CONFIG_ENV,
    RegistryOptions,
    default_config_path,
    is_loopback,
    load_registry_config,
)


def test_load_registry_config(tmp_path: Path) -> None:
    path = tmp_path / "registries.toml"
    path.write_text(
        'insecure = ["reg.internal:5000"]\n'
        'ca_certs = ["ca.pem", "/etc/abs.pem"]\n'
        "[mirrors]\n"
        '"index.docker.io" = ["http://127.0.0.1:5000", "https://mirror.example"]\n'
    )
    base = RegistryOptions(insecure=frozenset({"x:1"}), retries=2)
    options = load_registry_config(path, base=base)
    assert options.mirrors_for("docker.io") == ("http://127.0.0.1:5000", "https://mirror.example")
    assert options.mirrors_for("ghcr.io") == ()
    assert options.insecure == {"x:1", "reg.internal:5000"}
    assert options.ca_certs == (tmp_path / "ca.pem", Path("/etc/abs.pem"))
    assert options.retries == 2
    assert options.is_insecure("reg.internal:5000")
    assert not options.is_insecure("reg.internal:6000")


def test_missing_default_file_is_fine_but_an_explicit_one_is_not(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert default_config_path(env) == tmp_path / "dockwright" / "registries.toml"
    assert load_registry_config(environ=env) == RegistryOptions()
    with pytest.raises(UsageError, match="does not exist"):
        load_registry_config(environ={CONFIG_ENV: str(tmp_path / "nope.toml")})


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("insecure = 'x'", "insecure must be a list of strings"),
        ("[mirrors]\n'docker.io' = ['ftp://x']", "must start with http"),
        ("mirror = 1", "unknown key(s) mirror"),
        ("insecure = [", "not valid TOML"),
    ],
)
def test_bad_config_is_a_usage_error(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "r.toml"
    path.write_text(text)
    with pytest.raises(UsageError) as info:
        load_registry_config(path)
    assert fragment in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("localhost:5000", True),
        ("127.0.0.1:5000", True),
        ("127.1.2.3", True),
        ("[::1]:5000", True),
        ("::1", True),
        ("10.0.0.1:5000", False),
        ("registry.example", False),
        ("localhost.example:5000", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
