"""Helpers for the registry tests: clients wired to a fake registry, images in memory."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import httpx

from dockwright.image.model import Descriptor
from dockwright.registry.client import Client
from dockwright.registry.credentials import Credential, StaticKeychain
from dockwright.registry.fakes import FakeClock
from dockwright.registry.options import RegistryOptions
from dockwright.store import MemoryStore
from dockwright.store.graph import walk
from registry.fakeregistry import PASSWORD, USER, FakeRegistry

ALICE = Credential(USER, PASSWORD, source="test")


def make_client(
    target: FakeRegistry | httpx.MockTransport,
    *,
    credentials: Mapping[str, Credential] | None = None,
    clock: FakeClock | None = None,
    **options: Any,
) -> Client:
    """A client on the fake registry's transport, with a fake clock and fixed credentials."""
    transport = target.transport() if isinstance(target, FakeRegistry) else target
    return Client(
        RegistryOptions(**options),
        transport=transport,
        keychain=StaticKeychain(credentials or {}),
        clock=clock or FakeClock(),
        rng=random.Random(7),
    )


def serve_image(
    fake: FakeRegistry, repository: str, store: MemoryStore, root: Descriptor, tag: str | None
) -> None:
    """Put ``root``'s closure from ``store`` into the fake registry."""
    for desc in walk(store, root):
        data = store.read(desc.digest)
        if desc.is_index or desc.is_manifest:
            fake.add_manifest(
                repository, data, desc.media_type, tag if desc.digest == root.digest else None
            )
        else:
            fake.add_blob(repository, data)
