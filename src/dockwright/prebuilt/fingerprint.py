"""A content fingerprint of everything a ``go build`` of a module reads, for skipping it.

The fingerprint hashes the *contents* of every file under the module root (mtimes never
matter, so a ``touch`` or a fresh checkout keeps it), the toolchain's identity, the build
environment and flags. File hashes are remembered by (size, mtime, inode, ctime) so an
unchanged tree costs one ``stat`` per file.

Inputs outside the module cannot be seen this way, so the fast path is refused (``None``)
whenever the build can reach them: a ``go.work`` workspace, or a ``replace`` directive
naming a local directory. Downloaded dependencies are immutable and pinned by go.sum,
which is part of the fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

# Only version-control metadata is skipped: `//go:embed all:dir` can reach any other file.
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".bzr"})
_LOCAL_REPLACE = re.compile(r"=>\s*(\.{1,2}/|/|\.{1,2}$)", re.MULTILINE)
_CHUNK = 1 << 20


def _walk(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name in _SKIP_DIRS:
                    continue
                # A nested module is a separate build that this one cannot import from.
                if (Path(entry.path) / "go.mod").exists():
                    continue
                stack.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False) or entry.is_symlink():
                try:
                    st = entry.stat(follow_symlinks=True)
                except OSError:
                    continue
                yield os.path.relpath(entry.path, root), st


def _file_hash(path: str, st: os.stat_result, memo: dict[str, list[object]], rel: str) -> str:
    stamp = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]
    known = memo.get(rel)
    if known is not None and known[:4] == stamp:
        return str(known[4])
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    value = digest.hexdigest()
    memo[rel] = [*stamp, value]
    return value


def module_uses_outside_inputs(module_root: Path) -> bool:
    """True when the build may read source outside the module (workspace, local replace)."""
    if os.environ.get("GOWORK", "") not in ("", "off"):
        return True
    for folder in (module_root, *module_root.parents):
        if (folder / "go.work").exists():
            return True
    go_mod = (module_root / "go.mod").read_text(encoding="utf-8", errors="replace")
    return bool(_LOCAL_REPLACE.search(go_mod))


def fingerprint(
    module_root: Path,
    identity: Mapping[str, object],
    memo: dict[str, list[object]],
) -> str | None:
    """The fingerprint of the module's files plus ``identity`` (toolchain, env, flags,
    platform, package); ``None`` when the module can read files outside itself.

    ``memo`` maps relative paths to their last stat stamp and hash; it is updated in place
    so the caller can persist it.
    """
    if module_uses_outside_inputs(module_root):
        return None
    files = sorted(_walk(module_root))
    total = hashlib.sha256(json.dumps(identity, sort_keys=True).encode())
    seen: set[str] = set()
    for rel, st in files:
        seen.add(rel)
        total.update(rel.encode() + b"\0")
        total.update(_file_hash(str(module_root / rel), st, memo, rel).encode() + b"\n")
    for stale in set(memo) - seen:
        del memo[stale]
    return total.hexdigest()


def toolchain_identity(go: str) -> dict[str, object]:
    """What identifies the Go toolchain without running it: the binary's resolved path and
    stat stamp, and GOROOT's VERSION file (an upgrade changes one of them)."""
    real = os.path.realpath(go)
    st = os.stat(real)
    ident: dict[str, object] = {"go": real, "stamp": [st.st_size, st.st_mtime_ns, st.st_ino]}
    version_file = Path(real).parent.parent / "VERSION"
    if version_file.is_file():
        ident["version"] = version_file.read_text(encoding="utf-8", errors="replace")[:200]
    return ident
