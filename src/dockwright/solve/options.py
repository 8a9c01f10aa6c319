"""What a build is asked to do: :class:`BuildOptions` and the values inside it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dockwright.image.platform import Platform

Network = Literal["host", "none"]
Progress = Literal["auto", "tty", "plain", "json", "quiet"]


@dataclass(frozen=True, slots=True)
class SecretSource:
    """One ``--secret``: the bytes come from a file (``src``) or an environment variable."""

    id: str
    path: Path | None = None
    env: str | None = None


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """Everything ``dockwright build`` takes, already parsed and checked for form.

    ``platforms`` empty means the host's platform. ``build_contexts`` maps a name used in
    ``FROM``/``COPY --from``/``--mount from=`` to a directory (``--build-context name=path``).
    ``source_date_epoch`` (None: unset) fixes image times and clamps new files' mtimes.
    """

    context: Path
    dockerfile: Path
    dockerfile_text: str | None = None
    target: str | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    platforms: tuple[Platform, ...] = ()
    secrets: tuple[SecretSource, ...] = ()
    ssh: tuple[str, ...] = ()
    build_contexts: Mapping[str, Path] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    network: Network = "host"
    no_cache: bool = False
    no_cache_filter: tuple[str, ...] = ()
    source_date_epoch: int | None = None
