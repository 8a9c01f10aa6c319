"""One stage's run: its start (FROM), ONBUILD triggers, then one dispatch per instruction."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from dockwright.dockerfile import (
    Add,
    Arg,
    Cmd,
    Copy,
    Dockerfile,
    Entrypoint,
    Env,
    Expose,
    Healthcheck,
    Instruction,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    Stopsignal,
    User,
    Volume,
    Workdir,
    parse_dockerfile,
)
from dockwright.dockerfile.mounts import MountError, parse_mount
from dockwright.dockerfile.shell import ExpansionError, Lexer
from dockwright.errors import BuildError, DockerfileError, DockwrightError
from dockwright.image.model import empty_config
from dockwright.image.platform import Platform, parse_platforms
from dockwright.plan import BuildGraph
from dockwright.sandbox import ProcessSpec, resolve_user, run_checked
from dockwright.sandbox.users import in_root
from dockwright.solve import meta
from dockwright.solve.commit import StepLayer
from dockwright.solve.events import StepEvent
from dockwright.solve.mounts import MountPreparer, Redactor, prepared
from dockwright.solve.runstep import emulation_problem, history_run, run_args
from dockwright.solve.state import StageState, env_dict, key_of

if TYPE_CHECKING:
    from dockwright.solve.builder import Builder
    from dockwright.solve.copying import CopyRequest, SourceTree

SCRATCH = "scratch"
_FS_STEPS = (Run, Copy, Add, Workdir)


def make_dirs(root: Path, path: str, owner: tuple[int, int] | None = None) -> None:
    """``mkdir -p path`` inside ``root``: new directories 0755, owned by ``owner`` (uid, gid;
    root when None), as BuildKit makes WORKDIR's for the current USER."""
    parts = [p for p in path.split("/") if p not in ("", ".", "..")]
    for depth in range(1, len(parts) + 1):
        current = in_root(root, "/".join(parts[:depth]))
        if not os.path.lexists(current):
            current.mkdir(mode=0o755)
            os.chmod(current, 0o755)  # noqa: S103 - image directories are 0755, as BuildKit makes them
            if owner is not None and owner != (0, 0):
                os.lchown(current, owner[0], owner[1])


class StageRunner:
    """Runs one stage of one platform's build."""

    def __init__(  # noqa: PLR0917 - one runner per (build, stage): all six are needed
        self,
        builder: Builder,
        dockerfile: Dockerfile,
        graph: BuildGraph,
        index: int,
        states: dict[int, StageState],
        target_platform: Platform,
    ) -> None:
        self.b = builder
        self.df = dockerfile
        self.graph = graph
        self.index = index
        self.node = graph.stages[index]
        self.states = states
        self.stage = dockerfile.stages[index]
        self.target_platform = target_platform
        self.lexer = Lexer(dockerfile.escape)
        self.name = self.node.display_name
        self.cmd_set = False
        self._total = 1 + sum(isinstance(i, _FS_STEPS) for i in self.stage.instructions)
        self._position = 0

    # -- helpers ---------------------------------------------------------------------------

    def _located(
        self, instr: Instruction, message: str, hint: str | None = None
    ) -> DockerfileError:
        return DockerfileError(message, file=self.df.file, line=instr.start_line, hint=hint)

    def _expander(self, state: StageState, instr: Instruction) -> Callable[[str], str]:
        env = state.expansion_env()

        def expand(text: str) -> str:
            try:
                return self.lexer.expand(text, env)
            except ExpansionError as exc:
                raise self._located(instr, str(exc)) from exc

        return expand

    def _label(self, instr: Instruction) -> str:
        self._position += 1
        text = instr.original.strip() or instr.keyword
        return f"[{self.name} {self._position}/{self._total}] {text}"

    def _owner(self, state: StageState, root: Path, instr: Instruction) -> tuple[int, int] | None:
        if not state.run.user:
            return None
        try:
            user = resolve_user(root, state.run.user)
        except DockwrightError as exc:
            raise self._located(instr, exc.message, exc.hint) from exc
        return user.uid, user.gid

    def _platform(self) -> Platform:
        if self.node.platform:
            try:
                return parse_platforms(self.node.platform)[0]
            except DockwrightError as exc:
                raise DockerfileError(
                    f"FROM --platform={self.node.platform}: {exc.message}",
                    file=self.df.file,
                    line=self.node.start_line,
                ) from exc
        return self.target_platform

    # -- FROM ------------------------------------------------------------------------------

    def _start(self) -> StageState:
        node = self.node
        platform = self._platform()
        self._position += 1
        label = f"[{self.name} {self._position}/{self._total}] FROM {node.base}"
        step = self.b.next_step(label)
        started = time.monotonic()
        self.b.emit(StepEvent("start", step, label))
        if node.base_stage is not None:
            base = self.states[node.base_stage]
            state = StageState(
                name=self.name,
                index=self.index,
                platform=base.platform,
                config=base.config,
                layers=list(base.layers),
                key=base.key,
                env=dict(base.env),
                args=dict(base.args),
                onbuild=list(base.onbuild),
                last_created=base.last_created,
            )
        elif node.base.lower() == SCRATCH:
            config = empty_config(platform)
            config = replace(config, config=replace(config.config, working_dir="/"))
            state = StageState(
                name=self.name,
                index=self.index,
                platform=platform,
                config=config,
                layers=[],
                key=key_of("scratch", str(platform)),
                env=env_dict(config.config.env),
            )
        else:
            try:
                image = self.b.resolve_image(node.base, platform)
            except DockwrightError as exc:
                raise DockerfileError(
                    f"FROM {node.base}: {exc.message}",
                    file=self.df.file,
                    line=node.start_line,
                    hint=exc.hint,
                ) from exc
            config = image.config
            if len(config.diff_ids) != len(image.layers):
                raise DockerfileError(
                    f"FROM {node.base}: the image's config lists {len(config.diff_ids)} "
                    f"layers but its manifest {len(image.layers)}",
                    file=self.df.file,
                    line=node.start_line,
                )
            state = StageState(
                name=self.name,
                index=self.index,
                platform=platform,
                config=config,
                layers=list(image.layers),
                key=key_of("image", str(image.manifest), str(platform)),
                env=env_dict(config.config.env),
                onbuild=list(config.config.on_build),
                last_created=config.created,
            )
        # Resolving a base is metadata only (its layers unpack when a step needs them).
        self.b.count_cached()
        self.b.emit(StepEvent("cached", step, label, seconds=time.monotonic() - started))
        return state

    def _triggers(self, state: StageState) -> list[Instruction]:
        triggers: list[Instruction] = []
        for text in state.onbuild:
            try:
                parsed = parse_dockerfile(f"FROM scratch\n{text}\n", file=self.df.file)
            except DockerfileError as exc:
                raise DockerfileError(
                    f"ONBUILD trigger {text!r} of the base image: {exc.message}",
                    file=self.df.file,
                    line=self.node.start_line,
                ) from exc
            for instr in parsed.stages[0].instructions:
                triggers.append(
                    replace(instr, start_line=self.node.start_line, end_line=self.node.start_line)
                )
        state.onbuild = []
        state.set_run(replace(state.run, on_build=()))
        return triggers

    # -- the stage -------------------------------------------------------------------------

    def run(self) -> StageState:
        """Run the stage; return its final state."""
        state = self._start()
        triggers = self._triggers(state)
        self._total += sum(isinstance(i, _FS_STEPS) for i in triggers)
        for instr in (*triggers, *self.stage.instructions):
            self._dispatch(state, instr)
        return state

    def _dispatch(self, state: StageState, instr: Instruction) -> None:
        if isinstance(instr, Run):
            self._run(state, instr)
        elif isinstance(instr, Copy | Add):
            self._copy(state, instr)
        elif isinstance(instr, Workdir):
            self._workdir(state, instr)
        else:
            self._meta(state, instr)

    def _meta(self, state: StageState, instr: Instruction) -> None:
        expand = self._expander(state, instr)
        env = state.expansion_env()
        if isinstance(instr, Arg):
            text = meta.apply_arg(state, instr, expand, self.graph.build_args, self.graph.args)
        elif isinstance(instr, Env):
            text = meta.apply_env(state, instr, expand)
        elif isinstance(instr, Label):
            text = meta.apply_label(state, instr, expand)
        elif isinstance(instr, User):
            text = meta.apply_user(state, instr, expand)
        elif isinstance(instr, Expose):
            text = meta.apply_expose(state, instr, self.lexer, env)
        elif isinstance(instr, Volume):
            text = meta.apply_volume(state, instr, self.lexer, env)
        elif isinstance(instr, Cmd):
            text = meta.apply_cmd(state, instr, self.cmd_set)
            self.cmd_set = True
        elif isinstance(instr, Entrypoint):
            text = meta.apply_entrypoint(state, instr, self.cmd_set)
        elif isinstance(instr, Shell):
            text = meta.apply_shell(state, instr)
        elif isinstance(instr, Stopsignal):
            text = meta.apply_stopsignal(state, instr, expand)
        elif isinstance(instr, Healthcheck):
            text = meta.apply_healthcheck(state, instr)
        elif isinstance(instr, Maintainer):
            text = meta.apply_maintainer(state, instr)
        elif isinstance(instr, Onbuild):
            text = meta.apply_onbuild(state, instr)
        else:
            raise self._located(instr, f"{instr.keyword} is not supported by the builder")
        state.key = key_of("meta", state.key, text)
        if not isinstance(instr, Onbuild):  # BuildKit records no history for ONBUILD
            self._record(state, text, empty=True)

    def _record(self, state: StageState, text: str, *, empty: bool, created: str = "") -> None:
        if created:
            state.last_created = created
        entry = self.b.history(text, empty=empty, created=state.last_created)
        history = (*state.config.history, entry)
        state.config = replace(state.config, history=history)

    # -- WORKDIR ---------------------------------------------------------------------------

    def _workdir(self, state: StageState, instr: Workdir) -> None:
        expand = self._expander(state, instr)
        path = meta.workdir_path(state, instr, expand)
        text = meta.apply_workdir(state, path)
        label = self._label(instr)
        step = self.b.next_step(label)
        key = key_of("workdir", state.key, path, state.run.user, str(state.platform))
        hit = self.b.lookup(key, self.name)
        started = time.monotonic()
        self.b.emit(StepEvent("start", step, label))
        if hit is None:
            with self.b.snapshotter.mount(self.b.lowers(state)) as active:
                make_dirs(active.root, path, owner=self._owner(state, active.root, instr))
                hit = self.b.commit(active, key, always=False)
            self.b.emit(StepEvent("done", step, label, seconds=time.monotonic() - started))
        else:
            self.b.count_cached()
            self.b.emit(StepEvent("cached", step, label, seconds=0.0))
        state.key = key
        self._apply(state, hit, text)

    def _apply(self, state: StageState, result: StepLayer, text: str) -> None:
        if result.layer is not None and result.diff_id is not None:
            state.add_layer(result.layer, result.diff_id)
            self._record(state, text, empty=False, created=result.created)
        else:
            self._record(state, text, empty=True, created=result.created)

    # -- RUN -------------------------------------------------------------------------------

    def _run(self, state: StageState, instr: Run) -> None:
        problem = emulation_problem(state.platform)
        if problem:
            raise self._located(
                instr,
                problem,
                "install qemu-user-static and binfmt-support (apt-get install qemu-user-static "
                "binfmt-support), or cross-compile in a stage FROM --platform=$BUILDPLATFORM",
            )
        expand = self._expander(state, instr)
        args = run_args(state, instr)
        try:
            mounts = tuple(parse_mount(m.spec, expand=expand) for m in instr.mounts)
        except MountError as exc:
            raise self._located(instr, str(exc)) from exc
        network = self.b.options.network if instr.network == "default" else instr.network
        if network not in ("host", "none"):
            raise self._located(instr, f"RUN --network={network} is not supported")
        proc_env = state.process_env()
        key = key_of(
            "run",
            state.key,
            args,
            proc_env,
            state.workdir,
            state.run.user,
            network,
            [m.spec for m in mounts],
            [m.from_ and self._source_identity(m.from_) for m in mounts],
            str(state.platform),
            instr.security,
        )
        text = history_run(state, args)
        label = self._label(instr)
        step = self.b.next_step(label)
        started = time.monotonic()
        self.b.emit(StepEvent("start", step, label))
        hit = self.b.lookup(key, self.name)
        if hit is not None:
            self.b.count_cached()
            self.b.emit(StepEvent("cached", step, label, seconds=0.0))
        else:
            with contextlib.ExitStack() as stack:
                roots: dict[str, Path] = {}

                def stage_root(ref: str) -> Path:
                    if ref not in roots:
                        roots[ref] = stack.enter_context(self._readonly_root(ref, instr))
                    return roots[ref]

                preparer = MountPreparer(
                    cache_root=self.b.store.root / "cache-mounts",
                    context=self.b.options.context,
                    stage_root=stage_root,
                    secrets={s.id: s for s in self.b.options.secrets},
                    ssh=self.b.options.ssh,
                    step=label,
                )
                active = stack.enter_context(self.b.snapshotter.mount(self.b.lowers(state)))
                make_dirs(active.root, state.workdir)
                with prepared(preparer, mounts) as prep:
                    spec = ProcessSpec(
                        args=args,
                        env=(*proc_env, *prep.env),
                        cwd=state.workdir,
                        user=state.run.user,
                        network=network,
                        mounts=prep.binds,
                    )

                    def output(chunk: bytes) -> None:
                        self.b.emit(StepEvent("log", step, label, data=chunk))

                    redactor = Redactor(prep.secrets, output)
                    try:
                        run_checked(self.b.executor, active.root, spec, step=label, output=redactor)
                    except BuildError as exc:
                        tail = [
                            redactor.redact(line.encode("utf-8", "surrogateescape")).decode(
                                "utf-8", "replace"
                            )
                            for line in exc.output_tail
                        ]
                        raise BuildError(
                            f"{self.df.file}:{instr.start_line}: {exc.message}",
                            step=label,
                            exit_status=exc.exit_status,
                            output_tail=tail,
                            hint=exc.hint,
                        ) from exc
                    finally:
                        redactor.flush()
                hit = self.b.commit(active, key)
            self.b.emit(StepEvent("done", step, label, seconds=time.monotonic() - started))
        state.key = key
        self._apply(state, hit, text)

    # -- COPY / ADD ------------------------------------------------------------------------

    def _source_identity(self, ref: str) -> str:
        node = self.graph.stage(int(ref) if ref.isdigit() else ref)
        if node is not None and node.index in self.states:
            return self.states[node.index].key
        return ref

    @contextlib.contextmanager
    def _readonly_root(self, ref: str, instr: Instruction) -> Iterator[Path]:
        node = self.graph.stage(int(ref) if ref.isdigit() else ref)
        if node is not None and node.index in self.states:
            source = self.states[node.index]
            with self.b.snapshotter.mount(self.b.lowers(source), writable=False) as view:
                yield view.root
            return
        contexts = self.b.options.build_contexts
        if ref in contexts:
            yield contexts[ref]
            return
        try:
            image = self.b.resolve_image(ref, self.target_platform)
        except DockwrightError as exc:
            raise self._located(instr, f"--from={ref}: {exc.message}", exc.hint) from exc
        lowers = self.b.lowers_of(image.layers, image.config.diff_ids)
        with self.b.snapshotter.mount(lowers, writable=False) as view:
            yield view.root

    @contextlib.contextmanager
    def _source_tree(self, ref: str | None, instr: Instruction) -> Iterator[SourceTree]:
        from dockwright.solve.copying import SourceTree  # noqa: PLC0415

        if ref is None:
            yield SourceTree(self.b.options.context, "context", self.b.context_ignore())
            return
        if ref in self.b.options.build_contexts and self.graph.stage(ref) is None:
            yield SourceTree(self.b.options.build_contexts[ref], "context", None)
            return
        with self._readonly_root(ref, instr) as root:
            yield SourceTree(root, "rootfs", None)

    def _copy(self, state: StageState, instr: Copy | Add) -> None:
        from dockwright.solve.copying import CopyRequest, apply_copy, cache_checksum  # noqa: PLC0415

        expand = self._expander(state, instr)
        heredoc_lexer = Lexer(self.df.escape, raw_quotes=True, raw_escapes=True)
        env = state.expansion_env()
        heredocs: list[tuple[str, bytes]] = []
        for doc in instr.heredoc_sources:
            content = doc.content
            if doc.expand:
                try:
                    content = heredoc_lexer.expand(content, env)
                except ExpansionError as exc:
                    raise self._located(instr, str(exc)) from exc
            heredocs.append((doc.name, content.encode("utf-8")))
        is_add = isinstance(instr, Add)
        request = CopyRequest(
            sources=tuple(expand(s) for s in instr.sources),
            dest=expand(instr.dest),
            workdir=state.workdir,
            chown=expand(instr.chown) if instr.chown else None,
            chmod=expand(instr.chmod) if instr.chmod else None,
            parents=isinstance(instr, Copy) and instr.parents,
            exclude=tuple(expand(e) for e in instr.exclude),
            link=instr.link,
            add=is_add,
            unpack=instr.unpack if isinstance(instr, Add) else None,
            checksum=expand(instr.checksum) if isinstance(instr, Add) and instr.checksum else None,
            keep_git_dir=isinstance(instr, Add) and instr.keep_git_dir,
            heredocs=tuple(heredocs),
            mtime=self.b.mtime,
        )
        if any("://" in src or src.startswith("git@") for src in request.sources):
            self.b.remote_inputs = True
        ref = instr.from_ if isinstance(instr, Copy) else None
        text = self._history_copy(instr, request)
        label = self._label(instr)
        step = self.b.next_step(label)
        started = time.monotonic()
        self.b.emit(StepEvent("start", step, label))
        with self._source_tree(ref, instr) as tree:
            try:
                checksum = cache_checksum(tree, request)
            except DockwrightError as exc:
                raise self._located(instr, exc.message, exc.hint) from exc
            parent = key_of("link") if instr.link else state.key
            key = key_of(
                "copy", parent, instr.keyword, repr(request), checksum, str(state.platform)
            )
            hit = self.b.lookup(key, self.name)
            if hit is not None:
                self.b.count_cached()
                self.b.emit(StepEvent("cached", step, label, seconds=0.0))
            else:
                with self.b.snapshotter.mount(self.b.lowers(state)) as active:
                    try:
                        apply_copy(tree, request, active.root)
                    except DockwrightError as exc:
                        raise self._located(instr, exc.message, exc.hint) from exc
                    hit = self.b.commit(active, key)
                self.b.emit(StepEvent("done", step, label, seconds=time.monotonic() - started))
        state.key = key if not instr.link else key_of("after-link", state.key, key)
        self._apply(state, hit, text)

    def _history_copy(self, instr: Copy | Add, request: CopyRequest) -> str:
        """BuildKit's text: the keyword, --chown/--chmod as given, expanded sources, dest."""
        words = [instr.keyword]
        if request.parents:
            words.append("--parents")
        if request.chown:
            words.append(f"--chown={request.chown}")
        if request.chmod:
            words.append(f"--chmod={request.chmod}")
        words += [*request.sources, *(f"<<{d.name}" for d in instr.heredoc_sources)]
        words.append(request.dest)
        return " ".join(words) + " # buildkit"
