"""The local content store: an OCI image layout with tags, locking and a small cache.

:class:`Store` is the real one; :class:`MemoryStore` and :class:`MemoryBlobSource` are the
fakes. Publishers read through the :class:`BlobSource` protocol.
"""

from dockwright.store.blobwriter import BlobWriter
from dockwright.store.memory import MemoryBlobSource, MemoryStore
from dockwright.store.reference import normalize_tag, qualified_name, split_tag
from dockwright.store.source import BlobIngest, BlobSource, BlobStore, DigestMismatchError
from dockwright.store.store import PruneReport, Store, default_root

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
