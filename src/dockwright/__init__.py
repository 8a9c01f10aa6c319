"""dockwright: build container images for compiled applications without a Docker daemon."""

__version__ = "0.1.0"
__all__ = ["__version__"]
