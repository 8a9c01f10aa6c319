"""BuildKit's automatic platform ARGs (``dockerfile2llb/platform.go``'s ``defaultArgs``).

BuildKit sets these in the global scope of every build: usable in FROM lines, visible inside
a stage only when the stage re-declares them (``ARG TARGETARCH``). Platforms are shown the
way containerd normalises them, which is what BuildKit prints: ``linux/arm`` is
``linux/arm/v7``, while ``linux/arm64/v8`` is ``linux/arm64`` and ``linux/amd64/v1`` is
``linux/amd64`` (those variants are the architecture's default and are dropped).
"""

from __future__ import annotations

from dockwright.image.platform import Platform

__all__ = [
    "AUTOMATIC_ARGS",
    "DEFAULT_TARGET_STAGE",
    "buildkit_platform",
    "format_platform",
    "platform_args",
]

#: Every name BuildKit sets on its own, in the order ``defaultArgs`` sets them.
AUTOMATIC_ARGS: tuple[str, ...] = (
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDOSVERSION",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETOSVERSION",
    "TARGETARCH",
    "TARGETVARIANT",
    "TARGETSTAGE",
)

#: TARGETSTAGE when there is no ``--target`` and the last stage has no name.
DEFAULT_TARGET_STAGE = "default"

# containerd's normalizeArch drops the variant an architecture has by default, except arm's.
_DROPPED_VARIANTS = {"amd64": frozenset({"v1"}), "arm64": frozenset({"v8", "8", "v8.0"})}


def buildkit_platform(platform: Platform) -> Platform:
    """``platform`` normalised the way containerd's ``platforms.Normalize`` does it."""
    arch = platform.architecture
    variant = platform.variant
    if variant in _DROPPED_VARIANTS.get(arch, frozenset()):
        variant = ""
    elif arch == "arm" and variant in ("", "7"):
        variant = "v7"
    if variant == platform.variant:
        return platform
    return Platform(platform.os, arch, variant, platform.os_version, platform.os_features)


def format_platform(platform: Platform, *, with_os_version: bool = False) -> str:
    """``os/arch[/variant]`` (containerd's ``Format``); ``with_os_version`` adds the
    ``os(version)`` form of ``FormatAll``, as BuildKit uses for TARGETPLATFORM."""
    p = buildkit_platform(platform)
    os_part = f"{p.os}({p.os_version})" if with_os_version and p.os_version else p.os
    return "/".join(part for part in (os_part, p.architecture, p.variant) if part)


def platform_args(target: Platform, build: Platform, target_stage: str) -> dict[str, str]:
    """The automatic ARGs for a build of ``target_stage`` for ``target`` on ``build``.

    TARGETPLATFORM/TARGETOS/TARGETOSVERSION/TARGETARCH/TARGETVARIANT describe ``target``,
    the BUILD* names ``build`` (the builder's own platform), TARGETSTAGE is ``target_stage``
    (``default`` when empty). Empty values (a platform with no variant) are set, not absent,
    as in BuildKit: ``${TARGETVARIANT-x}`` is empty, ``${TARGETVARIANT:-x}`` is ``x``.
    """
    t, b = buildkit_platform(target), buildkit_platform(build)
    return {
        "BUILDPLATFORM": format_platform(b),
        "BUILDOS": b.os,
        "BUILDOSVERSION": b.os_version,
        "BUILDARCH": b.architecture,
        "BUILDVARIANT": b.variant,
        "TARGETPLATFORM": format_platform(t, with_os_version=True),
        "TARGETOS": t.os,
        "TARGETOSVERSION": t.os_version,
        "TARGETARCH": t.architecture,
        "TARGETVARIANT": t.variant,
        "TARGETSTAGE": target_stage or DEFAULT_TARGET_STAGE,
    }
