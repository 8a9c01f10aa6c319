"""The local content store: an OCI image layout with tags, locking and a small cache.

:class:`Store` is the real one; :class:`MemoryStore` and :class:`MemoryBlobSource` are the
fakes. Publishers read through the :class:`BlobSource` protocol.
"""

from dockwright.store.blobwriter import BlobWriter
from dockwright.store.reference import normalize_tag, qualified_name, split_tag
from dockwright.store.source import BlobIngest, BlobSource, BlobStore, DigestMismatchError
from dockwright.store.store import PruneReport, Store, default_root

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockwright.store.memory import MemoryBlobSource, MemoryStore

_LAZY = {"MemoryBlobSource": "dockwright.store.memory", "MemoryStore": "dockwright.store.memory"}

__all__ = [
    "BlobIngest",
    "BlobSource",
    "BlobStore",
    "BlobWriter",
    "DigestMismatchError",
    "MemoryBlobSource",
    "MemoryStore",
    "PruneReport",
    "Store",
    "default_root",
    "normalize_tag",
    "qualified_name",
    "split_tag",
]


def __getattr__(name: str) -> object:
    # The in-memory fakes are for tests: loaded on first use.
    if name in _LAZY:
        import importlib  # noqa: PLC0415

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
