"""Reading one settings group from the environment: each field's variable is derived from its name.

A field ``max_in_flight`` of the group with prefix ``HUB_WEBHOOK_`` is read from
``HUB_WEBHOOK_MAX_IN_FLIGHT``, parsed by the field's type; an empty or absent variable
keeps the default. A field may name its variable itself (``metadata={"env": ...}``)
where an old name must keep working. Secrets are :class:`Secret`: they never print.
"""

from __future__ import annotations

import dataclasses
import hmac
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from hub.errors import ConfigError

T = TypeVar("T")


class Secret:
    """A credential: shown as ``Secret('***')`` by ``repr``, ``str`` and logs; compared in constant time."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that must send or check it."""
        return self._value

    def matches(self, candidate: str) -> bool:
        return hmac.compare_digest(self._value.encode(), candidate.encode())

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and self.matches(other._value)

    def __hash__(self) -> int:
        return hash(Secret)


def variable(prefix: str, field: dataclasses.Field[Any]) -> str:
    return str(field.metadata.get("env") or prefix + field.name.upper())


def read_group(
    cls: type[T],
    env: Mapping[str, str],
    prefix: str,
    *,
    defaults: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> T:
    """The dataclass ``cls`` with each field read from ``prefix + FIELD``, else ``defaults``, else its own.

    ``fixed`` fields are not read at all (values computed by the caller).
    """
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {**(defaults or {}), **(fixed or {})}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name in (fixed or {}) or field.metadata.get("env") is False:
            continue
        name = variable(prefix, field)
        raw = env.get(name)
        if raw is not None and (raw.strip() or field.metadata.get("empty_is_value")):
            values[field.name] = parse(name, raw.strip(), hints[field.name])
    return cls(**values)


def parse(name: str, raw: str, kind: Any) -> Any:
    """``raw`` as the type ``kind``, or a ConfigError that names the variable."""
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        [kind] = [arg for arg in typing.get_args(kind) if arg is not type(None)]
    origin = typing.get_origin(kind)
    if origin is tuple:
        item = typing.get_args(kind)[0]
        return tuple(parse(name, part.strip(), item) for part in raw.split(",") if part.strip())
    if kind is bool:
        return _bool(name, raw)
    if kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            expected = "a whole number" if kind is int else "a number"
            raise ConfigError(f"{name} must be {expected}, got {raw!r}") from None
    if kind is Secret:
        return Secret(raw)
    if kind is Path:
        return Path(raw)
    if kind is str:
        return raw
    raise TypeError(f"settings cannot read a {kind!r} ({name})")


def _bool(name: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("0", "false", "no", "off"):
        return False
    if lowered in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be true or false, got {raw!r}")
