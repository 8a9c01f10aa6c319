"""Image names with a tag (``[registry/]path:tag``), validated as Docker validates them."""

from __future__ import annotations

import re

from dockwright.errors import InvalidReferenceError

# The grammar of github.com/distribution/reference (regexp.go), kept to the parts a tag needs.
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"(?:{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_NAME_MAX = 255
_EXAMPLES = "e.g. hello, hello:1, localhost:5000/team/app:v2"


def _invalid(name: str, what: str) -> InvalidReferenceError:
    return InvalidReferenceError(f"invalid image name {name!r}: {what}", hint=_EXAMPLES)


def _looks_like_registry(component: str) -> bool:
    # Docker's rule: a first component is a registry host only if it could not be a path.
    return (
        "." in component
        or ":" in component
        or component == "localhost"
        or (component.startswith("["))
    )


def split_tag(name: str) -> tuple[str, str]:
    """Split a validated ``repository[:tag]`` into ``(repository, tag)``; tag ``latest`` if none.

    Raises :class:`InvalidReferenceError` for digests, bad characters, upper case in the
    repository and over-long names, saying which part is wrong.
    """
    text = name.strip()
    if not text:
        raise _invalid(name, "the name is empty")
    if "@" in text:
        raise InvalidReferenceError(
            f"{name!r} is a digest reference, not a tag",
            hint="give a name such as hello:1; images are tagged by name, not by digest",
        )
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        repository, tag = text[:colon], text[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise _invalid(
                name,
                f"tag {tag!r} must be 1-128 characters of letters, digits, '_', '.' or '-' "
                "and must not start with '.' or '-'",
            )
    else:
        repository, tag = text, "latest"
    if not repository:
        raise _invalid(name, "the repository part before ':' is empty")
    if len(repository) > _NAME_MAX:
        raise _invalid(name, f"the repository is longer than {_NAME_MAX} characters")
    components = repository.split("/")
    if len(components) > 1 and _looks_like_registry(components[0]):
        host = components.pop(0)
        if not _DOMAIN.fullmatch(host):
            raise _invalid(name, f"registry {host!r} is not a valid host[:port]")
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
    return repository, tag


def normalize_tag(name: str) -> str:
    """The canonical ``repository:tag`` for ``name``: ``hello`` → ``hello:latest``.

    A registry host stays as written (``localhost:5000/a/b`` → ``localhost:5000/a/b:latest``);
    names are not expanded to ``docker.io/library/…``. Digest references and malformed names
    raise :class:`InvalidReferenceError` with a message naming the faulty part.
    """
    repository, tag = split_tag(name)
    return f"{repository}:{tag}"


def qualified_name(name: str) -> str:
    """The fully qualified form containerd and buildx record: ``hello:1`` →
    ``docker.io/library/hello:1``, ``team/app`` → ``docker.io/team/app:latest``."""
    repository, tag = split_tag(name)
    components = repository.split("/")
    if len(components) > 1 and _looks_like_registry(components[0]):
        return f"{repository}:{tag}"
    if len(components) == 1:
        repository = f"library/{repository}"
    return f"docker.io/{repository}:{tag}"
