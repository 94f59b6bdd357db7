"""The auditmon wire protocol, version 1: the single definition shared by agent and monitor.

It lives with the agent because the agent must run where auditmon is not installed;
the monitor loads this same file (see ``auditmon.protocol``).  Stdlib only, 3.8+ syntax.

A connection carries a stream of msgpack values.  Each message is a two-element array
``[kind, body]``:

* ``HELLO``   agent -> monitor, first message: a map with ``v`` (protocol version),
  ``pid``, ``ppid``, ``argv``, ``executable``, ``cwd``, ``python``, ``start`` (epoch
  seconds), ``agent`` (implementation: ``python``), ``mode`` (``run``/``attach``),
  ``events`` (events counted before this connection) and, in attach mode,
  ``first_seq`` (the oldest event still held in the ring).
* ``EVENTS``  a batch: an array of ``[seq, time, thread, name, args, stack]``; ``args``
  is an array of summarised values, ``stack`` is nil or an array of
  ``[file, line, function]`` (innermost first).  An event may carry a seventh field,
  its thread's ``threading`` name (``""``: no name), for its events from this one on:
  sent with a thread's first event, and again where a new thread reuses an ident.
* ``DROPPED`` a map ``{"count": n}``: n more events were raised but not sent.
* ``GOODBYE`` a map ``{"time", "exit_code", "last_seq"}``: the process is exiting; the
  events it raises while shutting down may still follow until the connection closes.
* ``ERROR``   a string: the agent refuses this connection (for instance already attached).
* ``STATUS``  a map answering a status request (attach mode): ``pid``, ``argv``,
  ``events``, ``attached``, ``start`` and, from agents that have it, ``paused`` (an
  injected agent whose last monitor has gone: it records nothing until the next).

An attaching monitor opens the conversation with one line, ``REQUEST_STREAM`` or
``REQUEST_STATUS``.

Summarised values are msgpack nil, bool, int, float, str, bin, array and map, plus three
extension types: ``EXT_CUT`` (payload: msgpack ``[kept_prefix, original_length]``),
``EXT_OBJECT`` (payload: UTF-8 description of a value shown without running its code)
and ``EXT_BIGINT`` (payload: ASCII decimal of an int outside 64 bits).
"""

from . import constants as _constants
from .constants import EXT_BIGINT, EXT_CUT, EXT_OBJECT

# The numbers are constants.py's, which the C extension shares.
VERSION = _constants.WIRE_VERSION

HELLO = _constants.WIRE_HELLO
EVENTS = _constants.WIRE_EVENTS
DROPPED = _constants.WIRE_DROPPED
GOODBYE = _constants.WIRE_GOODBYE
ERROR = _constants.WIRE_ERROR
STATUS = _constants.WIRE_STATUS

REQUEST_STREAM = b"auditmon-attach 1\n"
REQUEST_STATUS = b"auditmon-status 1\n"

UNICODE_ERRORS = "surrogatepass"


class Cut(object):
    """A value shortened by the agent: the kept prefix and the original length."""

    __slots__ = ("value", "length")

    def __init__(self, value, length):
        self.value = value
        self.length = length

    def __eq__(self, other):
        return type(other) is Cut and other.value == self.value and other.length == self.length

    def __hash__(self):
        return hash((Cut, self.length))

    def __repr__(self):
        return "Cut(%r, %d)" % (self.value, self.length)


class Described(object):
    """A value the agent may not look into (it could run user code): a short description."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def __eq__(self, other):
        return type(other) is Described and other.text == self.text

    def __hash__(self):
        return hash((Described, self.text))

    def __repr__(self):
        return "Described(%r)" % (self.text,)


class BigInt(object):
    """An int too wide for msgpack's 64 bits, carried as decimal text."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return type(other) is BigInt and other.value == self.value

    def __hash__(self):
        return hash(self.value)

    def __repr__(self):
        return "BigInt(%d)" % (self.value,)


def ext_payload(obj, pack):
    """(code, payload bytes) of an extension value; ``pack`` encodes nested values."""
    t = type(obj)
    if t is Cut:
        return EXT_CUT, pack([obj.value, obj.length])
    if t is Described:
        return EXT_OBJECT, obj.text.encode("utf-8", UNICODE_ERRORS)
    if t is BigInt:
        return EXT_BIGINT, str(obj.value).encode("ascii")
    raise TypeError("cannot encode %s" % (t.__name__,))


# An object's address, as id() gives it but without the builtins.id event id() raises
# (and a target's own audit hook would see): object's own hash, read from object.
address = object.__hash__

_pack_struct = _float_item = _event_head16 = _event_head32 = None
_u8_item = _u16_item = _u32_item = None


def _load_struct():
    """struct loads a shared library: only when first needed.  Its C half itself, as
    ``struct.py`` only re-exports it and would cost every process its own import."""
    global _pack_struct, _float_item, _event_head16, _event_head32
    global _u8_item, _u16_item, _u32_item
    import _struct as struct  # (core.start_writer loads it first, without a search)

    _pack_struct = struct.pack
    _float_item = struct.Struct(">Bd").pack
    # An event's first bytes in one call: its array header, its seq as a uint16 or a
    # uint32 (every seq's but the first 255's and those past 2**32's), its time.
    _event_head16 = struct.Struct(">BBHBd").pack
    _event_head32 = struct.Struct(">BBIBd").pack
    _u8_item = struct.Struct(">BB").pack
    _u16_item = struct.Struct(">BH").pack
    _u32_item = struct.Struct(">BI").pack


def packb(obj):
    """Encode ``obj`` exactly as ``msgpack.packb(obj, use_bin_type=True)`` would.

    The fallback for interpreters without msgpack; tests prove byte equality.
    """
    if _pack_struct is None:
        _load_struct()
    out = []
    _pack_into(obj, out.append)
    return b"".join(out)


def _pack_into(obj, write):
    t = type(obj)
    if obj is None:
        write(b"\xc0")
    elif t is bool:
        write(b"\xc3" if obj else b"\xc2")
    elif t is int:
        _pack_int(obj, write)
    elif t is str:
        write(_str_bytes(obj))
    elif t is float:
        write(_float_item(0xCB, obj))
    elif t is list or t is tuple:
        write(_array_header(len(obj)))
        for item in obj:
            _pack_into(item, write)
    elif t is dict:
        n = len(obj)
        if n < 16:
            write(bytes((0x80 | n,)))
        elif n < 0x10000:
            write(_pack_struct(">BH", 0xDE, n))
        else:
            write(_pack_struct(">BI", 0xDF, n))
        for key, value in obj.items():
            _pack_into(key, write)
            _pack_into(value, write)
    elif t is bytes:
        n = len(obj)
        if n < 0x100:
            write(_pack_struct(">BB", 0xC4, n))
        elif n < 0x10000:
            write(_pack_struct(">BH", 0xC5, n))
        else:
            write(_pack_struct(">BI", 0xC6, n))
        write(obj)
    elif t is Described:
        write(_described_bytes(obj))
    else:
        _pack_ext(*ext_payload(obj, packb), write=write)


def _pack_ext(code, data, write):
    n = len(data)
    fixed = _FIXEXT.get(n)
    if fixed is not None:
        write(_pack_struct(">Bb", fixed, code))
    elif n < 0x100:
        write(_pack_struct(">BBb", 0xC7, n, code))
    elif n < 0x10000:
        write(_pack_struct(">BHb", 0xC8, n, code))
    else:
        write(_pack_struct(">BIb", 0xC9, n, code))
    write(data)


# A description's encoding by its text, for both encoders: the same few (a frame, a
# generator, a lock...) come at every event of their kind.  Bounded, as texts with a
# file descriptor or a line number in them vary.
DESCRIBED_CACHE_SIZE = 1024
_described = {}


def _described_bytes(obj):
    data = _described.get(obj.text)
    if data is None:
        out = []
        _pack_ext(*ext_payload(obj, packb), write=out.append)
        data = b"".join(out)
        if len(_described) < DESCRIBED_CACHE_SIZE:
            _described[obj.text] = data
    return data


def _array_header(n):
    """An array's header."""
    if n < 16:
        return _FIXARRAY[n]
    if n < 0x10000:
        return _pack_struct(">BH", 0xDC, n)
    return _pack_struct(">BI", 0xDD, n)


def _str_bytes(s):
    """A str, as msgpack packs it (surrogates passed through)."""
    data = s.encode("utf-8", UNICODE_ERRORS)
    n = len(data)
    return (_FIXSTR[n] if n < 32 else _str_header(n)) + data


def _str_header(n):
    """A str header past fixstr's 31 bytes."""
    if n < 0x100:
        return _pack_struct(">BB", 0xD9, n)
    if n < 0x10000:
        return _pack_struct(">BH", 0xDA, n)
    return _pack_struct(">BI", 0xDB, n)


_FIXEXT = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}
# One-byte headers and ints, made once: bytes((x,)) per value costs more than a look-up.
_FIXINT = [bytes((i,)) for i in range(0x80)]
_FIXSTR = [bytes((0xA0 | i,)) for i in range(32)]
_FIXARRAY = [bytes((0x90 | i,)) for i in range(16)]


def _pack_int(n, write):
    if n >= 0:
        if n < 0x80:
            write(_FIXINT[n])
        elif n < 0x100:
            write(_pack_struct(">BB", 0xCC, n))
        elif n < 0x10000:
            write(_pack_struct(">BH", 0xCD, n))
        elif n < 0x100000000:
            write(_pack_struct(">BI", 0xCE, n))
        else:
            write(_pack_struct(">BQ", 0xCF, n))
    elif n >= -32:
        write(_pack_struct(">b", n))
    elif n >= -0x80:
        write(_pack_struct(">Bb", 0xD0, n))
    elif n >= -0x8000:
        write(_pack_struct(">Bh", 0xD1, n))
    elif n >= -0x80000000:
        write(_pack_struct(">Bi", 0xD2, n))
    else:
        write(_pack_struct(">Bq", 0xD3, n))


_MSGPACK = []  # [msgpack, or None where it is not importable]: looked for once


def _msgpack():
    """msgpack, or None: an import that fails looks through the whole sys.path, and the
    ring's and the writer's encoders both ask at start-up.  Looked for on sys.path
    alone, where it is installed, by the import system's path finder and loaded as
    import loads it: import itself would first ask every finder on sys.meta_path (and
    make an ImportError) in every process where it is missing."""
    if not _MSGPACK:
        import _frozen_importlib
        import _frozen_importlib_external
        import sys

        if "msgpack" in sys.modules:  # the program's, in a process attached to (None: refused)
            msgpack = sys.modules["msgpack"]
        else:
            try:
                spec = _frozen_importlib_external.PathFinder.find_spec("msgpack")
                msgpack = _frozen_importlib._load(spec) if spec is not None else None
            except ImportError:
                msgpack = None
        _MSGPACK.append(msgpack)
    return _MSGPACK[0]


def make_packer():
    """The fastest encoder this interpreter has: msgpack's if importable, else ``packb``.

    Returns ``(pack, name)``.  Both produce the same bytes.
    """
    msgpack = _msgpack()
    if msgpack is None:
        return packb, "builtin"

    exts = {}  # as _described, in msgpack's own type

    def default(obj):
        if type(obj) is Described:
            ext = exts.get(obj.text)
            if ext is None:
                ext = msgpack.ExtType(*ext_payload(obj, pack_fresh))
                if len(exts) < DESCRIBED_CACHE_SIZE:
                    exts[obj.text] = ext
            return ext
        code, data = ext_payload(obj, pack_fresh)
        return msgpack.ExtType(code, data)

    def pack_fresh(obj):
        # A fresh packer, passing surrogates: for what a cut value holds (cut values can
        # nest: a cut list of cut strings), and for a batch the fast packer refused.
        return msgpack.packb(obj, use_bin_type=True, default=default, unicode_errors=UNICODE_ERRORS)

    # Told how to treat encoding errors, msgpack encodes every str through a codec call
    # (a cost on every event); left alone, it takes CPython's cached UTF-8 but refuses a lone
    # surrogate (an undecodable byte of a file name), for which the batch is redone the
    # careful way.
    fast = msgpack.Packer(use_bin_type=True, default=default, autoreset=True)

    def pack(obj):
        try:
            return fast.pack(obj)
        except UnicodeEncodeError:
            return pack_fresh(obj)

    pack.fast = fast.pack
    return pack, "msgpack"


def make_events_packer():
    """The Python writer's batch encoder: msgpack's if importable, else ``pack_events``."""
    pack, name = make_packer()
    if name == "msgpack":
        return pack
    if _pack_struct is None:
        _load_struct()  # now, with the encoder's other imports (see Agent.start_writer)
    return pack_events


def make_event_packers():
    """The encoders of one event, for run mode's ring: ``(fast, careful, inline)``.
    With msgpack: its Packer.pack, which refuses a lone surrogate, its careful twin, and
    None.  Without: ``pack_event`` twice, and ``inline``, what the pure-Python hook needs
    to encode the usual event itself (``python_hook._ring_hook``): the encoder's parts
    and caches, by the names the hook reads."""
    pack, name = make_packer()
    if name == "msgpack":
        return pack.fast, pack, None
    if _pack_struct is None:
        _load_struct()
    inline = {
        "_event_head16": _event_head16,
        "_event_head32": _event_head32,
        "_event_heads": _event_heads,
        "_event_strs": _event_strs,
        "_event_str": _event_str,
        "_u8_item": _u8_item,
        "_u16_item": _u16_item,
        "_u32_item": _u32_item,
        "_FIXARRAY": _FIXARRAY,
        "_FIXINT": _FIXINT,
    }
    return pack_event, pack_event, inline


# What the pure-Python hook's straight path encodes once and reuses: by thread, its id
# with an event's name (pack_event fills it); str arguments (_event_str).  Bounded (a
# program may make up names without end), and cleared in place, as the hook holds them.
_event_heads, _event_strs = {}, {}
_EVENT_CACHE = 4096


def _event_str(s):
    """A str argument's bytes, now in the cache."""
    if len(_event_strs) >= _EVENT_CACHE:
        _event_strs.clear()
    data = _event_strs[s] = _str_bytes(s)
    return data


def pack_event(event):
    """``packb(event)`` for one ``(seq, time, thread, name, args, stack)`` event: the
    ring's encoder where msgpack is missing, for the events ``python_hook._ring_hook``
    does not encode itself (which holds the straight path for the usual event).  It
    caches the event's thread and name as that hook looks them up, so that the next
    event of the kind takes the straight path."""
    if len(event) == 6:  # (seven fields: a thread's name, with its first event)
        thread, name = event[2], event[3]
        heads = _event_heads.get(thread)
        if heads is None:
            if len(_event_heads) >= _EVENT_CACHE:
                _event_heads.clear()
            heads = _event_heads[thread] = {}
        if name not in heads:
            if len(heads) >= _EVENT_CACHE:
                heads.clear()
            heads[name] = packb(thread) + _str_bytes(name)
    return packb(event)


def _pack_events_bare(events):
    """``pack_events`` without the array's header: the ring's encoding of the events
    queued before it (see ``ring.Ring.attach``'s ``append_all``), the start's, whose
    summaries share lists (``Summarizer.args``' ``seen``)."""
    return pack_events(events, shared=True)[len(_array_header(len(events))) :]


pack_event.many = _pack_events_bare


def pack_events(events, shared=False):
    """``packb(events)`` for a batch of ``(seq, time, thread, name, args, stack)`` events,
    faster: what repeats from event to event (names, threads, str arguments) is encoded
    once a batch, and the fixed parts without the general dispatch.  The Python writer's
    encoder where msgpack is missing.  A thread's first event may carry a seventh
    field, its name (see ``PythonHook.first_of_thread``): packed the general way.
    ``shared``: the events' summaries may share lists, each then encoded once."""
    if _pack_struct is None:
        _load_struct()
    out = [_array_header(len(events))]
    # Encoded once a batch: threads, event names, str arguments, and shared lists, by
    # their addresses (all alive while the batch is)
    threads, strs, lists = {}, {}, {} if shared else None
    try:
        _pack_plain_events(events, out.append, threads, strs, lists)
    except ValueError:  # an event of seven fields: the runs of plain ones between them
        del out[1:]
        named = [i for i, event in enumerate(events) if len(event) != 6]
        start = 0
        for i in named:
            _pack_plain_events(events[start:i], out.append, threads, strs, lists)
            _pack_into(events[i], out.append)
            start = i + 1
        _pack_plain_events(events[start:], out.append, threads, strs, lists)
    return b"".join(out)


def _pack_plain_events(events, write, threads, strs, lists):
    """``pack_events``' loop, for events of six fields (ValueError on any other)."""
    float_item, head16, head32 = _float_item, _event_head16, _event_head32
    for seq, when, thread, name, args, stack in events:
        if 0xFFFF < seq <= 0xFFFFFFFF:
            write(head32(0x96, 0xCE, seq, 0xCB, when))
        elif 0xFF < seq <= 0xFFFF:
            write(head16(0x96, 0xCD, seq, 0xCB, when))
        else:
            write(b"\x96")
            _pack_int(seq, write)
            write(float_item(0xCB, when))
        data = threads.get(thread)
        if data is None:
            data = threads[thread] = packb(thread)
        write(data)
        data = strs.get(name)
        if data is None:
            data = strs[name] = _str_bytes(name)
        write(data)
        t = type(args)
        if (t is tuple or t is list) and len(args) < 16:  # the usual: plain values, typed here
            # rather than through _pack_into's dispatch (which made a batch dearer)
            write(_FIXARRAY[len(args)])
            for value in args:
                t = type(value)
                if t is str:  # a mode, an attribute's name...
                    data = strs.get(value)
                    if data is None:
                        data = strs[value] = _str_bytes(value)
                    write(data)
                elif t is int:
                    _pack_int(value, write)
                elif value is None:
                    write(b"\xc0")
                elif lists is not None and t is list:
                    key = address(value)
                    data = lists.get(key)
                    if data is None:
                        data = lists[key] = packb(value)
                    write(data)
                else:
                    _pack_into(value, write)
        else:
            _pack_into(args, write)
        if stack is None:
            write(b"\xc0")
        else:
            _pack_into(stack, write)
