"""The public names of dockwright.registry: all present, none shadowed by a submodule."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

from dockwright import registry


def test_every_public_name_resolves_to_what_it_says() -> None:
    for module in ("client", "puller", "pusher", "accounts", "auth", "transport"):
        importlib.import_module(f"dockwright.registry.{module}")
    for name in registry.__all__:
        value = getattr(registry, name)
        assert not inspect.ismodule(value), f"dockwright.registry.{name} is a module"
    assert callable(registry.pull) and registry.pull.__name__ == "pull"
    assert registry.push.__name__ == "push" and registry.login.__name__ == "login"


def test_importing_the_package_is_light() -> None:
    code = (
        "import sys, dockwright.registry; "
        "print(sorted(m for m in ('httpx', 'ssl') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
