"""Argument values in JSON: JSON cannot hold every value an event carries, so the
others become small tagged objects (``{"$bytes": ...}`` and so on; see the README)."""

from __future__ import annotations

import base64
import math
from typing import Any

import msgpack

from auditmon import protocol


def to_json(value: Any) -> Any:
    """A JSON-safe rendering of a summarised argument value (see the README)."""
    t = type(value)
    if value is None or t is str or t is int or t is bool:
        return value
    if t is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if t is list or t is tuple:
        return [to_json(v) for v in value]
    if t is bytes:
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if t is dict:
        if all(type(k) is str and not k.startswith("$") for k in value):
            return {k: to_json(v) for k, v in value.items()}
        return {"$dict": [[to_json(k), to_json(v)] for k, v in value.items()]}
    if t is protocol.Cut:
        return {"$cut": to_json(value.value), "length": value.length}
    if t is protocol.Described:
        return {"$object": value.text}
    if t is msgpack.ExtType:
        return {"$ext": value.code, "data": base64.b64encode(value.data).decode("ascii")}
    return {"$object": f"{t.__name__} value"}


def from_json(value: Any) -> Any:
    """The inverse of ``to_json``."""
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$bytes" in value:
        return base64.b64decode(value["$bytes"])
    if "$cut" in value:
        return protocol.Cut(from_json(value["$cut"]), value["length"])
    if "$object" in value:
        return protocol.Described(value["$object"])
    if "$float" in value:
        return float(value["$float"])
    if "$dict" in value:
        return {_hashable(from_json(k)): from_json(v) for k, v in value["$dict"]}
    if "$ext" in value:
        return msgpack.ExtType(value["$ext"], base64.b64decode(value["data"]))
    return {k: from_json(v) for k, v in value.items()}


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value
