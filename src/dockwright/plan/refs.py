"""Stage references: what ``FROM x``, ``COPY --from=x`` and ``RUN --mount=from=x`` name.

BuildKit resolves the three differently (``dockerfile2llb/convert.go``):

- ``FROM x`` is a stage only when an *earlier* stage is named exactly ``x`` (names are
  lowercase; ``FROM Builder`` is then an image reference, and an invalid one). A later stage
  or an index is never meant: ``FROM 0`` pulls an image called ``0``, and ``FROM app AS app``
  builds on the image ``app``.
- ``COPY --from=x``: a number (Go's ``strconv.Atoi``: optional sign, decimal digits) is a
  stage index, and one out of range is an error; otherwise a stage name compared without
  case, the last stage of that name when several share it; otherwise an image. ``--from``
  takes no variables. A later stage is an error when the copying stage runs.
- ``RUN --mount=…,from=x``: a stage name compared without case, else an image; never an
  index. Tmpfs, secret and ssh mounts read nothing; a cache mount without ``from`` starts
  empty (BuildKit's implicit ``scratch``, not listed here).

Every image named this way must be a valid reference (BuildKit parses them all, for stages
that run or not), except ``scratch``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from dockwright.dockerfile import Copy, Dockerfile, Instruction, Onbuild, Run, go_quote
from dockwright.dockerfile.shell import ExpansionError, Lexer
from dockwright.errors import DockerfileError, InvalidReferenceError
from dockwright.image.reference import Reference
from dockwright.plan.locate import located

__all__ = ["SCRATCH", "Read", "Resolver", "check_image_name", "stage_display_name"]

SCRATCH = "scratch"
_ATOI = re.compile(r"[+-]?[0-9]+")
_INT64_MAX = 2**63 - 1
_NO_SOURCE_MOUNTS = frozenset({"tmpfs", "secret", "ssh"})

ReadKind = Literal["copy", "mount"]


@dataclass(frozen=True, slots=True)
class Read:
    """One stage or image an instruction reads: a stage ``index`` or an ``image`` name."""

    kind: ReadKind
    written: str
    instruction: Instruction
    index: int | None = None
    image: str | None = None


def stage_display_name(dockerfile: Dockerfile, index: int) -> str:
    """The stage's name, or BuildKit's ``stage-N`` for an unnamed one."""
    return dockerfile.stages[index].name or f"stage-{index}"


def check_image_name(
    dockerfile: Dockerfile, instruction: Instruction, name: str, *, needle: str, prefix: str = ""
) -> None:
    """Raise a located error when ``name`` (not ``scratch``) is not a valid image reference,
    as BuildKit does with ``failed to parse stage name``; the hint names a stage the user may
    have meant (``FROM Builder`` for the stage ``builder``)."""
    if name == SCRATCH:
        return
    try:
        Reference.parse(name)
    except InvalidReferenceError as exc:
        hint = exc.hint
        for stage in dockerfile.stages:
            if stage.name is not None and stage.name == name.lower():
                hint = f"stage names are lowercase: write {stage.name!r}"
                break
        raise located(
            dockerfile,
            instruction,
            f"failed to parse stage name {go_quote(name)}: {exc.message}",
            needle=needle,
            prefix=prefix,
            hint=hint,
        ) from exc


class Resolver:
    """Resolves the references of one Dockerfile's instructions (stage names looked up once)."""

    def __init__(self, dockerfile: Dockerfile) -> None:
        self.dockerfile = dockerfile
        self.lexer = Lexer(dockerfile.escape)
        # BuildKit's statesByName once every stage is registered: the last of a name wins.
        self.names = {s.name: s.index for s in dockerfile.stages if s.name is not None}

    def _named(self, name: str) -> int | None:
        return self.names.get(name.lower())

    def _copy_read(self, copy: Copy) -> Read | None:
        dockerfile, written = self.dockerfile, copy.from_
        if not written:
            return None
        try:
            literal = self.lexer.process(written, {}).value == written
        except ExpansionError:
            literal = False
        if not literal:
            raise located(
                dockerfile,
                copy,
                "variable expansion is not supported for --from, define a new stage with FROM "
                "using ARG from global scope as a workaround",
                needle=written,
                prefix="--from=",
                hint="add 'FROM ${IMAGE} AS src' after a global 'ARG IMAGE', then COPY --from=src",
            )
        digits = written.lstrip("+-").lstrip("0") or "0"
        if _ATOI.fullmatch(written) and len(digits) <= 19 and int(digits) <= _INT64_MAX:
            number = int(written)
            if not 0 <= number < len(dockerfile.stages):
                raise located(
                    dockerfile,
                    copy,
                    f"invalid stage index {number}",
                    needle=written,
                    prefix="--from=",
                    hint=f"stage indexes go from 0 to {len(dockerfile.stages) - 1}",
                )
            return Read("copy", written, copy, index=number)
        index = self._named(written)
        if index is not None:
            return Read("copy", written, copy, index=index)
        check_image_name(dockerfile, copy, written, needle=written, prefix="--from=")
        return Read("copy", written, copy, image=written)

    def _mount_reads(self, run: Run) -> Iterator[Read]:
        for mount in run.mounts:
            source_type = "type" in mount.deferred or mount.type not in _NO_SOURCE_MOUNTS
            if not mount.from_ or not source_type:
                continue
            index = self._named(mount.from_)
            if index is not None:
                yield Read("mount", mount.from_, run, index=index)
            else:
                check_image_name(
                    self.dockerfile, run, mount.from_, needle=mount.from_, prefix="from="
                )
                yield Read("mount", mount.from_, run, image=mount.from_)

    def reads_of(self, instruction: Instruction) -> list[Read]:
        """The stages and images ``instruction`` reads (a COPY's ``--from``, a RUN's mounts).

        Raises a located :class:`~dockwright.errors.DockerfileError` for what BuildKit
        rejects while building its stage graph: variables in ``--from``, an index out of
        range, an invalid image name.
        """
        if isinstance(instruction, Copy):
            read = self._copy_read(instruction)
            return [] if read is None else [read]
        if isinstance(instruction, Run):
            return list(self._mount_reads(instruction))
        return []

    def trigger_reads(self, base: int) -> tuple[list[Read], DockerfileError | None]:
        """What the ONBUILD triggers of stage ``base`` read when they fire in a child stage.

        BuildKit parses triggers only for stages that run, so an error is returned, not
        raised: the caller raises it if the child turns out to run.
        """
        reads: list[Read] = []
        for instruction in self.dockerfile.stages[base].instructions:
            if not isinstance(instruction, Onbuild):
                continue
            try:
                for read in self.reads_of(instruction.inner):
                    # Located at the ONBUILD line that holds the trigger.
                    reads.append(
                        Read(
                            read.kind, read.written, instruction, index=read.index, image=read.image
                        )
                    )
            except DockerfileError as exc:
                return reads, exc
        return reads, None
