"""A store writer that runs until killed: the crash test SIGKILLs it at random moments.

Usage: python crash_writer.py STORE_ROOT SEED
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

from dockwright.store import Store
from dockwright.store.testing import add_image


def main(root: str, seed: int) -> None:
    """Write images, tags, cache entries and prunes in a loop, forever."""
    rng = random.Random(seed)
    store = Store.open(Path(root))
    print("started", flush=True)
    i = 0
    while True:
        i += 1
        name = f"crash/w{seed}:{i}"
        with store.session():
            image = add_image(
                store,
                layers=(
                    {"small.txt": f"{seed}-{i}".encode()},
                    {"big.bin": os.urandom(rng.choice((1, 64, 512)) << 10)},
                ),
            )
            store.tag(name, image)
        store.cache_put("crash", name, str(image.digest))
        if i % 3 == 0:
            store.untag(name)
        if i % 7 == 0:
            store.prune()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
