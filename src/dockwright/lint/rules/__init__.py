"""The rule registry: every lint rule, as data, in the order they are documented.

DW001–DW008 are the mistakes that make images big, slow and unsafe that other linters miss;
DW101 onwards are BuildKit's build checks and the hadolint rules that matter for real images.
"""

from __future__ import annotations

from dockwright.lint.engine import LintContext
from dockwright.lint.findings import Rule
from dockwright.lint.rules.buildkit import (
    BASE_IMAGE_NOT_PINNED,
    DUPLICATE_STAGE_NAME,
    JSON_ARGS_RECOMMENDED,
    LAST_USER_ROOT,
    MAINTAINER_DEPRECATED,
    MULTIPLE_INSTRUCTIONS,
    RESERVED_STAGE_NAME,
    UNKNOWN_STAGE_REFERENCE,
    WORKDIR_RELATIVE_PATH,
)
from dockwright.lint.rules.context import (
    COPY_ALL_WITHOUT_DOCKERIGNORE,
    COPY_IGNORED_FILE,
    SOURCE_NOT_FOUND,
    SOURCE_OUTSIDE_CONTEXT,
)
from dockwright.lint.rules.downloads import DOWNLOAD_WITHOUT_CHECKSUM
from dockwright.lint.rules.hygiene import (
    ADD_INSTEAD_OF_COPY,
    APK_ADD_CACHE,
    APT_INSTALL_NO_YES,
    APT_INSTALL_RECOMMENDS,
    APT_LISTS_NOT_CLEANED,
    CD_IN_RUN,
    PACKAGE_CACHE_NOT_CLEANED,
    PIP_CACHE,
    SUDO_IN_RUN,
    USE_APT_GET,
    USERADD_HIGH_UID,
)
from dockwright.lint.rules.layers import CHMOD_AFTER_COPY, CLEANUP_IN_LATER_LAYER
from dockwright.lint.rules.platform import HARD_CODED_PLATFORM, REDUNDANT_TARGET_PLATFORM
from dockwright.lint.rules.style import (
    CONSISTENT_INSTRUCTION_CASING,
    COPY_DEST_NEEDS_SLASH,
    ENV_SELF_REFERENCE,
    EXPOSE_INVALID,
    FROM_AS_CASING,
    LEGACY_KEY_VALUE_FORMAT,
    SECRETS_IN_ARG_OR_ENV,
    STAGE_NAME_CASING,
)
from dockwright.lint.rules.toolchain import SOURCE_BEFORE_DEPENDENCIES, TOOLCHAIN_IN_FINAL_IMAGE
from dockwright.lint.rules.variables import UNDEFINED_VARIABLE

__all__ = ["ALL_RULES", "rule_by_id"]

ALL_RULES: tuple[Rule[LintContext], ...] = (
    # the mistakes other linters miss
    CLEANUP_IN_LATER_LAYER,
    CHMOD_AFTER_COPY,
    SOURCE_OUTSIDE_CONTEXT,
    HARD_CODED_PLATFORM,
    TOOLCHAIN_IN_FINAL_IMAGE,
    SOURCE_BEFORE_DEPENDENCIES,
    COPY_ALL_WITHOUT_DOCKERIGNORE,
    DOWNLOAD_WITHOUT_CHECKSUM,
    # BuildKit's build checks
    BASE_IMAGE_NOT_PINNED,
    UNKNOWN_STAGE_REFERENCE,
    DUPLICATE_STAGE_NAME,
    RESERVED_STAGE_NAME,
    JSON_ARGS_RECOMMENDED,
    WORKDIR_RELATIVE_PATH,
    LAST_USER_ROOT,
    MULTIPLE_INSTRUCTIONS,
    MAINTAINER_DEPRECATED,
    SOURCE_NOT_FOUND,
    COPY_IGNORED_FILE,
    UNDEFINED_VARIABLE,
    COPY_DEST_NEEDS_SLASH,
    STAGE_NAME_CASING,
    FROM_AS_CASING,
    REDUNDANT_TARGET_PLATFORM,
    CONSISTENT_INSTRUCTION_CASING,
    LEGACY_KEY_VALUE_FORMAT,
    SECRETS_IN_ARG_OR_ENV,
    EXPOSE_INVALID,
    ENV_SELF_REFERENCE,
    # package-manager and RUN hygiene (hadolint)
    APT_INSTALL_RECOMMENDS,
    APT_LISTS_NOT_CLEANED,
    APK_ADD_CACHE,
    PIP_CACHE,
    PACKAGE_CACHE_NOT_CLEANED,
    APT_INSTALL_NO_YES,
    USE_APT_GET,
    SUDO_IN_RUN,
    CD_IN_RUN,
    ADD_INSTEAD_OF_COPY,
    USERADD_HIGH_UID,
)


def rule_by_id(rule_id: str) -> Rule[LintContext] | None:
    """The rule with id ``rule_id`` (or name), if there is one."""
    for rule in ALL_RULES:
        if rule_id in (rule.id, rule.name):
            return rule
    return None
