"""``RUN --mount=…``: one comma-separated (CSV) list of options per mount, BuildKit's rules.

``type`` is ``bind`` (the default), ``cache``, ``tmpfs``, ``secret`` or ``ssh``. Options:
``target``/``dst``/``destination``, ``source``/``src``, ``from``, ``readonly``/``ro``,
``readwrite``/``rw``, ``id``, ``sharing`` (cache), ``mode``/``uid``/``gid`` (cache, secret,
ssh), ``size`` (tmpfs), ``required`` (secret, ssh) and ``env`` (secret).

BuildKit expands variables in option values later, per build; ``from`` is the exception and
may not use them. At parse time an option whose value still needs expansion (it holds ``$``,
a quote or an escape) is recorded in :attr:`Mount.deferred` and checked when the planner
calls :func:`parse_mount` again with an ``expand`` function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, cast

from dockwright.dockerfile.flags import is_literal
from dockwright.dockerfile.gocompat import (
    GoValueError,
    go_parse_bool,
    go_parse_uint,
    go_quote,
    go_ram_in_bytes,
)
from dockwright.dockerfile.parser import suggest

__all__ = ["MOUNT_TYPES", "Mount", "MountError", "MountType", "Sharing", "parse_mount"]

MountType = Literal["bind", "cache", "tmpfs", "secret", "ssh"]
Sharing = Literal["shared", "private", "locked"]
MOUNT_TYPES: tuple[MountType, ...] = ("bind", "cache", "tmpfs", "secret", "ssh")
_SHARING: tuple[Sharing, ...] = ("shared", "private", "locked")
_KEYS = (
    "type", "from", "source", "target", "readonly", "id", "sharing", "required", "size", "mode",
    "uid", "gid", "src", "dst", "destination", "ro", "rw", "readwrite", "env",
)  # fmt: skip


class MountError(ValueError):
    """A ``--mount`` value BuildKit rejects; ``hint`` says what would work."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True, slots=True, kw_only=True)
class Mount:
    """One ``RUN --mount``. Strings are raw (unexpanded); ``spec`` is the flag value as written.

    ``readonly`` is resolved as BuildKit does when neither ``ro`` nor ``rw`` is given: cache
    and tmpfs mounts are writable, the others read-only. ``deferred`` names the options whose
    values still need variable expansion (their typed fields keep their defaults).
    """

    type: MountType = "bind"
    target: str | None = None
    source: str | None = None
    from_: str | None = None
    readonly: bool = True
    id: str | None = None
    sharing: Sharing | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    size: int | None = None
    required: bool = False
    env: str | None = None
    spec: str = ""
    deferred: tuple[str, ...] = ()


def _csv_fields(text: str) -> list[str]:
    """One CSV record as Go's encoding/csv reads it (quotes double as ``""`` inside)."""
    if text == "":
        raise MountError("empty mount", hint="write --mount=type=<type>,target=<path>")
    fields: list[str] = []
    i = 0
    n = len(text)
    while True:
        if i < n and text[i] == '"':
            i += 1
            value: list[str] = []
            while True:
                close = text.find('"', i)
                if close < 0:
                    raise MountError(
                        'failed to parse csv mounts: extraneous or missing " in quoted-field'
                    )
                value.append(text[i:close])
                i = close + 1
                if i < n and text[i] == '"':
                    value.append('"')
                    i += 1
                    continue
                break
            if i < n and text[i] != ",":
                raise MountError(
                    'failed to parse csv mounts: extraneous or missing " in quoted-field'
                )
            fields.append("".join(value))
        else:
            comma = text.find(",", i)
            end = n if comma < 0 else comma
            value_text = text[i:end]
            if '"' in value_text:
                raise MountError('failed to parse csv mounts: bare " in non-quoted-field')
            fields.append(value_text)
            i = end
        if i >= n:
            return fields
        i += 1  # the comma
        if i == n:
            fields.append("")
            return fields


class _Builder:
    """Mutable state while reading one mount's options in order (as BuildKit does)."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.values: dict[str, object] = {"type": "bind"}
        self.readonly_set = False
        self.deferred: list[str] = []

    @property
    def type(self) -> str:
        return str(self.values["type"])

    def flag(self, key: str, field_text: str) -> None:
        if key in ("readonly", "ro"):
            self._readonly(True)
        elif key in ("readwrite", "rw"):
            self._readonly(False)
        elif key == "required":
            self._require_type(key, ("secret", "ssh"))
            self.values["required"] = True
        elif key in _KEYS:
            raise MountError(
                f"invalid field '{field_text}' must be a key=value pair",
                hint=f"write {key}=<value>",
            )
        else:
            raise _unknown_key(key, field_text)

    def _readonly(self, value: bool) -> None:
        self.values["readonly"] = value
        self.readonly_set = True

    def _require_type(self, key: str, types: tuple[str, ...]) -> None:
        if "type" in self.deferred:
            return
        if self.type not in types:
            allowed = " or ".join(types)
            raise MountError(
                f"unexpected key '{key}' for mount type '{self.type}'",
                hint=f"{key} is for {allowed} mounts (put type= first)",
            )

    def option(self, key: str, value: str, field_text: str) -> None:
        handler = _OPTIONS.get(key)
        if handler is None:
            raise _unknown_key(key, field_text)
        handler(self, key, value)


def _unknown_key(key: str, field_text: str) -> MountError:
    close = suggest(key, _KEYS)
    hint = f"did you mean {close}?" if close else "valid keys: " + ", ".join(_KEYS)
    return MountError(f"unexpected key '{key}' in '{field_text}'", hint=hint)


def _set_type(b: _Builder, key: str, value: str) -> None:
    lowered = value.lower()
    if lowered not in MOUNT_TYPES:
        close = suggest(lowered, MOUNT_TYPES)
        hint = f"did you mean {close}?" if close else "mount types: " + ", ".join(MOUNT_TYPES)
        raise MountError(f"unsupported mount type {go_quote(value)}", hint=hint)
    b.values["type"] = lowered


def _set_string(name: str) -> Callable[[_Builder, str, str], None]:
    def setter(b: _Builder, key: str, value: str) -> None:
        b.values[name] = value

    return setter


def _set_bool(b: _Builder, key: str, value: str) -> None:
    try:
        parsed = go_parse_bool(value)
    except GoValueError:
        raise MountError(f"invalid value for {key}: {value}", hint="use true or false") from None
    if key in ("readonly", "ro"):
        b._readonly(parsed)
    elif key in ("readwrite", "rw"):
        b._readonly(not parsed)
    else:
        b._require_type(key, ("secret", "ssh"))
        b.values["required"] = parsed


def _set_size(b: _Builder, key: str, value: str) -> None:
    b._require_type(key, ("tmpfs",))
    try:
        b.values["size"] = go_ram_in_bytes(value)
    except GoValueError:
        raise MountError(
            f"invalid value for {key}: {value}", hint="use a size such as 64m or 1g"
        ) from None


def _set_sharing(b: _Builder, key: str, value: str) -> None:
    if value.lower() not in _SHARING:
        raise MountError(
            f"unsupported sharing value {go_quote(value)}", hint="use shared, private or locked"
        )
    b.values["sharing"] = value.lower()


def _set_number(base: int) -> Callable[[_Builder, str, str], None]:
    def setter(b: _Builder, key: str, value: str) -> None:
        try:
            b.values[key] = go_parse_uint(value, base, 32)
        except GoValueError:
            hint = "use an octal mode such as 0644" if base == 8 else "use a number such as 1000"
            raise MountError(f"invalid value {value} for {key}", hint=hint) from None

    return setter


_OPTIONS: dict[str, Callable[[_Builder, str, str], None]] = {
    "type": _set_type,
    "from": _set_string("from_"),
    "source": _set_string("source"),
    "src": _set_string("source"),
    "target": _set_string("target"),
    "dst": _set_string("target"),
    "destination": _set_string("target"),
    "readonly": _set_bool,
    "ro": _set_bool,
    "readwrite": _set_bool,
    "rw": _set_bool,
    "required": _set_bool,
    "size": _set_size,
    "id": _set_string("id"),
    "sharing": _set_sharing,
    "mode": _set_number(8),
    "uid": _set_number(10),
    "gid": _set_number(10),
    "env": _set_string("env"),
}
_STRING_KEYS = frozenset({"from", "source", "src", "target", "dst", "destination", "id", "env"})


def parse_mount(spec: str, *, expand: Callable[[str], str] | None = None) -> Mount:
    """Parse one ``--mount`` value (``type=cache,target=/root/.cache,sharing=locked``).

    Without ``expand``, values that need variable expansion are kept raw (string options) or
    deferred (typed options); with it, every value is expanded first, as BuildKit does at
    build time. Raises :class:`MountError`.
    """
    b = _Builder(spec)
    for field_text in _csv_fields(spec):
        key, equals, value = field_text.partition("=")
        key = key.lower()
        if not equals:
            b.flag(key, field_text)
            continue
        if expand is not None:
            value = expand(value)
        elif key == "from":
            dollar = value.find("$")
            if dollar != -1 and dollar != len(value) - 1:
                raise MountError(
                    "'from' doesn't support variable expansion, define alias stage instead",
                    hint="add a stage such as 'FROM $IMAGE AS deps' and use from=deps",
                )
        elif not is_literal(value) and key not in _STRING_KEYS:
            if key not in _OPTIONS:
                raise _unknown_key(key, field_text)
            b.deferred.append(key)
            continue
        b.option(key, value, field_text)
    return _finish(b)


def _finish(b: _Builder) -> Mount:
    values = b.values
    mount_type = b.type
    type_known = "type" not in b.deferred
    if type_known and mount_type not in ("secret", "ssh", "cache"):
        for key in ("mode", "uid", "gid"):
            if key in values:
                raise MountError(
                    f"{key} not allowed for {go_quote(mount_type)} type mounts",
                    hint=f"{key} is for cache, secret and ssh mounts",
                )
    readonly = bool(values.get("readonly", True))
    if not b.readonly_set:
        readonly = mount_type not in ("cache", "tmpfs")
    if type_known and "sharing" in values and mount_type != "cache":
        raise MountError(
            f"invalid cache sharing set for {mount_type} mount", hint="sharing is for cache mounts"
        )
    if type_known and mount_type == "secret":
        if values.get("from_"):
            raise MountError("secret mount should not have a from")
        has_any = any(values.get(name) for name in ("source", "target", "id")) or "env" in values
        if not has_any and not b.deferred:
            raise MountError(
                "invalid secret mount. one of source, target required",
                hint="name the secret with id=<id> (and optionally target= or env=)",
            )
        if values.get("source") and values.get("id"):
            raise MountError("both source and id can't be set")
    return Mount(
        type=cast(MountType, mount_type),
        target=_opt_str(values.get("target")),
        source=_opt_str(values.get("source")),
        from_=_opt_str(values.get("from_")),
        readonly=readonly,
        id=_opt_str(values.get("id")),
        sharing=cast(Sharing | None, values.get("sharing")),
        mode=_opt_int(values.get("mode")),
        uid=_opt_int(values.get("uid")),
        gid=_opt_int(values.get("gid")),
        size=_opt_int(values.get("size")),
        required=bool(values.get("required", False)),
        env=_opt_str(values.get("env")),
        spec=b.spec,
        deferred=tuple(b.deferred),
    )


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
