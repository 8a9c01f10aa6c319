"""RUN's pieces that need no runner state: argv from shell/exec form and heredocs, BuildKit's
history text, and whether this machine can execute a platform's programs."""

from __future__ import annotations

from pathlib import Path

from dockwright.dockerfile import Run
from dockwright.dockerfile.heredoc import Heredoc, chomp
from dockwright.image.platform import Platform, host_platform
from dockwright.solve.state import StageState

# Architectures a host runs natively besides its own, and qemu's names for the others.
_NATIVE = {"amd64": {"386"}, "arm64": {"arm"}}
_QEMU = {"arm64": "aarch64", "amd64": "x86_64", "386": "i386", "arm": "arm", "ppc64le": "ppc64le",
         "s390x": "s390x", "riscv64": "riscv64", "mips64le": "mips64el"}  # fmt: skip


def emulation_problem(platform: Platform) -> str | None:
    """Why RUN cannot execute ``platform``'s programs here (None when it can)."""
    host = host_platform().architecture
    arch = platform.architecture
    if arch == host or arch in _NATIVE.get(host, set()):
        return None
    name = _QEMU.get(arch, arch)
    handler = Path("/proc/sys/fs/binfmt_misc") / f"qemu-{name}"
    try:
        enabled = handler.read_text(encoding="utf-8").splitlines()[0] == "enabled"
    except (OSError, IndexError):
        enabled = False
    if enabled:
        return None
    return (
        f"RUN for {platform} needs emulation on this {host} machine, and no binfmt_misc "
        f"handler for qemu-{name} is registered"
    )


def _heredoc_text(doc: Heredoc) -> str:
    """A heredoc's body, with leading tabs stripped for ``<<-``."""
    return chomp(doc.content) if doc.chomp else doc.content


def run_args(state: StageState, instr: Run) -> tuple[str, ...]:
    """The argv of a RUN: exec form as is; shell form (a lone heredoc as the script, heredocs
    after a command appended for the shell to read) through the stage's SHELL."""
    command = instr.command
    if command.exec_form:
        return tuple(command.args)
    text = " ".join(command.args)
    if instr.heredocs:
        docs = instr.heredocs
        name = docs[0].name
        alone = (f"<<{name}", f"<<-{name}", f"<<'{name}'", f'<<"{name}"')
        if len(docs) == 1 and text.strip() in alone:
            return (*state.shell, _heredoc_text(docs[0]))
        script = text
        for doc in docs:
            script += "\n" + _heredoc_text(doc) + doc.name
        return (*state.shell, script)
    return (*state.shell, text)


def history_run(state: StageState, args: tuple[str, ...]) -> str:
    """BuildKit's history text: ``RUN |N K=V ... argv # buildkit`` (the ARG values in use)."""
    with_values = [(k, v) for k, v in state.args.items() if v is not None and k not in state.env]
    prefix = ""
    if with_values:
        prefix = f"|{len(with_values)} " + " ".join(f"{k}={v}" for k, v in with_values) + " "
    return f"RUN {prefix}{' '.join(args)} # buildkit"
