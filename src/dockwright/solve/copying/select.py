"""Which files a COPY/ADD takes from a source tree, found as BuildKit finds them.

Source paths are cleaned and resolved inside the tree as in a chroot (an absolute symlink
target or ``..`` never leaves the tree's root). The non-wildcard head of a pattern follows
symlinks; wildcard components match directory entries with Go's ``filepath.Match`` (``*``
also matches names starting with a dot) and descend only real directories, in lexical
order. Each match is then followed to what it names. In the build context, paths that
``.dockerignore`` excludes do not exist (an excluded directory still exists when something
below it is re-included). A wildcard that matches nothing selects nothing (BuildKit builds
on); a literal path that does not exist is an error.

--exclude patterns (.dockerignore syntax) drop an entry inside a copied directory by its
path relative to that directory; a source's own matches are never excluded (BuildKit 0.17:
``COPY --exclude=*.md hom* /d/`` still copies hom2.md). With --parents a match keeps its
path from the tree root, or from the pivot the first ``/./`` in the source marks.
"""

from __future__ import annotations

import os
import posixpath
import stat as st
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dockwright.dockerfile.ignore import IgnoreFileError, IgnoreRules
from dockwright.dockerfile.ignore_patterns import PatternSyntaxError, go_match
from dockwright.solve.copying.model import CopyRequest, CopySourceError, Entry, SourceTree, Unit

__all__ = ["TreeView", "clean_source", "has_wildcards", "select_units"]

_MAX_LINKS = 255


def has_wildcards(path: str) -> bool:
    """Whether a source path has ``*``, ``?`` or ``[`` that are not escaped by ``\\``."""
    escaped = False
    for char in path:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "*?[":
            return True
    return False


def clean_source(path: str) -> str:
    """A source path relative to the tree root: cleaned, never above it ('' is the root)."""
    cleaned = posixpath.normpath("/" + path)
    return cleaned.lstrip("/")


def _rules_of(ignore: Callable[[str], bool] | None) -> IgnoreRules | None:
    owner = getattr(ignore, "__self__", None)
    return owner if isinstance(owner, IgnoreRules) else None


@dataclass
class TreeView:
    """A source tree as a build sees it: .dockerignore applied, paths resolved chroot-style."""

    tree: SourceTree
    _dir_visible: dict[str, bool] = field(default_factory=dict)
    _nothing_ignored: bool = False

    def __post_init__(self) -> None:
        rules = _rules_of(self.tree.ignore)
        self._nothing_ignored = rules is not None and not rules.patterns

    @property
    def root(self) -> str:
        return os.fspath(self.tree.root)

    def host(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else self.root

    def lstat(self, rel: str) -> os.stat_result | None:
        """lstat of ``rel`` when it exists and .dockerignore lets the build see it."""
        try:
            info = os.lstat(self.host(rel))
        except (FileNotFoundError, NotADirectoryError):
            return None
        if rel and not self.visible(rel, st.S_ISDIR(info.st_mode)):
            return None
        return info

    def visible(self, rel: str, is_dir: bool) -> bool:
        """Whether the context sends ``rel`` (always, for a rootfs)."""
        ignore = self.tree.ignore
        if (
            ignore is None
            or self.tree.kind != "context"
            or self._nothing_ignored
            or not ignore(rel)
        ):
            return True
        if not is_dir:
            return False
        known = self._dir_visible.get(rel)
        if known is None:
            rules = _rules_of(ignore)
            known = (rules is None or rules.may_contain_included(rel)) and any(
                self.lstat(f"{rel}/{name}") is not None for name in self.listdir(rel)
            )
            self._dir_visible[rel] = known
        return known

    def listdir(self, rel: str) -> list[str]:
        try:
            return sorted(os.listdir(self.host(rel)))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise CopySourceError(f"cannot read {rel or '.'}: {exc.strerror or exc}") from exc

    def resolve(self, rel: str, *, follow_last: bool = True) -> str | None:
        """``rel`` with its symlinks followed inside the tree; None when it does not exist."""
        found, _ = self.resolve_attempt(rel, follow_last=follow_last)
        return found

    def resolve_attempt(self, rel: str, *, follow_last: bool = True) -> tuple[str | None, str]:
        """(resolved path or None, the path looked for when it was found missing)."""
        todo = [p for p in rel.split("/") if p not in ("", ".")]
        done: list[str] = []
        hops = 0
        while todo:
            part = todo.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            candidate = "/".join([*done, part])
            info = self.lstat(candidate)
            if info is None:
                return None, "/".join([candidate, *todo])
            if st.S_ISLNK(info.st_mode) and (todo or follow_last):
                hops += 1
                if hops > _MAX_LINKS:
                    raise CopySourceError(f"{rel}: too many levels of symbolic links")
                target = os.readlink(self.host(candidate))
                if target.startswith("/"):
                    done = []
                todo = [p for p in target.split("/") if p not in ("", ".")] + todo
                continue
            if todo and not st.S_ISDIR(info.st_mode):
                return None, "/".join([candidate, *todo])
            done.append(part)
        return "/".join(done), ""

    def glob(self, pattern: str) -> list[str]:
        """Paths matching ``pattern`` (relative, cleaned), in lexical order, unresolved."""
        parts = pattern.split("/") if pattern else []
        head: list[str] = []
        while parts and not has_wildcards(parts[0]):
            head.append(parts.pop(0))
        if not parts:
            return [pattern]
        base = self.resolve("/".join(head))
        if base is None:
            return []
        found: list[str] = []
        self._glob_below(base, "/".join(head), parts, found)
        return found

    def _glob_below(self, host_rel: str, shown: str, parts: list[str], found: list[str]) -> None:
        component, rest = parts[0], parts[1:]
        for name in self.listdir(host_rel):
            try:
                matched = go_match(component, name)
            except PatternSyntaxError as exc:
                raise CopySourceError(f"bad pattern {component!r}: {exc.message}") from exc
            if not matched:
                continue
            child = f"{host_rel}/{name}" if host_rel else name
            info = self.lstat(child)
            if info is None:
                continue
            child_shown = f"{shown}/{name}" if shown else name
            if not rest:
                found.append(child_shown)
            elif st.S_ISDIR(info.st_mode):
                self._glob_below(child, child_shown, rest, found)


def _exclude_rules(patterns: tuple[str, ...]) -> IgnoreRules | None:
    if not patterns:
        return None
    try:
        return IgnoreRules.from_patterns(patterns, source="--exclude")
    except IgnoreFileError as exc:
        raise CopySourceError(f"invalid --exclude pattern: {exc.reason}") from exc


def _split_parents(source: str) -> tuple[str, str]:
    """--parents: (pivot, rest). The path after the first '/./' is what is kept."""
    marker = source.find("/./")
    if marker < 0:
        return "", source
    return clean_source(source[:marker]), source[marker + 3 :]


def _walk(
    view: TreeView, rel: str, excludes: IgnoreRules | None, out: list[Entry], inner: str
) -> bool:
    """Append the entries below directory ``rel``; True when one was kept."""
    kept = False
    for name in view.listdir(rel):
        child = f"{rel}/{name}" if rel else name
        info = view.lstat(child)
        if info is None:
            continue
        child_inner = f"{inner}/{name}" if inner else name
        is_dir = st.S_ISDIR(info.st_mode)
        excluded = excludes is not None and excludes.matches(child_inner)
        if excluded and not (is_dir and excludes is not None and excludes.has_exceptions):
            continue
        mark = len(out)
        entry = Entry(child_inner, view.host(child), info)
        if not excluded:
            out.append(entry)
        below = _walk(view, child, excludes, out, child_inner) if is_dir else False
        if excluded and below:
            out.insert(mark, entry)
        kept = kept or below or not excluded
    return kept


def _prefix_dirs(view: TreeView, pivot: str, prefix: str) -> list[Entry]:
    found: list[Entry] = []
    walked = pivot
    for part in [p for p in prefix.split("/") if p]:
        walked = f"{walked}/{part}" if walked else part
        resolved = view.resolve(walked)
        host = view.host(resolved if resolved is not None else walked)
        found.append(Entry(part, host, os.stat(host)))
    return found


def select_units(tree: SourceTree, request: CopyRequest, sources: tuple[str, ...]) -> list[Unit]:
    """The units ``sources`` (local paths or patterns) select from ``tree``.

    Raises :class:`CopySourceError` for a literal source that does not exist.
    """
    view = TreeView(tree)
    excludes = _exclude_rules(request.exclude)
    zero = tree.kind == "context"
    units: list[Unit] = []
    for source in sources:
        pivot = ""
        pattern_text = source
        if request.parents:
            pivot, pattern_text = _split_parents(source)
        pattern = clean_source(posixpath.join(pivot, pattern_text) if pivot else pattern_text)
        wildcard = has_wildcards(pattern)
        matches = view.glob(pattern) if wildcard else [pattern]
        for match in matches:
            resolved, looked_for = view.resolve_attempt(match)
            if resolved is None:
                if wildcard:
                    continue
                extra = "" if looked_for == match else f" (source {source!r})"
                raise CopySourceError(f'"/{looked_for}" not found: not found{extra}')
            info = os.stat(view.host(resolved))
            is_dir = st.S_ISDIR(info.st_mode)
            name = posixpath.basename(match) if match else ""
            prefix = ""
            prefix_dirs: list[Entry] = []
            if request.parents:
                below_pivot = posixpath.relpath(match, pivot) if pivot else match
                below_pivot = "" if below_pivot == "." else below_pivot
                prefix = below_pivot if is_dir else posixpath.dirname(below_pivot)
                prefix_dirs = _prefix_dirs(view, pivot, prefix)
            entries = [Entry("", view.host(resolved), info)]
            if is_dir:
                _walk(view, resolved, excludes, entries, "")
            units.append(
                Unit(
                    source=source,
                    name=name,
                    prefix=prefix,
                    is_dir=is_dir,
                    entries=tuple(entries),
                    zero_owner=zero,
                    archive=not is_dir and st.S_ISREG(info.st_mode),
                    prefix_dirs=tuple(prefix_dirs),
                )
            )
    return units


def units_from_dir(
    host_dir: Path, source: str, name: str, *, is_dir: bool, archive: bool = False
) -> Unit:
    """A unit for something fetched or written into a private directory (URL, git, heredoc)."""
    tree = SourceTree(host_dir, "rootfs")
    view = TreeView(tree)
    if is_dir:
        entries = [Entry("", view.host(""), os.stat(view.host("")))]
        _walk(view, "", None, entries, "")
    else:
        entries = [Entry("", view.host(name), os.lstat(view.host(name)))]
    return Unit(source, name, "", is_dir, tuple(entries), zero_owner=True, archive=archive)
