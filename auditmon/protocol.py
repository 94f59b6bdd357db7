"""The wire protocol, as the monitor uses it.

The definition lives in the agent (``_auditmon_agent/wire.py``), because the agent must
run without auditmon installed; this module loads that very file, so the two sides can't
disagree, and adds the monitor's decoding and validation.
"""

from __future__ import annotations

import importlib
import sys
import types
from dataclasses import dataclass
from typing import Any

import msgpack

from auditmon.agentpath import agent_dir


def _load_wire():
    """The agent's wire.py, and the constants.py it imports, from the agent directory:
    under a package name of the monitor's own whose ``__init__`` is never run."""
    package = "auditmon._agent_protocol"
    if package not in sys.modules:
        holder = types.ModuleType(package)
        holder.__path__ = [str(agent_dir() / "_auditmon_agent")]
        sys.modules[package] = holder
    return importlib.import_module(package + ".wire")


wire = _load_wire()
#: The agent's settings and limits (``_auditmon_agent/constants.py``): the one definition
#: the agent's C and Python sides and the monitor all read.
agent_constants = sys.modules["auditmon._agent_protocol.constants"]

VERSION: int = wire.VERSION
HELLO, EVENTS, DROPPED, GOODBYE, ERROR, STATUS = (
    wire.HELLO,
    wire.EVENTS,
    wire.DROPPED,
    wire.GOODBYE,
    wire.ERROR,
    wire.STATUS,
)
REQUEST_STREAM: bytes = wire.REQUEST_STREAM
REQUEST_STATUS: bytes = wire.REQUEST_STATUS
Cut = wire.Cut
Described = wire.Described
BigInt = wire.BigInt

#: Largest message the monitor accepts; anything bigger closes that connection.
MAX_MESSAGE = 256 * 1024 * 1024

_MESSAGE_KINDS = {HELLO, EVENTS, DROPPED, GOODBYE, ERROR, STATUS}
_ARRAY = (tuple, list)  # the monitor decodes arrays as tuples; other decoders give lists


class ProtocolError(Exception):
    """The peer sent something that is not auditmon protocol version 1."""


#: Extension values decoded lately, by their encoding: a program repeats its descriptions
#: and cut values (a code object, an importer, a long path) event after event, and
#: decoding them anew took half the decoder's time on a mix of real events.  The values
#: are never changed once made (a cut value's arrays are tuples), so events share them.
#: Bounded: small encodings only, and emptied when full.
_CUTS: dict[bytes, Any] = {}  # by encoding
_DESCRIBED: dict[bytes, Any] = {}
_EXT_CACHED = 4096  # of each
_EXT_CACHED_SIZE = 512


def ext_hook(code: int, data: bytes) -> Any:
    """Turn the protocol's extension types back into values."""
    if code == wire.EXT_OBJECT:
        kept = _DESCRIBED
    elif code == wire.EXT_CUT:
        kept = _CUTS
    elif code == wire.EXT_BIGINT:
        return int(data.decode("ascii"))
    else:
        return msgpack.ExtType(code, data)
    value = kept.get(data)
    if value is not None:
        return value
    if kept is _CUTS:
        prefix, length = unpackb(data)
        value = Cut(prefix, length)
    else:
        value = Described(data.decode("utf-8", wire.UNICODE_ERRORS))
    if len(data) <= _EXT_CACHED_SIZE:
        if len(kept) >= _EXT_CACHED:
            kept.clear()
        kept[data] = value
    return value


def _unpack_options() -> dict[str, Any]:
    return {
        "raw": False,
        "ext_hook": ext_hook,
        "strict_map_key": False,
        "unicode_errors": wire.UNICODE_ERRORS,
        # Arrays decode as tuples: cheaper to build than lists, and immutable.
        "use_list": False,
    }


def unpackb(data: bytes | bytearray) -> Any:
    """One value from its whole encoding, decoded as a connection's are."""
    return msgpack.unpackb(data, **_unpack_options())


def make_unpacker(max_message: int = MAX_MESSAGE) -> msgpack.Unpacker:
    """A streaming decoder for one connection."""
    return msgpack.Unpacker(max_buffer_size=max_message, **_unpack_options())


def packb(obj: Any) -> bytes:
    """Encode as the agent does (used for recordings and tests)."""
    return wire.make_packer()[0](obj)


@dataclass(frozen=True)
class Message:
    """One decoded protocol message.  ``threads``: the names of threads an event batch
    carried, ``(thread, seq, name)`` each (a thread's first event carries its name as
    a seventh field), taken off its events, which keep the six fields readers expect."""

    kind: int
    body: Any
    threads: list[tuple[int, int, str]] | None = None


def check_message(value: Any, first: bool) -> Message:
    """Validate a decoded value as a protocol message, or raise ProtocolError."""
    if type(value) not in _ARRAY or len(value) != 2 or value[0] not in _MESSAGE_KINDS:
        raise ProtocolError(f"not an auditmon message: {_preview(value)}")
    kind, body = value
    if first and kind not in (HELLO, ERROR, STATUS):
        raise ProtocolError("the first message was not a hello")
    if kind in (HELLO, STATUS):
        if not isinstance(body, dict):
            raise ProtocolError("malformed hello")
        version = body.get("v")
        if version != VERSION:
            raise ProtocolError(
                f"unsupported protocol version {version!r} (this auditmon speaks {VERSION})"
            )
        if not isinstance(body.get("pid"), int):
            raise ProtocolError("hello without a pid")
    elif kind == EVENTS:
        if type(body) not in _ARRAY:
            raise ProtocolError("malformed event batch")
        named = False
        for event in body:  # inlined: this loop runs for every event received
            if (
                type(event) not in _ARRAY
                or len(event) != 6
                or type(event[0]) is not int
                or type(event[3]) is not str
                or type(event[4]) not in _ARRAY
            ):
                if not _names_its_thread(event):
                    raise ProtocolError("malformed event batch")
                named = True
        if named:
            return _without_thread_names(body)
    elif kind == DROPPED:
        if not isinstance(body, dict) or not isinstance(body.get("count"), int):
            raise ProtocolError("malformed drop report")
    elif kind == GOODBYE:
        if not isinstance(body, dict):
            raise ProtocolError("malformed goodbye")
    elif kind == ERROR and not isinstance(body, str):
        raise ProtocolError("malformed error message")
    return Message(kind, body)


def _names_its_thread(event: Any) -> bool:
    """A valid event with a seventh field: its thread's name."""
    return (
        type(event) in _ARRAY
        and len(event) == 7
        and type(event[0]) is int
        and type(event[2]) is int
        and type(event[3]) is str
        and type(event[4]) in _ARRAY
        and type(event[6]) is str
    )


def _without_thread_names(body: Any) -> Message:
    """An event batch whose thread names are taken off its events."""
    threads = [(event[2], event[0], event[6]) for event in body if len(event) == 7]
    events = tuple(event[:6] if len(event) == 7 else event for event in body)
    return Message(EVENTS, events, threads)


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
