"""Package-manager and RUN hygiene: the hadolint rules that matter for real images.

Rules about what stays in the image (caches, recommended packages) judge the final image's
stages only: a builder stage's apt lists never ship, so hadolint's most common false alarm
does not happen here. Rules about builds that break or misbehave judge every stage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from dockwright.dockerfile import Add, Run
from dockwright.lint.copies import ARCHIVE, is_url
from dockwright.lint.engine import LintContext, Step
from dockwright.lint.facts import PathRef, RunFacts
from dockwright.lint.findings import Finding, Rule, Severity
from dockwright.lint.paths import covers

__all__ = [
    "ADD_INSTEAD_OF_COPY",
    "APK_ADD_CACHE",
    "APT_INSTALL_NO_YES",
    "APT_INSTALL_RECOMMENDS",
    "APT_LISTS_NOT_CLEANED",
    "CD_IN_RUN",
    "PACKAGE_CACHE_NOT_CLEANED",
    "PIP_CACHE",
    "SUDO_IN_RUN",
    "USERADD_HIGH_UID",
    "USE_APT_GET",
]


def _final_runs(ctx: LintContext) -> Iterator[tuple[Step, Run, RunFacts]]:
    for step in ctx.chain_steps():
        if isinstance(step.instruction, Run):
            yield step, step.instruction, ctx.run_facts(step.instruction)


def _all_runs(ctx: LintContext) -> Iterator[tuple[Step, Run, RunFacts]]:
    for step in ctx.all_steps():
        if isinstance(step.instruction, Run):
            yield step, step.instruction, ctx.run_facts(step.instruction)


def _left(facts: RunFacts, created: PathRef) -> bool:
    """Whether a cache the RUN created is still there when it ends (a layer keeps it)."""
    if any(covers(m, created.path) for m in facts.cache_mounts):
        return False
    return not any(
        covers(r.path, created.path) or covers(created.path, r.path) for r in facts.removed
    )


def _cache_rule(
    rule_id: str,
    name: str,
    doc: str,
    matches: Callable[[PathRef], bool],
    advice: str,
) -> Rule[LintContext]:
    def check(ctx: LintContext) -> Iterator[Finding]:
        for step, run, facts in _final_runs(ctx):
            for created in facts.created:
                if matches(created) and _left(facts, created):
                    message = (
                        f"`{created.command}` leaves {created.what} in the image: this layer "
                        "keeps it"
                    )
                    yield ctx.finding(rule, run, message, stage=step.stage, fix=advice)
                    break

    rule: Rule[LintContext] = Rule(rule_id, name, Severity.WARNING, doc, check)
    return rule


APT_LISTS_NOT_CLEANED = _cache_rule(
    "DW131",
    "apt-lists-not-cleaned",
    "hadolint DL3009: `apt-get update` without `rm -rf /var/lib/apt/lists/*` in the same RUN "
    "leaves tens of MB of package lists in the layer. Final image only.",
    lambda c: c.path == "/var/lib/apt/lists",
    "end the same RUN with `&& rm -rf /var/lib/apt/lists/*` (or use a cache mount)",
)
APK_ADD_CACHE = _cache_rule(
    "DW132",
    "apk-add-cache",
    "hadolint DL3019: `apk add`/`apk update` without --no-cache leaves the package index in "
    "/var/cache/apk. Final image only.",
    lambda c: c.path == "/var/cache/apk",
    "use `apk add --no-cache …` (no `apk update` needed)",
)
PIP_CACHE = _cache_rule(
    "DW133",
    "pip-cache",
    "hadolint DL3042: `pip install` without --no-cache-dir (or PIP_NO_CACHE_DIR) keeps the "
    "downloaded wheels in the layer. Final image only.",
    lambda c: c.what.startswith("pip's"),
    "use `pip install --no-cache-dir …` or a cache mount (RUN --mount=type=cache,"
    "target=/root/.cache/pip)",
)
PACKAGE_CACHE_NOT_CLEANED = _cache_rule(
    "DW134",
    "package-cache-not-cleaned",
    "hadolint DL3032/DL3036/DL3040/DL3060: yum, dnf, zypper or yarn installs without "
    "cleaning their cache in the same RUN. Final image only.",
    lambda c: (
        c.path in ("/var/cache/yum", "/var/cache/dnf", "/var/cache/zypp")
        or c.what.startswith("yarn's")
    ),
    "clean in the same RUN (`yum clean all`, `dnf clean all`, `zypper clean`, `yarn cache "
    "clean`) or use a cache mount",
)


def _check_recommends(ctx: LintContext) -> Iterator[Finding]:
    for step, run, facts in _final_runs(ctx):
        for op in facts.packages:
            if op.manager != "apt" or op.action != "install" or not op.packages:
                continue
            words = " ".join(op.command.args())
            if "--no-install-recommends" in words or "Install-Recommends=" in words:
                continue
            message = (
                f"`{op.command.text}` also installs every package the listed ones recommend: "
                "often more than they need"
            )
            fix = "add --no-install-recommends (and install what is really needed explicitly)"
            yield ctx.finding(APT_INSTALL_RECOMMENDS, run, message, stage=step.stage, fix=fix)
            break


APT_INSTALL_RECOMMENDS: Rule[LintContext] = Rule(
    id="DW130",
    name="apt-install-recommends",
    severity=Severity.INFO,
    doc="hadolint DL3015: apt-get install without --no-install-recommends. Final image only.",
    check=_check_recommends,
)

_YES = frozenset(
    {
        "-y",
        "--yes",
        "--assume-yes",
        "--assumeyes",
        "-qq",
        "-q=2",
        "--force-yes",
        "-n",
        "--non-interactive",
        "--no-confirm",
    }
)
_PROMPTING = frozenset({"apt", "apt-get", "aptitude", "yum", "dnf", "zypper"})


def _check_yes(ctx: LintContext) -> Iterator[Finding]:
    for step, run, facts in _all_runs(ctx):
        for op in facts.packages:
            command = op.command
            if command.name not in _PROMPTING or not op.packages or op.manager == "pip":
                continue
            args = command.args()
            short = any(
                a.startswith("-") and not a.startswith("--") and ("y" in a or a == "-n")
                for a in args
            )
            if short or _YES & set(args) or "Assume-Yes" in " ".join(args) or command.pipe_in:
                continue
            message = (
                f"`{command.text}` asks for confirmation, and a build has no one to answer: "
                f"{command.name} aborts"
            )
            fix = "add -n (zypper) or -y" if command.name == "zypper" else "add -y"
            yield ctx.finding(APT_INSTALL_NO_YES, run, message, stage=step.stage, fix=fix)
            break


APT_INSTALL_NO_YES: Rule[LintContext] = Rule(
    id="DW135",
    name="package-install-no-yes",
    severity=Severity.WARNING,
    doc=(
        "hadolint DL3014, DL3030, DL3034, DL3038: apt-get, yum, dnf or zypper installing or "
        "removing packages without -y (zypper: -n) stops at the prompt and the build fails."
    ),
    check=_check_yes,
)


def _command_rule(
    rule_id: str,
    name: str,
    severity: Severity,
    doc: str,
    *,
    test: Callable[[RunFacts], str | None],
    fix: str,
    final_only: bool = False,
) -> Rule[LintContext]:
    def check(ctx: LintContext) -> Iterator[Finding]:
        runs = _final_runs(ctx) if final_only else _all_runs(ctx)
        for step, run, facts in runs:
            message = test(facts)
            if message is not None:
                yield ctx.finding(rule, run, message, stage=step.stage, fix=fix)

    rule: Rule[LintContext] = Rule(rule_id, name, severity, doc, check)
    return rule


def _uses_apt(facts: RunFacts) -> str | None:
    for c in facts.commands:
        if c.name == "apt" and c.args()[:1] != ("list",):
            return f"`{c.text}`: apt is for people; its interface may change between releases"
    return None


def _uses_sudo(facts: RunFacts) -> str | None:
    for c in facts.commands:
        if c.sudo:
            return (
                f"`{c.text}` uses sudo: RUN already runs as the stage's USER, and sudo "
                "adds a tty/PAM dependency"
            )
    return None


def _uses_cd(facts: RunFacts) -> str | None:
    for c in facts.commands:
        if c.name == "cd" and c.args() and c.args()[0] != "-":
            return f"`{c.text}` changes directory for this RUN only"
    return None


USE_APT_GET = _command_rule(
    "DW136",
    "use-apt-get",
    Severity.WARNING,
    "hadolint DL3027: use apt-get (stable interface for scripts) rather than apt.",
    test=_uses_apt,
    fix="use apt-get",
)
SUDO_IN_RUN = _command_rule(
    "DW137",
    "sudo-in-run",
    Severity.WARNING,
    "hadolint DL3004: sudo in RUN; switch USER instead.",
    test=_uses_sudo,
    fix="drop sudo; use USER root … USER app around the steps that need it",
)
CD_IN_RUN = _command_rule(
    "DW138",
    "cd-in-run",
    Severity.INFO,
    "hadolint DL3003: `cd` in RUN; WORKDIR states the directory once for what follows.",
    test=_uses_cd,
    fix="use WORKDIR <dir> before the RUN",
)


def _check_add(ctx: LintContext) -> Iterator[Finding]:
    for step in ctx.all_steps():
        add = step.instruction
        if not isinstance(add, Add) or add.heredoc_sources:
            continue
        local = [s for s in add.sources if not is_url(s) and not ARCHIVE.search(s)]
        if local and len(local) == len(add.sources) and not any("$" in s for s in local):
            message = (
                f"ADD of local {' '.join(local)}: ADD also unpacks archives and fetches URLs, "
                "COPY does exactly the copy"
            )
            yield ctx.finding(ADD_INSTEAD_OF_COPY, add, message, stage=step.stage, fix="use COPY")


ADD_INSTEAD_OF_COPY: Rule[LintContext] = Rule(
    id="DW139",
    name="add-instead-of-copy",
    severity=Severity.WARNING,
    doc="hadolint DL3020: ADD for local files that are not archives; COPY is explicit.",
    check=_check_add,
)


def _high_uid(facts: RunFacts) -> str | None:
    for c in facts.commands:
        if c.name != "useradd" or any(a in ("-l", "--no-log-init") for a in c.args()):
            continue
        uid = None
        args = c.args()
        for index, arg in enumerate(args):
            if arg in ("-u", "--uid") and index + 1 < len(args):
                uid = args[index + 1]
            elif arg.startswith("--uid="):
                uid = arg.split("=", 1)[1]
        if uid is not None and uid.isdecimal() and int(uid) >= 65536:
            return (
                f"`{c.text}` without -l writes a lastlog entry at offset {uid}: a sparse "
                "file that the layer stores at full size"
            )
    return None


USERADD_HIGH_UID = _command_rule(
    "DW140",
    "useradd-high-uid",
    Severity.WARNING,
    "hadolint DL3046: useradd with a high UID and without -l (--no-log-init) grows "
    "/var/log/lastlog to gigabytes in the layer. Final image only.",
    test=_high_uid,
    fix="add -l (--no-log-init) to useradd",
    final_only=True,
)
