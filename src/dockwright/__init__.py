"""dockwright: build container images for compiled applications without a Docker daemon.

The public API is small and loaded lazily (``import dockwright`` stays cheap)::

    from dockwright import PackageOptions, Platform, Store, package
    from dockwright.prebuilt.base import StaticBase

    store = Store.open()
    result = package(
        PackageOptions(path=Path("./cmd/app"), platforms=(Platform.parse("linux/arm64"),)),
        StaticBase(store),
        store,
        tags=["app:dev"],
    )
"""

from __future__ import annotations

import importlib

# Not typing.TYPE_CHECKING: importing typing would cost the start-up path ~10 ms; mypy
# treats any constant of this name the same way.
TYPE_CHECKING = False

__version__ = "0.1.0"

_LAZY = {
    "Digest": "dockwright.image.digest",
    "Platform": "dockwright.image.platform",
    "Descriptor": "dockwright.image.model",
    "Manifest": "dockwright.image.model",
    "Index": "dockwright.image.model",
    "ImageConfig": "dockwright.image.model",
    "Store": "dockwright.store",
    "PackageOptions": "dockwright.prebuilt.package",
    "PackageResult": "dockwright.prebuilt.package",
    "package": "dockwright.prebuilt.package",
    "OutputSpec": "dockwright.publish",
    "parse_output": "dockwright.publish",
    "publish": "dockwright.publish",
    "DockwrightError": "dockwright.errors",
}

__all__ = [
    "Descriptor",
    "Digest",
    "DockwrightError",
    "ImageConfig",
    "Index",
    "Manifest",
    "OutputSpec",
    "PackageOptions",
    "PackageResult",
    "Platform",
    "Store",
    "__version__",
    "package",
    "parse_output",
    "publish",
]

if TYPE_CHECKING:
    from dockwright.errors import DockwrightError
    from dockwright.image.digest import Digest
    from dockwright.image.model import Descriptor, ImageConfig, Index, Manifest
    from dockwright.image.platform import Platform
    from dockwright.prebuilt.package import PackageOptions, PackageResult, package
    from dockwright.publish import OutputSpec, parse_output, publish
    from dockwright.store import Store


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dockwright' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
