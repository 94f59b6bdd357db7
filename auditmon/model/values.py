"""One-line display text for summarised argument values (what the UI and filters see)."""

from __future__ import annotations

from typing import Any

from auditmon import protocol
from auditmon.text import shorten


def display(value: Any, limit: int = 200) -> str:
    """A compact, single-line rendering; long texts end with an ellipsis."""
    text = _render(value)
    text = text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return shorten(text, limit)


def _render(value: Any) -> str:
    t = type(value)
    if t is str:
        return value
    if value is None or t in (int, float, bool):
        return repr(value)
    if t is bytes:
        return repr(value)
    if t is list or t is tuple:
        return "[" + ", ".join(_nested(v) for v in value) + "]"
    if t is dict:
        return "{" + ", ".join(f"{_nested(k)}: {_nested(v)}" for k, v in value.items()) + "}"
    if t is protocol.Cut:
        inner = value.value
        if type(inner) is str:
            return f"{inner}… ({value.length:,} chars)"
        if type(inner) is bytes:
            return f"{inner!r}… ({value.length:,} bytes)"
        shown = _render(inner)
        return f"{shown[:-1]}, … ({value.length:,} items){shown[-1:]}"
    if t is protocol.Described:
        return f"<{value.text}>"
    return f"<{t.__name__}>"


def _nested(value: Any) -> str:
    return repr(value) if type(value) is str else _render(value)


def key(value: Any) -> Any:
    """A hashable stand-in for counting equal values."""
    t = type(value)
    if value is None or t in (str, int, float, bool, bytes):
        return value
    return display(value, 500)
