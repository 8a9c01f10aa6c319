"""Platforms (``os/arch[/variant]``): parsing, normalisation and matching like containerd's."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from dockwright.errors import PlatformError

# The command line's start-up path imports this module: typing is for the checker only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Self

# Spellings people and tools use for an architecture → the OCI/Go name.
_ARCH_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "x64": "amd64",
    "aarch64": "arm64",
    "armhf": "arm",
    "armel": "arm",
    "i386": "386",
    "i686": "386",
    "x86": "386",
}
# An alias that also fixes the variant.
_ALIAS_VARIANT = {"armhf": "v7", "armel": "v6"}

KNOWN_OS = ("linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "solaris", "illumos")
KNOWN_ARCH = (
    "amd64",
    "arm64",
    "arm",
    "386",
    "ppc64le",
    "ppc64",
    "s390x",
    "riscv64",
    "mips64le",
    "mips64",
    "mipsle",
    "mips",
    "loong64",
    "wasm",
)
_VARIANTS: Mapping[str, tuple[str, ...]] = {
    "arm": ("v5", "v6", "v7", "v8"),
    "arm64": ("v8", "v8.1", "v8.2", "v8.3", "v8.4", "v8.5", "v8.6", "v8.7", "v8.8", "v9"),
    "amd64": ("v1", "v2", "v3", "v4"),
    "riscv64": ("rva20u64", "rva22u64"),
}
# The variant a platform has when none is written: matching treats the two spellings as one.
_DEFAULT_VARIANT = {"arm": "v7", "arm64": "v8", "amd64": "v1"}


@dataclass(frozen=True, slots=True)
class Platform:
    """An OCI platform; build one with :meth:`parse` to get normalised fields."""

    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse ``os/arch[/variant]`` or a bare ``arch`` (Linux assumed) and normalise it.

        ``x86_64`` becomes ``amd64``, ``aarch64`` becomes ``arm64``, ``arm/7`` becomes
        ``arm/v7``; an unknown OS, architecture or variant raises :class:`PlatformError`
        listing the valid spellings.
        """
        raw = text.strip()
        parts = raw.lower().split("/")
        if not raw or len(parts) > 3 or any(not p for p in parts):
            raise PlatformError(
                f"invalid platform {text!r}: expected os/arch[/variant] such as linux/arm64",
                hint=f"valid examples: {', '.join(COMMON_PLATFORMS)}",
            )
        if len(parts) == 1:
            if parts[0] in KNOWN_OS:
                parts = [parts[0], host_platform().architecture]
            else:
                parts = ["linux", parts[0]]
        os_name, arch = parts[0], parts[1]
        variant = parts[2] if len(parts) == 3 else ""
        return cls.from_fields(os_name, arch, variant, source=text)

    @classmethod
    def from_fields(
        cls, os_name: str, architecture: str, variant: str = "", *, source: str | None = None
    ) -> Self:
        """Normalise separate fields, as found in an image config or index entry."""
        shown = (
            source
            if source is not None
            else "/".join(p for p in (os_name, architecture, variant) if p)
        )
        os_name = os_name.lower()
        if os_name == "macos":
            os_name = "darwin"
        if os_name not in KNOWN_OS:
            raise PlatformError(
                f"unknown operating system {os_name!r} in platform {shown!r}",
                hint=f"valid: {', '.join(KNOWN_OS)}",
            )
        arch_in = architecture.lower()
        arch = _ARCH_ALIASES.get(arch_in, arch_in)
        if arch not in KNOWN_ARCH:
            raise PlatformError(
                f"unknown architecture {architecture!r} in platform {shown!r}",
                hint=f"valid: {', '.join(KNOWN_ARCH)}",
            )
        variant = variant.lower() or _ALIAS_VARIANT.get(arch_in, "")
        if variant and not variant.startswith("v") and variant[0].isdigit():
            variant = "v" + variant
        if variant == "v8.0":
            variant = "v8"
        allowed = _VARIANTS.get(arch, ())
        if variant and variant not in allowed:
            choices = ", ".join(f"{os_name}/{arch}/{v}" for v in allowed) or f"{os_name}/{arch}"
            raise PlatformError(
                f"unknown variant {variant!r} for {arch} in platform {shown!r}",
                hint=f"valid: {choices}",
            )
        if arch == "arm" and not variant:
            variant = "v7"
        return cls(os_name, arch, variant)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Platform:
        """Read the ``platform`` object of an index entry (fields kept as written)."""
        return Platform(
            os=str(obj.get("os", "")),
            architecture=str(obj.get("architecture", "")),
            variant=str(obj.get("variant", "")),
            os_version=str(obj.get("os.version", "")),
            os_features=tuple(str(f) for f in obj.get("os.features", ()) or ()),
        )

    def to_json(self) -> dict[str, Any]:
        """The ``platform`` object for an index entry."""
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        return out

    def normalized(self) -> Platform:
        """This platform with aliases resolved and the default variant made explicit."""
        try:
            base = Platform.from_fields(self.os, self.architecture, self.variant)
        except PlatformError:
            base = self
        variant = base.variant or _DEFAULT_VARIANT.get(base.architecture, "")
        return replace(base, variant=variant, os_version=self.os_version)

    def matches(self, other: Platform) -> bool:
        """True when an image made for ``other`` is exactly right for this platform.

        Aliases and default variants are equal (``arm64`` ≡ ``arm64/v8``, ``arm`` ≡
        ``arm/v7``), as in containerd's matcher.
        """
        a, b = self.normalized(), other.normalized()
        return (a.os, a.architecture, a.variant) == (b.os, b.architecture, b.variant)

    def compatible(self, other: Platform) -> bool:
        """True when a machine of this platform can run an image made for ``other``.

        An ``arm/v7`` machine runs ``v6`` and ``v5`` images, an ``amd64/v3`` machine runs
        ``v1``–``v3`` images; exact matches always qualify.
        """
        a, b = self.normalized(), other.normalized()
        if (a.os, a.architecture) != (b.os, b.architecture):
            return False
        order = _VARIANTS.get(a.architecture, ())
        if a.variant in order and b.variant in order:
            return order.index(b.variant) <= order.index(a.variant)
        return a.variant == b.variant

    def __str__(self) -> str:
        parts = [self.os, self.architecture]
        if self.variant:
            parts.append(self.variant)
        return "/".join(parts)


def host_platform() -> Platform:
    """The platform of the machine running dockwright."""
    uname = os.uname()
    machine = uname.machine or "amd64"
    system = uname.sysname.lower() or "linux"
    return Platform.from_fields(system, machine)


def best_match(wanted: Platform, candidates: Iterable[Platform]) -> int | None:
    """Index of the candidate that best fits ``wanted``: an exact match, else the newest
    compatible variant; ``None`` when nothing fits."""
    exact: int | None = None
    compatible: list[tuple[int, int]] = []
    for i, cand in enumerate(candidates):
        if wanted.matches(cand):
            if exact is None:
                exact = i
        elif wanted.compatible(cand):
            norm = cand.normalized()
            order = _VARIANTS.get(norm.architecture, ())
            rank = order.index(norm.variant) if norm.variant in order else -1
            compatible.append((rank, i))
    if exact is not None:
        return exact
    if compatible:
        return max(compatible)[1]
    return None


def parse_platforms(text: str) -> list[Platform]:
    """Parse a comma-separated ``--platform`` list, dropping duplicates, keeping order."""
    out: list[Platform] = []
    for item in text.split(","):
        if not item.strip():
            continue
        plat = Platform.parse(item)
        if not any(plat.matches(p) for p in out):
            out.append(plat)
    if not out:
        raise PlatformError(
            "empty --platform list", hint=f"valid examples: {', '.join(COMMON_PLATFORMS)}"
        )
    return out


COMMON_PLATFORMS = (
    "linux/amd64",
    "linux/arm64",
    "linux/arm/v7",
    "linux/arm/v6",
    "linux/386",
    "linux/ppc64le",
    "linux/s390x",
    "linux/riscv64",
)
