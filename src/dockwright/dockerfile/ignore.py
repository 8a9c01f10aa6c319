"""``.dockerignore``: which files of the build context a build may see, as Docker decides it.

The rules are moby/patternmatcher's, as BuildKit applies them while sending the context:

- One pattern per line. A line starting with ``#`` (in column 1 only) is a comment; leading
  and trailing whitespace is trimmed; blank lines are skipped; a byte order mark is dropped.
- ``!pattern`` is an exception: it re-includes what earlier lines excluded. Every line is
  checked in order and the last one that matches a path decides.
- Patterns are cleaned with Go's ``filepath.Clean`` (``./a//b/`` is ``a/b``, ``a/../b`` is
  ``b``) and a leading ``/`` is dropped: patterns are relative to the context root, and a
  trailing ``/`` does not restrict a pattern to directories (``build/`` also excludes a file
  named ``build``).
- Go's ``filepath.Match`` syntax: ``*`` (any run of characters but ``/``), ``?`` (one
  character but ``/``), ``[a-z]``/``[^a-z]`` classes, ``\\`` escapes; plus ``**``, any number
  of directories (``**/*.go``, ``logs/**``, ``a/**/b``). Docker hands the rewritten pattern to
  Go's regexp, and :mod:`.ignore_patterns` keeps that regexp's meaning too.
- A path is excluded when it or one of its parent directories is (a pattern matching a
  directory covers everything below it), unless a later exception matches the path or one of
  its parents. So ``!`` can re-include a file below an excluded directory, and the walker
  must then enter that directory: :meth:`IgnoreRules.may_contain_included` says when it need
  not, with BuildKit's own test (exceptions that are plain paths, possibly ending in ``/*`` or
  ``/**``, allow skipping any excluded directory they are not below; any other exception
  forces a full walk).

A malformed pattern (an unclosed ``[``, a bare ``!``, an escape Go's regexp refuses) raises
:class:`IgnoreFileError` naming the file and line. Docker refuses such a file too: a bare
``!`` or a bad ``[`` as the context transfer starts, a pattern its regexp engine rejects when
a path first reaches it (possibly never); dockwright refuses it when reading it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dockwright.dockerfile.ignore_patterns import (
    CompiledPattern,
    PatternSyntaxError,
    compile_pattern,
    go_clean,
    go_trim_space,
    match_syntax_error,
)
from dockwright.errors import DockwrightError

__all__ = [
    "ContextWalkError",
    "IgnoreFileError",
    "IgnorePattern",
    "IgnoreRules",
    "load_ignore",
    "walk_context",
]

# Characters that make BuildKit walk every excluded directory when an exception contains them.
_PATTERN_CHARS = frozenset("*[]?^\\")


class IgnoreFileError(DockwrightError):
    """A ``.dockerignore`` that cannot be used: unreadable, or a malformed pattern."""

    exit_code = 2

    def __init__(self, reason: str, *, file: str, line: int | None = None) -> None:
        where = file if line is None else f"{file}:{line}"
        super().__init__(f"{where}: {reason}")
        self.reason = reason
        self.file = file
        self.line = line


class ContextWalkError(DockwrightError):
    """A directory of the build context that should be sent cannot be read."""


@dataclass(frozen=True, slots=True)
class IgnorePattern:
    """One pattern line: the cleaned pattern, whether it is a ``!`` exception, its line."""

    pattern: str
    exception: bool
    line: int
    compiled: CompiledPattern = field(repr=False, compare=False)

    def match(self, path: str) -> bool:
        """Whether this pattern alone matches ``path`` (not its parents)."""
        return self.compiled.match(path)


# Per pattern, whether it matched a directory: what BuildKit carries from a directory to its
# entries (patternmatcher's MatchInfo). None at the context root.
_ParentInfo = tuple[bool, ...] | None


@dataclass(frozen=True, slots=True)
class IgnoreRules:
    """The patterns of one ``.dockerignore`` (``source`` names it in messages)."""

    patterns: tuple[IgnorePattern, ...] = ()
    source: str | None = None
    # The exceptions as "dir/" prefixes, or None when one has a wildcard and every excluded
    # directory must be walked; derived from ``patterns``.
    _exception_prefixes: tuple[str, ...] | None = field(
        default=(), init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        prefixes = tuple(
            _without_trailing_glob(p.pattern) + "/" for p in self.patterns if p.exception
        )
        if any(_PATTERN_CHARS.intersection(prefix) for prefix in prefixes):
            object.__setattr__(self, "_exception_prefixes", None)
        else:
            object.__setattr__(self, "_exception_prefixes", prefixes)

    @classmethod
    def parse(cls, text: str, source: str | os.PathLike[str] | None = None) -> IgnoreRules:
        """Read ``.dockerignore`` text. Raises :class:`IgnoreFileError` on a bad pattern."""
        name = ".dockerignore" if source is None else os.fspath(source)
        patterns = []
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # the newline ending the last line does not start another
        for number, raw in enumerate(lines, start=1):
            line = raw[:-1] if raw.endswith("\r") else raw
            if number == 1:
                line = line.removeprefix("\ufeff")
            read = _read_line(line)
            pattern = None if read is None else _new_pattern(read, name, number)
            if pattern is not None:
                patterns.append(pattern)
        return cls(tuple(patterns), name)

    @classmethod
    def from_patterns(cls, patterns: Iterable[str], source: str = "patterns") -> IgnoreRules:
        """Rules from a list of patterns, as BuildKit reads ``COPY --exclude`` patterns.

        Unlike lines of a ``.dockerignore`` there are no comments and a leading ``/`` stays
        (so such a pattern matches nothing). In messages pattern n is "line" n of ``source``.
        """
        compiled = (
            _new_pattern(text, source, number) for number, text in enumerate(patterns, start=1)
        )
        return cls(tuple(p for p in compiled if p is not None), source)

    @property
    def has_exceptions(self) -> bool:
        """Whether any ``!`` pattern exists (otherwise an excluded directory is skipped whole)."""
        return any(p.exception for p in self.patterns)

    def matches(self, rel_path: str, is_dir: bool = False) -> bool:
        """Whether ``rel_path`` (relative to the context, ``/``-separated) is excluded.

        ``is_dir`` is accepted for callers that know it, but Docker's rules do not tell files
        from directories (a trailing ``/`` is cleaned away), so it does not change the answer.
        The context root itself (``.`` or ``""``) is never excluded.
        """
        del is_dir
        path = _relative(rel_path)
        if path is None:
            return False
        excluded = False
        info: _ParentInfo = None
        prefix = ""
        for part in path.split("/"):
            prefix = f"{prefix}/{part}" if prefix else part
            excluded, info = self._step(prefix, info)
        return excluded

    def may_contain_included(self, rel_dir: str) -> bool:
        """Whether walking directory ``rel_dir`` could find something not excluded.

        True for a directory that is not excluded. For an excluded one, False only when
        BuildKit would skip it too: there is no exception at all, or every exception is a
        plain path (possibly ending in ``/*`` or ``/**``) that does not lie below it.
        """
        if not self.matches(rel_dir, is_dir=True):
            return True
        path = _relative(rel_dir)
        return path is not None and self._enter_excluded_dir(path)

    def _enter_excluded_dir(self, path: str) -> bool:
        prefixes = self._exception_prefixes
        if prefixes is None:
            return True
        below = path + "/"
        return any(prefix.startswith(below) for prefix in prefixes)

    def _step(self, path: str, parent: _ParentInfo) -> tuple[bool, tuple[bool, ...]]:
        """patternmatcher's MatchesUsingParentResults for ``path`` given its parent's result.

        A pattern that matched the parent directory matches ``path`` too; the others are
        tried on ``path`` itself, skipping those that cannot change the verdict so far.
        """
        excluded = False
        info: list[bool] = []
        for index, pattern in enumerate(self.patterns):
            matched = parent[index] if parent else False
            if not matched:
                if pattern.exception != excluded:
                    info.append(False)
                    continue
                matched = pattern.compiled.match(path)
            info.append(matched)
            if matched:
                excluded = not pattern.exception
        return excluded, tuple(info)


def _read_line(line: str) -> str | None:
    """ignorefile.ReadAll on one line: the pattern text, or None for a comment or blank."""
    if line.startswith("#"):
        return None
    pattern = go_trim_space(line)
    if not pattern:
        return None
    inverted = pattern.startswith("!")
    if inverted:
        pattern = go_trim_space(pattern[1:])
    if pattern:
        pattern = go_clean(pattern)
        if len(pattern) > 1 and pattern.startswith("/"):
            pattern = pattern[1:]
    return "!" + pattern if inverted else pattern


def _new_pattern(text: str, source: str, number: int) -> IgnorePattern | None:
    """patternmatcher.New on one pattern; None when it is blank."""
    cleaned = go_trim_space(text)
    if not cleaned:
        return None
    # Cleaned once more, "!" included, and only then split: so "/!a" from a .dockerignore
    # (whose "/" ReadAll dropped) is an exception too.
    cleaned = go_clean(cleaned)
    exception = cleaned.startswith("!")
    if exception:
        if cleaned == "!":
            raise IgnoreFileError(
                "illegal exclusion pattern '!': it needs a pattern after it",
                file=source,
                line=number,
            )
        cleaned = cleaned[1:]
    problem = match_syntax_error(cleaned)
    if problem is None:
        try:
            return IgnorePattern(cleaned, exception, number, compile_pattern(cleaned))
        except PatternSyntaxError as exc:
            problem = exc.message
    raise IgnoreFileError(
        f"syntax error in pattern {cleaned!r}: {problem}", file=source, line=number
    )


def _relative(rel_path: str) -> str | None:
    path = go_clean(rel_path)
    while path.startswith("/"):
        path = go_clean(path[1:])
    return None if path == "." else path


def _without_trailing_glob(pattern: str) -> str:
    return pattern.removesuffix("/**").removesuffix("/*")


def load_ignore(context_dir: Path, dockerfile: Path | None = None) -> IgnoreRules:
    """The ignore rules for a build, chosen as BuildKit chooses them.

    ``<Dockerfile name>.dockerignore`` beside the Dockerfile (``dockerfile`` defaults to
    ``context_dir/Dockerfile``) wins over ``context_dir/.dockerignore``; the other file is
    then not read at all. No file at all gives empty rules (nothing excluded).
    Raises :class:`IgnoreFileError` for an unreadable file or a malformed pattern.
    """
    if dockerfile is None:
        dockerfile = context_dir / "Dockerfile"
    candidates = (
        dockerfile.with_name(dockerfile.name + ".dockerignore"),
        context_dir / ".dockerignore",
    )
    for candidate in candidates:
        try:
            data = candidate.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise IgnoreFileError(
                f"cannot read: {exc.strerror or exc}", file=str(candidate)
            ) from exc
        return IgnoreRules.parse(data.decode("utf-8", "surrogateescape"), source=candidate)
    return IgnoreRules()


@dataclass
class _Frame:
    entries: Iterator[os.DirEntry[str]]
    prefix: str
    info: _ParentInfo
    path: str
    reported: bool


def walk_context(
    context_dir: Path, rules: IgnoreRules, *, include_dirs: bool = False
) -> Iterator[str]:
    """The context's entries a build may see, as ``/``-separated paths relative to it.

    Depth first, names in sorted order, as BuildKit walks. Symbolic links are yielded as
    entries and never followed, so a link pointing out of the context brings nothing from
    outside; other non-directories (files, fifos, sockets, devices) are yielded too. With
    ``include_dirs`` directories are yielded as well: those not excluded, and excluded ones
    that hold something included (just before it), as BuildKit sends them.
    Excluded directories are skipped unless an exception may re-include something below.
    Raises :class:`ContextWalkError` when a directory that is not excluded cannot be read.
    """
    root = os.fspath(context_dir)
    if not os.path.isdir(root):
        raise ContextWalkError(f"build context {root} is not a directory")
    entries = _list_dir(root, excluded=False) or []
    frames = [_Frame(iter(entries), "", None, "", True)]
    while frames:
        frame = frames[-1]
        entry = next(frame.entries, None)
        if entry is None:
            frames.pop()
            continue
        rel = frame.prefix + entry.name
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            continue  # vanished while walking
        excluded, info = rules._step(rel, frame.info)
        if excluded and not (is_dir and rules._enter_excluded_dir(rel)):
            continue
        if not excluded:
            for pending in frames:
                if not pending.reported:
                    pending.reported = True
                    if include_dirs:
                        yield pending.path
            if include_dirs or not is_dir:
                yield rel
        if is_dir:
            children = _list_dir(entry.path, excluded=excluded)
            if children is not None:
                frames.append(_Frame(iter(children), rel + "/", info, rel, not excluded))


def _list_dir(path: str, *, excluded: bool) -> list[os.DirEntry[str]] | None:
    try:
        with os.scandir(path) as listing:
            return sorted(listing, key=lambda entry: entry.name)
    except FileNotFoundError:
        return None
    except PermissionError as exc:
        if excluded:
            return None  # BuildKit, too, ignores an unreadable directory it excludes
        raise ContextWalkError(f"cannot read {path}: {exc.strerror}") from exc
    except OSError as exc:
        raise ContextWalkError(f"cannot read {path}: {exc.strerror or exc}") from exc
