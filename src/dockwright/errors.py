"""The one error tree of dockwright.

Every error the library raises on purpose derives from :class:`DockwrightError`, so a caller
(and the CLI) can catch one class and show its message without a traceback::

    DockwrightError
    ├── UsageError              bad flags or arguments given by the user
    ├── InvalidReferenceError   an image reference or tag that does not parse
    ├── PlatformError           an unknown or unsupported platform string
    ├── ImageFormatError        a manifest, index, config or layer that is malformed
    │   └── UnsafeLayerError    a layer tar entry that would write outside its root
    ├── StoreError              the local store cannot do what was asked
    │   ├── NotFoundError       no image under that tag, no such blob
    │   └── CorruptBlobError    a stored blob whose bytes do not match its digest
    ├── PublishError            an output cannot be written (e.g. unwritable destination)
    ├── DockerfileError         a Dockerfile problem, with file, line and column
    ├── RegistryError           a registry answered with an error (codes and HTTP status)
    └── BuildError              a build step failed
        └── GoBuildError        the Go toolchain failed; carries the compiler's output
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class DockwrightError(Exception):
    """Root of every error dockwright raises on purpose.

    ``hint`` is an optional sentence telling the user what to do next.
    """

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class UsageError(DockwrightError):
    """The user's arguments cannot be acted on."""

    exit_code = 2


class InvalidReferenceError(DockwrightError):
    """An image reference or tag is not valid."""

    exit_code = 2


class PlatformError(DockwrightError):
    """A platform string is unknown or not supported."""

    exit_code = 2


class ImageFormatError(DockwrightError):
    """An image document or layer is malformed."""


class UnsafeLayerError(ImageFormatError):
    """A layer entry would change something outside the extraction root."""

    def __init__(self, member: str, reason: str) -> None:
        super().__init__(f"unsafe layer entry {member!r}: {reason}")
        self.member = member
        self.reason = reason


class StoreError(DockwrightError):
    """The local store cannot complete an operation."""


class NotFoundError(StoreError):
    """A tag or blob is not in the store."""


class CorruptBlobError(StoreError):
    """A stored blob's bytes do not hash to its digest."""

    def __init__(self, path: Path, expected: str, actual: str) -> None:
        super().__init__(
            f"corrupt blob {path}: content hashes to {actual}, expected {expected}",
            hint="run 'dockwright prune --repair' to drop it, then rebuild or pull again",
        )
        self.path = path
        self.expected = expected
        self.actual = actual


class PublishError(DockwrightError):
    """An output cannot be written."""


class DockerfileError(DockwrightError):
    """A problem in a Dockerfile, located by file, line and column."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str,
        line: int,
        column: int = 0,
        hint: str | None = None,
    ) -> None:
        super().__init__(f"{file}:{line}:{column}: {message}", hint=hint)
        self.file = file
        self.line = line
        self.column = column


class RegistryError(DockwrightError):
    """A registry refused a request; ``codes`` are the distribution-spec error codes."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        codes: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.codes = tuple(codes)


class BuildError(DockwrightError):
    """A build step failed."""

    def __init__(
        self,
        message: str,
        *,
        step: str | None = None,
        exit_status: int | None = None,
        output_tail: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.step = step
        self.exit_status = exit_status
        self.output_tail = tuple(output_tail)


class GoBuildError(BuildError):
    """``go build`` (or ``go list``) failed; ``output_tail`` holds what the compiler said."""
