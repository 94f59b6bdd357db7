"""Argument values in the words people read them in, where the catalog knows what an
argument means: ``open``'s flags as ``O_WRONLY|O_CREAT|O_TRUNC``, a socket's family as
``AF_INET``, an address as ``127.0.0.1:47001``, a mode as ``0o644``.

The tables are Linux's values (auditmon runs on Linux, beside the processes it
watches), written out here rather than read from ``os`` and ``socket``: the model
imports no I/O modules.
"""

from __future__ import annotations

from typing import Any

from auditmon.model import values

_OPEN_ACCESS = {0: "O_RDONLY", 1: "O_WRONLY", 2: "O_RDWR"}
_OPEN_FLAGS = (
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o10000, "O_DSYNC"),
    (0o40000, "O_DIRECT"),
    (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o4010000, "O_SYNC"),
    (0o10000000, "O_PATH"),
    (0o20200000, "O_TMPFILE"),
)
_FAMILIES = {
    0: "AF_UNSPEC",
    1: "AF_UNIX",
    2: "AF_INET",
    10: "AF_INET6",
    16: "AF_NETLINK",
    17: "AF_PACKET",
    38: "AF_ALG",
    40: "AF_VSOCK",
}
_TYPES = {1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM", 5: "SOCK_SEQPACKET"}
_TYPE_FLAGS = ((0o4000, "SOCK_NONBLOCK"), (0o2000000, "SOCK_CLOEXEC"))
_ADDRESS_EVENTS = frozenset(
    {"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.__new__"}
)


def open_flags(flags: int) -> str:
    names = [_OPEN_ACCESS.get(flags & 3, f"access={flags & 3}")]
    rest = flags & ~3
    for bit, name in _OPEN_FLAGS:
        if rest & bit == bit and bit:
            names.append(name)
            rest &= ~bit
    if rest:
        names.append(oct(rest))
    return "|".join(names)


def socket_type(kind: int) -> str:
    names = []
    rest = kind
    for bit, name in _TYPE_FLAGS:
        if rest & bit:
            names.append(name)
            rest &= ~bit
    names.insert(0, _TYPES.get(rest, str(rest)))
    return "|".join(names)


def address(value: Any) -> str | None:
    """``host:port`` (``[host]:port`` for IPv6) for an (host, port, …) pair."""
    if type(value) in (list, tuple) and len(value) >= 2:
        host, port = value[0], value[1]
        if type(host) is str and type(port) is int:
            return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return None


def decoded(event: str, argument: str, value: Any) -> str | None:
    """The readable form of an argument's value, or None where the raw one is it."""
    if type(value) is bool:
        return None
    if argument == "flags" and event in ("open", "os.open") and type(value) is int:
        return open_flags(value)
    if argument == "family" and type(value) is int:
        return _FAMILIES.get(value)
    if argument == "type" and event == "socket.__new__" and type(value) is int:
        return socket_type(value)
    if argument == "address" and event in _ADDRESS_EVENTS:
        return address(value)
    if argument == "mode" and event in ("os.chmod", "os.mkdir", "os.open") and type(value) is int:
        return oct(value)
    return None


def shown(event: str, argument: str, value: Any, limit: int = 200) -> str:
    """One line for the value: its readable form where there is one, else its text."""
    readable = decoded(event, argument, value)
    return readable if readable is not None else values.display(value, limit)
