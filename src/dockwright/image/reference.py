"""Image references (``[registry/]path[:tag][@digest]``), parsed and normalised like Docker's.

The grammar is github.com/distribution/reference's (regexp.go, normalize.go): a first path
component is a registry host only when it holds a ``.`` or a ``:``, is ``localhost`` or an
IPv6 literal; anything else is a Docker Hub name (``golang`` → ``docker.io/library/golang``).
:func:`split_reference` keeps a name as written (the local store's short tags use it);
:class:`Reference` is the fully qualified value the registry client works with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Self

from dockwright.errors import ImageFormatError, InvalidReferenceError
from dockwright.image.digest import Digest

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
# Other spellings of Docker Hub people (and docker's config.json) use.
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"(?:{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_HEX64 = re.compile(r"[a-f0-9]{64}")
NAME_MAX = 255
EXAMPLES = "e.g. hello, hello:1, localhost:5000/team/app:v2"


def _invalid(name: str, what: str) -> InvalidReferenceError:
    return InvalidReferenceError(f"invalid image name {name!r}: {what}", hint=EXAMPLES)


def looks_like_registry(component: str) -> bool:
    """Docker's rule: a first component names a registry host only if it could not be a path."""
    return "." in component or ":" in component or component == "localhost" or component[:1] == "["


@dataclass(frozen=True, slots=True)
class ReferenceParts:
    """A reference split as written: nothing added, nothing expanded."""

    registry: str | None
    path: str
    tag: str | None
    digest: Digest | None

    @property
    def repository(self) -> str:
        """``registry/path`` as written (just ``path`` when no registry was given)."""
        return f"{self.registry}/{self.path}" if self.registry else self.path


def validate_tag(tag: str, name: str | None = None) -> str:
    """Return ``tag`` if it is a valid tag; else raise :class:`InvalidReferenceError`."""
    if not _TAG.fullmatch(tag):
        raise _invalid(
            name if name is not None else tag,
            f"tag {tag!r} must be 1-128 characters of letters, digits, '_', '.' or '-' "
            "and must not start with '.' or '-'",
        )
    return tag


def split_reference(text: str) -> ReferenceParts:
    """Split and validate ``[registry/]path[:tag][@digest]`` without normalising it.

    Raises :class:`InvalidReferenceError` naming the faulty part: an empty name, bad
    characters, upper case in the repository, a malformed tag, digest or registry host, or a
    name over 255 characters.
    """
    name = text
    text = text.strip()
    if not text:
        raise _invalid(name, "the name is empty")
    digest: Digest | None = None
    if "@" in text:
        text, _, digest_text = text.partition("@")
        try:
            digest = Digest.parse(digest_text)
        except ImageFormatError as exc:
            raise InvalidReferenceError(
                f"invalid image reference {name!r}: {exc.message}",
                hint="a digest looks like sha256: followed by 64 hex digits",
            ) from exc
        if not text:
            raise _invalid(name, "the repository part before '@' is empty")
    slash = text.rfind("/")
    colon = text.rfind(":")
    tag: str | None = None
    if colon > slash:
        repository, tag = text[:colon], validate_tag(text[colon + 1 :], name)
    else:
        repository = text
    if not repository:
        raise _invalid(name, "the repository part before ':' is empty")
    if len(repository) > NAME_MAX:
        raise _invalid(name, f"the repository is longer than {NAME_MAX} characters")
    components = repository.split("/")
    registry: str | None = None
    if len(components) > 1 and looks_like_registry(components[0]):
        registry = components.pop(0)
        if not _DOMAIN.fullmatch(registry):
            raise _invalid(name, f"registry {registry!r} is not a valid host[:port]")
    for component in components:
        if not component:
            raise _invalid(name, "it has an empty path component ('//' or a '/' at an end)")
        if component != component.lower():
            raise _invalid(name, "repository names must be lowercase")
        if not _COMPONENT.fullmatch(component):
            raise _invalid(
                name,
                f"path component {component!r} may only hold a-z, 0-9 and single '.', '_', "
                "'__' or '-' separators between letters or digits",
            )
    return ReferenceParts(registry, "/".join(components), tag, digest)


def normalize_registry(host: str) -> str:
    """The canonical name of a registry host: Docker Hub's spellings become ``docker.io``."""
    lowered = host.lower()
    return DOCKER_HUB if lowered in DOCKER_HUB_ALIASES else host


@dataclass(frozen=True, slots=True)
class Reference:
    """A fully qualified image reference: ``registry/repository[:tag][@digest]``.

    Build one with :meth:`parse`. When there is no digest there is always a tag (``latest``
    when none was written); with a digest the tag is kept only if it was written.
    """

    registry: str
    repository: str
    tag: str | None = None
    digest: Digest | None = None

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse and normalise like Docker: ``golang`` → ``docker.io/library/golang:latest``.

        Raises :class:`InvalidReferenceError` with a message naming the faulty part.
        """
        parts = split_reference(text)
        registry = normalize_registry(parts.registry) if parts.registry else DOCKER_HUB
        path = parts.path
        if registry == DOCKER_HUB and "/" not in path:
            path = f"library/{path}"
        if parts.registry is None and _HEX64.fullmatch(parts.path):
            raise InvalidReferenceError(
                f"invalid image reference {text!r}: a 64-character hex name looks like an "
                "image ID, not a repository",
                hint="write a digest as name@sha256:<hex>",
            )
        tag = parts.tag
        if tag is None and parts.digest is None:
            tag = "latest"
        return cls(registry, path, tag, parts.digest)

    @property
    def name(self) -> str:
        """``registry/repository``, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def api_host(self) -> str:
        """The host serving the registry API (``registry-1.docker.io`` for Docker Hub)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def identifier(self) -> str:
        """What goes after ``/manifests/``: the digest if there is one, else the tag."""
        if self.digest is not None:
            return str(self.digest)
        return self.tag or "latest"

    @property
    def familiar(self) -> str:
        """Docker's short form: ``golang:1.23``, ``team/app``, ``localhost:5000/x:1``."""
        name = self.name
        if self.registry == DOCKER_HUB:
            name = self.repository.removeprefix("library/")
        return name + self._suffix()

    def with_tag(self, tag: str) -> Reference:
        """The same repository at ``tag`` (no digest)."""
        return replace(self, tag=validate_tag(tag), digest=None)

    def with_digest(self, digest: Digest) -> Reference:
        """The same repository at ``digest`` (no tag)."""
        return replace(self, tag=None, digest=digest)

    def _suffix(self) -> str:
        out = f":{self.tag}" if self.tag else ""
        if self.digest is not None:
            out += f"@{self.digest}"
        return out

    def __str__(self) -> str:
        return self.name + self._suffix()
