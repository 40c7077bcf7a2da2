"""Strict JSON type check of a message's params against its lsprotocol type.

lsprotocol's cattrs converter coerces instead of rejecting: `"uri": null` becomes the string
"None", `"uri": 5` becomes "5", `"line": "3"` and `"line": true` become ints, and a dict or a
string where an array belongs is iterated into one. So params of the wrong type would reach a
handler instead of getting InvalidParams (-32602). This walks the raw JSON along the type's
annotations first and says what does not fit. It checks JSON types only; values (enum members,
ranges such as `uinteger`) are left to the converter.
"""

from __future__ import annotations

import enum
import functools
import types as pytypes
import typing
from collections import abc
from typing import Any

import attrs

_MAX_DEPTH = 64  # deeper JSON than any LSP type describes is not walked further

_SEQUENCES = (list, tuple, abc.Sequence, abc.MutableSequence)
_MAPPINGS = (dict, abc.Mapping, abc.MutableMapping)


def _camel(name: str) -> str:
    """The JSON name of an attrs field, as lsprotocol's converter spells it."""
    parts = name.removesuffix("_").split("_")
    return parts[0] + "".join(p.title() for p in parts[1:])


@functools.cache
def _fields(cls: type[Any]) -> tuple[tuple[str, Any], ...]:
    """(JSON name, annotation) of each field of an attrs class."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # an unresolvable annotation: check nothing rather than guess
        return ()
    return tuple((_camel(f.name), hints.get(f.name, Any)) for f in attrs.fields(cls))


def params_type(message_type: type[Any]) -> Any:
    """The annotation of a request or notification class's `params` field (Any if none)."""
    if not attrs.has(message_type):
        return Any
    for name, tp in _fields(message_type):
        if name == "params":
            return tp
    return Any


def mismatch(tp: Any, value: Any, path: str = "params", depth: int = 0) -> str | None:
    """Where and how `value` (parsed JSON) does not fit `tp`; None when it fits."""
    if depth > _MAX_DEPTH or tp is Any or isinstance(tp, (str, typing.ForwardRef, typing.TypeVar)):
        return None
    origin = typing.get_origin(tp)
    if origin is typing.Union or isinstance(tp, pytypes.UnionType):
        members = typing.get_args(tp)
        if value is None and type(None) in members:
            return None
        options = [m for m in members if m is not type(None)]
        whys = [mismatch(m, value, path, depth + 1) for m in options]
        if None in whys:
            return None
        return whys[0] if len(whys) == 1 else f"{path}: fits none of its {len(whys)} types"
    if origin is typing.Literal:
        return None if value in typing.get_args(tp) else f"{path}: not one of the allowed values"
    if tp is type(None):
        return None if value is None else f"{path}: must be null"
    if tp is bool:
        return None if isinstance(value, bool) else f"{path}: must be a boolean"
    if tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f"{path}: must be an integer"
    if tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else f"{path}: must be a number"
    if tp is str:
        return None if isinstance(value, str) else f"{path}: must be a string"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum(tp, value, path)
    if isinstance(tp, type) and attrs.has(tp):
        return _object(tp, value, path, depth)
    if origin in _SEQUENCES:
        if not isinstance(value, list):
            return f"{path}: must be an array"
        args = typing.get_args(tp)
        item = args[0] if args and (origin is not tuple or args[-1] is Ellipsis) else Any
        for i, element in enumerate(value):
            why = mismatch(item, element, f"{path}[{i}]", depth + 1)
            if why is not None:
                return why
        return None
    if origin in _MAPPINGS:
        if not isinstance(value, dict):
            return f"{path}: must be an object"
        args = typing.get_args(tp)
        item = args[1] if len(args) == 2 else Any
        for key, element in value.items():
            why = mismatch(item, element, f"{path}.{key}", depth + 1)
            if why is not None:
                return why
        return None
    return None  # a type this check does not know: the converter decides


def _enum(tp: type[enum.Enum], value: Any, path: str) -> str | None:
    if issubclass(tp, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f"{path}: must be an integer"
    if issubclass(tp, str):
        return None if isinstance(value, str) else f"{path}: must be a string"
    return None


def _object(tp: Any, value: Any, path: str, depth: int) -> str | None:
    if not isinstance(value, dict):
        return f"{path}: must be an object"
    for name, field_type in _fields(tp):
        if name not in value:
            continue  # a missing required field is the converter's to reject
        why = mismatch(field_type, value[name], f"{path}.{name}", depth + 1)
        if why is not None:
            return why
    return None
