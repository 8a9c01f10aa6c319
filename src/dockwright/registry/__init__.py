"""The registry client: references, auth, pull and push over the distribution spec.

Loaded lazily (httpx and ssl are not imported until a name is used)::

    from dockwright.image.reference import Reference
    from dockwright.registry import Client, RegistryOptions, pull, push

    with Client(RegistryOptions()) as client:
        result = pull(client, Reference.parse("golang:1.23"), store)
        store.tag("golang:1.23", result.root)
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockwright.image.reference import Reference
    from dockwright.registry.accounts import login, logout
    from dockwright.registry.auth import Challenge, parse_challenges
    from dockwright.registry.client import Client
    from dockwright.registry.content import BlobSink, BlobSourceLike, SinkWriter
    from dockwright.registry.credentials import (
        Credential,
        DockerKeychain,
        Keychain,
        StaticKeychain,
    )
    from dockwright.registry.endpoints import Endpoint
    from dockwright.registry.errors import RegistryDigestError, RegistryUnavailableError
    from dockwright.registry.fakes import FakeClock
    from dockwright.registry.options import RegistryOptions, load_registry_config
    from dockwright.registry.progress import Progress, ProgressCallback
    from dockwright.registry.puller import PullResult, pull
    from dockwright.registry.pusher import PushResult, push
    from dockwright.registry.transport import Clock, SystemClock

_LAZY = {
    "Reference": "dockwright.image.reference",
    "Challenge": "dockwright.registry.auth",
    "parse_challenges": "dockwright.registry.auth",
    "Client": "dockwright.registry.client",
    "Endpoint": "dockwright.registry.endpoints",
    "BlobSink": "dockwright.registry.content",
    "BlobSourceLike": "dockwright.registry.content",
    "SinkWriter": "dockwright.registry.content",
    "Credential": "dockwright.registry.credentials",
    "DockerKeychain": "dockwright.registry.credentials",
    "Keychain": "dockwright.registry.credentials",
    "StaticKeychain": "dockwright.registry.credentials",
    "RegistryDigestError": "dockwright.registry.errors",
    "RegistryUnavailableError": "dockwright.registry.errors",
    "FakeClock": "dockwright.registry.fakes",
    "login": "dockwright.registry.accounts",
    "logout": "dockwright.registry.accounts",
    "RegistryOptions": "dockwright.registry.options",
    "load_registry_config": "dockwright.registry.options",
    "Progress": "dockwright.registry.progress",
    "ProgressCallback": "dockwright.registry.progress",
    "PullResult": "dockwright.registry.puller",
    "pull": "dockwright.registry.puller",
    "PushResult": "dockwright.registry.pusher",
    "push": "dockwright.registry.pusher",
    "Clock": "dockwright.registry.transport",
    "SystemClock": "dockwright.registry.transport",
}

__all__ = [
    "BlobSink",
    "BlobSourceLike",
    "Challenge",
    "Client",
    "Clock",
    "Credential",
    "DockerKeychain",
    "Endpoint",
    "FakeClock",
    "Keychain",
    "Progress",
    "ProgressCallback",
    "PullResult",
    "PushResult",
    "Reference",
    "RegistryDigestError",
    "RegistryOptions",
    "RegistryUnavailableError",
    "SinkWriter",
    "StaticKeychain",
    "SystemClock",
    "load_registry_config",
    "login",
    "logout",
    "parse_challenges",
    "pull",
    "push",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dockwright.registry' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
