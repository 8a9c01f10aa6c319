"""hadolint's rules, side by side with dockwright's: each is covered by a rule or excluded.

:data:`HADOLINT` maps every hadolint rule code to the dockwright rule that reports the same
problem, or to the documented reason it is left out. The side-by-side test runs hadolint on
the fixtures and checks each of its findings against this table. Where the dockwright rule
judges the final image only, a hadolint finding in a builder stage is expected to stay
silent: that is :data:`FINAL_IMAGE_ONLY`.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["EXCLUDED", "FINAL_IMAGE_ONLY", "HADOLINT"]

_PINNING = (
    "excluded: pinning distribution package versions breaks the build as soon as the archive "
    "drops the old version; reproducibility comes from pinning the base image (DW101) and "
    "lock files"
)

EXCLUDED = "excluded"

HADOLINT: Mapping[str, str] = {
    "DL1001": "excluded: hadolint's own inline-ignore pragma",
    "DL3000": "DW106",
    "DL3001": "excluded: ssh/vim/service… in RUN are odd but neither break nor bloat the image",
    "DL3002": "DW107",
    "DL3003": "DW138",
    "DL3004": "DW137",
    "DL3005": "excluded: hadolint dropped it; upgrading packages is a security decision",
    "DL3006": "DW101",
    "DL3007": "DW101",
    "DL3008": _PINNING,
    "DL3009": "DW131",
    "DL3010": "excluded: contradicts DW139; COPY then an explicit RUN tar is clearer",
    "DL3011": "DW120",
    "DL3012": "DW108",
    "DL3013": _PINNING,
    "DL3014": "DW135",
    "DL3015": "DW130",
    "DL3016": _PINNING,
    "DL3018": _PINNING,
    "DL3019": "DW132",
    "DL3020": "DW139",
    "DL3021": "DW113",
    "DL3022": "DW102",
    "DL3023": "DW102",
    "DL3024": "DW103",
    "DL3025": "DW105",
    "DL3026": "excluded: a registry allow-list is site policy, not a Dockerfile mistake",
    "DL3027": "DW136",
    "DL3028": _PINNING,
    "DL3029": (
        "excluded: FROM --platform=$BUILDPLATFORM is how BuildKit cross-compiles; only a "
        "constant --platform is a mistake (DW004)"
    ),
    "DL3030": "DW135",
    "DL3032": "DW134",
    "DL3033": _PINNING,
    "DL3034": "DW135",
    "DL3035": "excluded: zypper dist-upgrade is a security decision",
    "DL3036": "DW134",
    "DL3037": _PINNING,
    "DL3038": "DW135",
    "DL3040": "DW134",
    "DL3041": _PINNING,
    "DL3042": "DW133",
    "DL3043": "excluded: ONBUILD FROM/MAINTAINER is refused by the parser (exit 2)",
    "DL3044": "DW121",
    "DL3045": (
        "excluded: a relative COPY destination resolves against the base image's WORKDIR, "
        "which is usually set on purpose"
    ),
    "DL3046": "DW140",
    "DL3047": "excluded: wget's progress output only fills the build log",
    "DL3048": "excluded: label key style",
    "DL3049": "excluded: label schema policy (off in hadolint by default)",
    "DL3050": "excluded: label schema policy (off in hadolint by default)",
    "DL3051": "excluded: label schema policy (off in hadolint by default)",
    "DL3052": "excluded: label schema policy (off in hadolint by default)",
    "DL3053": "excluded: label schema policy (off in hadolint by default)",
    "DL3054": "excluded: label schema policy (off in hadolint by default)",
    "DL3055": "excluded: label schema policy (off in hadolint by default)",
    "DL3056": "excluded: label schema policy (off in hadolint by default)",
    "DL3057": "excluded: a HEALTHCHECK is the orchestrator's business as often as the image's",
    "DL3058": "excluded: label schema policy (off in hadolint by default)",
    "DL3059": (
        "excluded: merging unrelated RUNs costs cache hits; the consecutive RUNs that cost "
        "bytes are a cleanup or chmod in a later layer (DW001, DW002)"
    ),
    "DL3060": "DW134",
    "DL3061": "excluded: an instruction before FROM is refused by the parser (exit 2)",
    "DL3062": _PINNING,
    "DL3064": "DW119",
    "DL3066": (
        "excluded: a named USER is resolved from the image's /etc/passwd; numeric ids matter "
        "only for Kubernetes' runAsNonRoot, which DW107 does not judge either"
    ),
    "DL4000": "DW109",
    "DL4001": "excluded: using both wget and curl costs little and breaks nothing",
    "DL4003": "DW108",
    "DL4004": "DW108",
    "DL4005": "excluded: replacing /bin/sh by a link is rare, and SHELL is the documented way",
    "DL4006": (
        "excluded: Debian's /bin/sh (dash) has no pipefail, so hadolint's fix breaks Debian "
        "images; the pipes whose failure matters (downloads piped to tar or sh) are DW008"
    ),
    "SC": "excluded: ShellCheck's script style, not the image; run shellcheck on scripts",
}

# dockwright rules that judge the final image's stages only (silent in builder stages).
FINAL_IMAGE_ONLY = frozenset(
    {
        "DW001",
        "DW002",
        "DW005",
        "DW105",
        "DW107",
        "DW130",
        "DW131",
        "DW132",
        "DW133",
        "DW134",
        "DW140",
    }
)
