"""Image names with a tag (``[registry/]path:tag``), as the local store keeps them.

The grammar lives in :mod:`dockwright.image.reference`; the store keeps names short, as
written (``hello:1``, not ``docker.io/library/hello:1``), and never by digest.
"""

from __future__ import annotations

from dockwright.errors import InvalidReferenceError
from dockwright.image.reference import Reference, split_reference


def split_tag(name: str) -> tuple[str, str]:
    """Split a validated ``repository[:tag]`` into ``(repository, tag)``; tag ``latest`` if none.

    Raises :class:`InvalidReferenceError` for digests, bad characters, upper case in the
    repository and over-long names, saying which part is wrong.
    """
    if "@" in name:
        raise InvalidReferenceError(
            f"{name!r} is a digest reference, not a tag",
            hint="give a name such as hello:1; images are tagged by name, not by digest",
        )
    parts = split_reference(name)
    return parts.repository, parts.tag or "latest"


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
    split_tag(name)  # refuses digests with the store's message
    return str(Reference.parse(name))
