"""The running state of one stage while its instructions execute."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace

from dockwright.image.digest import Digest
from dockwright.image.model import Descriptor, History, ImageConfig, RunConfig
from dockwright.image.platform import Platform

DEFAULT_SHELL = ("/bin/sh", "-c")


def key_of(*parts: object) -> str:
    """A cache key: sha256 over the canonical JSON of ``parts``."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class StageState:
    """A stage's image so far, its variables and its cache key chain.

    ``env`` is the image's environment in order (ENV and the base's Env); ``args`` the names
    ARG bound in this stage, with their values (None: declared without one). ``key`` is the
    cache key of everything up to here; ``chain`` the diff IDs of the filesystem (bottom first).
    """

    name: str
    index: int
    platform: Platform
    config: ImageConfig
    layers: list[Descriptor]
    key: str
    env: dict[str, str] = field(default_factory=dict)
    args: dict[str, str | None] = field(default_factory=dict)
    history: list[History] = field(default_factory=list)
    onbuild: list[str] = field(default_factory=list)
    last_created: str = ""

    @property
    def run(self) -> RunConfig:
        """The run config the metadata instructions have built so far."""
        return self.config.config

    def set_run(self, run: RunConfig) -> None:
        """Replace the run config (RunConfig values are immutable)."""
        self.config = replace(self.config, config=run)

    @property
    def chain(self) -> list[Digest]:
        """The filesystem's layers as diff IDs, bottom first."""
        return list(self.config.diff_ids)

    @property
    def shell(self) -> tuple[str, ...]:
        """SHELL for shell-form commands."""
        return self.run.shell or DEFAULT_SHELL

    @property
    def workdir(self) -> str:
        """The working directory (``/`` when unset)."""
        return self.run.working_dir or "/"

    def expansion_env(self) -> dict[str, str]:
        """What ``$VAR`` sees in the Dockerfile's words here: ARG values, then ENV over them."""
        merged = {k: v for k, v in self.args.items() if v is not None}
        merged.update(self.env)
        return merged

    def process_env(self) -> list[str]:
        """A RUN's environment: the image's Env, then ARG values ENV does not set."""
        result = [f"{k}={v}" for k, v in self.env.items()]
        result += [f"{k}={v}" for k, v in self.args.items() if v is not None and k not in self.env]
        return result

    def set_env(self, key: str, value: str) -> None:
        """ENV key=value: replace in place or append, as the image's Env list keeps order."""
        self.env[key] = value
        self.set_run(replace(self.run, env=tuple(f"{k}={v}" for k, v in self.env.items())))

    def add_layer(self, layer: Descriptor, diff_id: Digest) -> None:
        """Append a layer to the filesystem."""
        self.layers.append(layer)
        self.config = replace(self.config, diff_ids=(*self.config.diff_ids, diff_id))


def env_dict(env: tuple[str, ...]) -> dict[str, str]:
    """An image config's Env list as an ordered mapping."""
    result: dict[str, str] = {}
    for entry in env:
        key, _, value = entry.partition("=")
        result[key] = value
    return result
