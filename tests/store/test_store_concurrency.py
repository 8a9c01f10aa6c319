"""Several processes at once, and processes killed at random moments."""

from __future__ import annotations

import json
import multiprocessing
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dockwright.store import Store
from dockwright.store.testing import add_image
from store.storekit import child_env, make_store

PROCESSES = 8
TAGS_EACH = 20
KILLS = 30


def _tagger(root: str, worker: int) -> None:
    store = Store.open(Path(root))
    with store.session():
        image = add_image(store, layers=({"worker": str(worker).encode()},))
        for n in range(TAGS_EACH):
            store.tag(f"proc{worker}/img:{n}", image)


def test_concurrent_taggers_never_lose_a_tag(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_tagger, args=(str(store.root), w)) for w in range(PROCESSES)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    names = {name for name, _ in store.tags()}
    expected = {f"proc{w}/img:{n}" for w in range(PROCESSES) for n in range(TAGS_EACH)}
    assert names == expected
    assert len(names) == PROCESSES * TAGS_EACH
    assert store.verify() == []


@pytest.mark.slow
def test_sigkill_at_random_moments_never_corrupts_the_store(tmp_path: Path) -> None:
    root = tmp_path / "store"
    Store.open(root)
    script = Path(__file__).with_name("crash_writer.py")
    rng = random.Random(20240607)
    for round_ in range(KILLS):
        writer = subprocess.Popen(
            [sys.executable, str(script), str(root), str(round_)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(),
        )
        assert writer.stdout is not None
        line = writer.stdout.readline()
        if line.strip() != b"started":
            writer.kill()
            _, err = writer.communicate()
            pytest.fail(f"crash writer did not start: {line!r} {err.decode()}")
        time.sleep(rng.uniform(0.0, 0.4))
        writer.send_signal(signal.SIGKILL)
        _, err = writer.communicate()
        assert writer.returncode == -signal.SIGKILL, err.decode()

        json.loads((root / "index.json").read_bytes())
        store = Store.open(root)
        assert store.verify() == [], f"after kill #{round_ + 1}"
        image = add_image(store, layers=({"after": str(round_).encode()},))
        store.tag(f"after:{round_}", image)
        assert store.resolve(f"after:{round_}") == image
    store = Store.open(root)
    assert {f"after:{n}" for n in range(KILLS)} <= {name for name, _ in store.tags()}
    store.prune()
    assert store.verify() == []
