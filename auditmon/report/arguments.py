"""Reading audit events' arguments as the agent summarised them: text out of strings,
bytes and cut values, socket addresses, open modes, environments, module files."""

from __future__ import annotations

import functools
import hashlib
import re
from typing import Any

from auditmon import protocol

_O_CREAT, _O_EXCL, _O_PATH = 0o100, 0o200, 0o10000000
_SOCKET = re.compile(r"socket (AF_\w+|\d+) (SOCK_\w+|\d+)")


def open_ops(mode: Any, flags: Any) -> tuple[str, ...]:
    """What an open does: read, written, or both; ``created`` for an exclusive create."""
    if type(flags) is int:
        if flags & _O_PATH:
            return ()
        access = flags & 3
        ops = ("read",) if access == 0 else ("written",) if access == 1 else ("read", "written")
        if flags & _O_CREAT and flags & _O_EXCL:
            ops = ("created", *ops)
        return ops
    if type(mode) is str:
        ops = ()
        if "r" in mode or "+" in mode:
            ops += ("read",)
        if any(c in mode for c in "wax+"):
            ops += ("written",)
        if "x" in mode:
            ops = ("created", *ops)
        return ops or ("read",)
    return ("read",)


def module_of(pending: list[str], filename: str) -> int | None:
    """Which pending import (the latest first) ``filename`` is the code of: the one whose
    dotted name is the file's path tail (``pkg/mod.py``, ``pkg/__init__.py``), else one
    whose last part is the file's name (a vendored module imported under an alias:
    ``pkg_resources.extern.packaging`` from ``_vendor/packaging/__init__.py``)."""
    stem = filename.rsplit(".", 1)[0]
    if stem.endswith("/__init__"):
        stem = stem[:-9]
    last = stem[stem.rfind("/") + 1 :]
    dotted_last = "." + last
    fallback = None
    named = [i for i, name in enumerate(pending) if name == last or name.endswith(dotted_last)]
    for index in reversed(named):
        name = pending[index]
        if stem.endswith("/" + name.replace(".", "/")):
            return index
        if fallback is None:
            fallback = index
    return fallback


def items(value: Any) -> list[Any]:
    if type(value) is protocol.Cut:
        value = value.value
    if type(value) in (list, tuple):
        return list(value)
    return [] if value is None else [value]


def text_of(value: Any) -> str | None:
    """A value as text: strings as they are, bytes decoded as the file system does."""
    t = type(value)
    if t is str:
        return value
    if t is bytes:
        return value.decode("utf-8", "surrogateescape")
    if t is protocol.Cut and type(value.value) in (str, bytes):
        return text_of(value.value) + "…"
    if t is protocol.Described:
        return value.text
    if t is int:
        return str(value)
    return None


def path_text(value: Any) -> str | None:
    if type(value) is int:
        return None  # a file descriptor
    return text_of(value)


def length_of(value: Any) -> int | None:
    if type(value) is protocol.Cut:
        return value.length
    return len(value) if type(value) in (str, bytes) else None


def port_of(value: Any) -> Any:
    if type(value) is str and value.isdigit():
        return int(value)
    return value if type(value) in (int, str) else None


def socket_address(sock: Any, address: Any) -> tuple[str, str, Any]:
    """(transport, host or path, port) of a socket address."""
    family, kind = _family_kind(sock.text) if type(sock) is protocol.Described else ("", "")
    if type(address) in (list, tuple) and len(address) >= 2:
        host = text_of(address[0]) or ""
        transport = "udp" if kind == "SOCK_DGRAM" else "tcp" if kind else "ip"
        return transport, host, address[1] if type(address[1]) is int else text_of(address[1])
    text = text_of(address)
    if text is not None:
        if text.startswith("\x00"):
            text = "@" + text[1:]  # an abstract socket
        return "unix", text, None
    return family or "?", repr(address), None


@functools.lru_cache(maxsize=4096)
def _family_kind(description: str) -> tuple[str, str]:
    """A socket's address family and kind, from its description (kept: a program's
    sockets are described alike)."""
    match = _SOCKET.match(description)
    return match.groups() if match else ("", "")  # type: ignore[return-value]


def env_key(env: Any) -> Any:
    """An explicit environment, as a hashable value (None: inherited)."""
    if env is None:
        return None
    cut = type(env) is protocol.Cut
    length = env.length if cut else None
    if cut:
        env = env.value
    if type(env) is not dict:
        return ("?", text_of(env))
    pairs = tuple(sorted((text_of(k) or "?", text_of(v) or "") for k, v in env.items()))
    return ("explicit", pairs, length)


def digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:16]
