"""The solver: walks the stages a target needs and runs (or finds cached) each step."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial

from dockwright.dockerfile import (
    Dockerfile,
    parse_dockerfile,
)
from dockwright.dockerfile.ignore import IgnoreRules
from dockwright.errors import DockwrightError
from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest
from dockwright.image.model import (
    Descriptor,
    History,
    Index,
    Manifest,
    descriptor_for,
)
from dockwright.image.platform import Platform, host_platform
from dockwright.plan import build_graph
from dockwright.sandbox import Executor
from dockwright.snapshot import Active, Snapshotter
from dockwright.solve.bases import BaseImage, ImageResolver
from dockwright.solve.commit import CACHE_NAMESPACE, StepLayer, cached, remember, write_entries
from dockwright.solve.events import Emit
from dockwright.solve.options import BuildOptions
from dockwright.solve.state import StageState
from dockwright.store import Store

HISTORY_COMMENT = "buildkit.dockerfile.v0"


class _Skipped(Exception):
    """A stage not run because another stage of the build failed."""


@dataclass(frozen=True, slots=True)
class PlatformImage:
    """One platform's built image."""

    platform: Platform
    manifest: Descriptor
    config: Descriptor


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What a build made: the root (manifest, or index for several platforms) in the store."""

    root: Descriptor
    images: tuple[PlatformImage, ...]
    steps: int
    cached_steps: int


def rfc3339(seconds: float) -> str:
    """``seconds`` since the epoch as RFC 3339 UTC, with microseconds when not whole."""
    whole = int(seconds)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    if seconds == whole:
        return text + "Z"
    return f"{text}.{min(int((seconds - whole) * 1_000_000), 999_999):06d}Z"


class Builder:
    """Builds one Dockerfile for one or more platforms into the store."""

    def __init__(
        self,
        options: BuildOptions,
        *,
        store: Store,
        resolver: ImageResolver,
        executor: Executor,
        snapshotter: Snapshotter,
        emit: Emit,
    ) -> None:
        self.options = options
        self.store = store
        self.resolver = resolver
        self.executor = executor
        self.snapshotter = snapshotter
        self.emit = emit
        sde = options.source_date_epoch
        self.created = rfc3339(sde if sde is not None else time.time())
        self.mtime = sde
        self._step = 0
        self.step_names: list[str] = []
        self.images_resolved = 0
        self.remote_inputs = False
        # Every cache record this build used or made, in order: what --cache-to exports.
        self.records: list[tuple[str, StepLayer]] = []
        self._lock = threading.Lock()
        self._cached = 0
        self.dockerfile: Dockerfile | None = None
        self._ignore: IgnoreRules | None = None

    # -- the whole build -------------------------------------------------------------------

    def _parse(self) -> Dockerfile:
        text = self.options.dockerfile_text
        if text is None:
            try:
                text = self.options.dockerfile.read_text(encoding="utf-8")
            except OSError as exc:
                raise DockwrightError(
                    f"cannot read Dockerfile {self.options.dockerfile}: {exc.strerror}",
                    hint="pass the right file with -f",
                ) from exc
        return parse_dockerfile(text, file=str(self.options.dockerfile))

    def build(self, tags: tuple[str, ...] = ()) -> BuildResult:
        """Run the build; tag the result in the store with ``tags``."""
        dockerfile = self._parse()
        self.dockerfile = dockerfile
        platforms = self.options.platforms or (host_platform(),)
        images = tuple(self._build_platform(dockerfile, p) for p in platforms)
        if len(images) == 1:
            root = images[0].manifest
        else:
            annotations = {}
            if self.options.source_date_epoch is not None:
                annotations[mt.ANNOTATION_CREATED] = self.created
            index = Index(tuple(i.manifest for i in images), annotations=annotations)
            data = index.to_bytes()
            self.store.put_bytes(data)
            root = descriptor_for(mt.OCI_INDEX, data)
        for tag in tags:
            self.store.tag(tag, root)
        return BuildResult(root, images, self._step, self._cached)

    def _build_platform(self, dockerfile: Dockerfile, platform: Platform) -> PlatformImage:
        graph = build_graph(
            dockerfile,
            target=self.options.target,
            build_args=self.options.build_args,
            target_platform=platform,
            build_platform=host_platform(),
        )
        from dockwright.solve.steps import StageRunner  # noqa: PLC0415

        states: dict[int, StageState] = {}
        if len(graph.order) == 1:
            index = graph.order[0]
            states[index] = StageRunner(self, dockerfile, graph, index, states, platform).run()
            return self._assemble(states[graph.target], platform)
        # Independent stages run at once; each waits for the stages it reads first.
        from concurrent.futures import Future, ThreadPoolExecutor  # noqa: PLC0415

        futures: dict[int, Future[StageState]] = {}
        failed = threading.Event()

        def run_stage(index: int) -> StageState:
            for dep in graph.stages[index].depends_on:
                if dep in futures:
                    futures[dep].result()
            if failed.is_set():
                raise _Skipped
            try:
                state = StageRunner(self, dockerfile, graph, index, states, platform).run()
            except BaseException:
                failed.set()
                raise
            states[index] = state
            return state

        with ThreadPoolExecutor(max_workers=len(graph.order)) as pool:
            for index in graph.order:
                futures[index] = pool.submit(run_stage, index)
            errors = []
            for index in graph.order:
                exc = futures[index].exception()
                if exc is not None and not isinstance(exc, _Skipped):
                    errors.append(exc)
        if errors:
            raise errors[0]
        return self._assemble(states[graph.target], platform)

    def _assemble(self, state: StageState, platform: Platform) -> PlatformImage:
        run = state.run
        if self.options.labels:
            labels = dict(run.labels)
            labels.update(self.options.labels)
            run = replace(run, labels=labels)
        # A fully cached rebuild makes the same image: times come from the steps' records.
        created = self.created
        if self.options.source_date_epoch is None:
            created = state.last_created or created
        config = replace(state.config, config=run, created=created)
        config_bytes = config.to_bytes()
        config_digest = self.store.put_bytes(config_bytes)
        config_desc = Descriptor(mt.OCI_CONFIG, config_digest, len(config_bytes))
        manifest = Manifest(
            config=config_desc,
            layers=tuple(state.layers),
            annotations=dict(self.options.annotations),
        )
        data = manifest.to_bytes()
        self.store.put_bytes(data)
        image_platform = Platform(config.os, config.architecture, config.variant, config.os_version)
        desc = descriptor_for(mt.OCI_MANIFEST, data, platform=image_platform)
        return PlatformImage(platform, desc, config_desc)

    # -- shared services for the steps -----------------------------------------------------

    def context_ignore(self) -> Callable[[str], bool] | None:
        """The context's .dockerignore rules as a predicate (None: nothing ignored)."""
        if self._ignore is None:
            from dockwright.dockerfile.ignore import load_ignore  # noqa: PLC0415

            rules = load_ignore(self.options.context, self.options.dockerfile)
            self._ignore = rules
        rules = self._ignore
        if not rules.patterns:
            return None
        return rules.matches

    def next_step(self, name: str) -> int:
        """A new step number for the step called ``name``."""
        with self._lock:
            self._step += 1
            self.step_names.append(name)
            return self._step

    def resolve_image(self, name: str, platform: Platform) -> BaseImage:
        """An image by name, through the resolver (counted for the memo's checks)."""
        with self._lock:
            self.images_resolved += 1
        return self.resolver.resolve(name, platform)

    def count_cached(self) -> None:
        """Note a step served from the cache."""
        with self._lock:
            self._cached += 1

    def history(self, text: str, *, empty: bool, created: str) -> History:
        """A history entry (``created``: when its step ran; SOURCE_DATE_EPOCH overrides)."""
        if self.options.source_date_epoch is not None:
            created = self.created
        return History(created=created, created_by=text, comment=HISTORY_COMMENT, empty_layer=empty)

    def lowers(self, state: StageState) -> list[Digest]:
        """The stage's layers, unpacked for the snapshotter (once per layer)."""
        return self.lowers_of(state.layers, state.chain)

    def lowers_of(self, layers: Sequence[Descriptor], diff_ids: Sequence[Digest]) -> list[Digest]:
        """An image's layers (bottom first), unpacked for the snapshotter, as diff IDs."""
        unpack_layers(self.snapshotter, self.store, zip(diff_ids, layers, strict=True))
        return list(diff_ids)

    def lookup(self, key: str, stage: str) -> StepLayer | None:
        """The cached result of a step, unless the cache is off for this stage."""
        if self.options.no_cache or stage in self.options.no_cache_filter:
            return None
        hit = cached(self.store, key)
        if hit is not None:
            self.store.cache_touch(CACHE_NAMESPACE, key)  # for prune's least-recently-used
            with self._lock:
                self.records.append((key, hit))
        return hit

    def commit(self, active: Active, key: str, *, always: bool = True) -> StepLayer:
        """Write a mounted snapshot's changes as a layer, keep it, record it in the cache.

        ``always``: a step that changed nothing still gets a (empty) layer, as BuildKit gives
        RUN, COPY and ADD one; WORKDIR passes False (no layer when the directory existed).
        """
        entries = active.changes(clamp_mtime=self.mtime)
        now = self.created if self.mtime is not None else rfc3339(time.time())
        result = write_entries(self.store, entries, self.mtime or 0, now, empty_ok=always)
        if result.diff_id is not None:
            active.keep(result.diff_id)
        remember(self.store, key, result)
        with self._lock:
            self.records.append((key, result))
        return result


def unpack_layers(
    snapshotter: Snapshotter, store: Store, layers: Iterable[tuple[Digest, Descriptor]]
) -> int:
    """Unpack each ``(diff_id, stored layer)`` the snapshotter lacks; layers unpack
    independently (each into its own folder), so several go at once. Returns how many."""
    todo = {d: layer for d, layer in layers if not snapshotter.has(d)}

    def unpack(diff_id: Digest, layer: Descriptor) -> None:
        opener = partial(store.open_blob, layer.digest)
        snapshotter.unpack(diff_id, opener, layer.media_type)

    if len(todo) == 1:
        unpack(*next(iter(todo.items())))
    elif todo:
        from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

        with ThreadPoolExecutor(max_workers=min(4, len(todo))) as pool:
            for job in [pool.submit(unpack, d, layer) for d, layer in todo.items()]:
                job.result()
    return len(todo)
