"""The agent's own msgpack encoder produces msgpack's bytes, and the monitor decodes them."""

from __future__ import annotations

import math
import subprocess
import sys

import msgpack
import pytest
from helpers import system_python_or_skip
from hypothesis import given, settings
from hypothesis import strategies as st

from auditmon import protocol
from auditmon.agentpath import agent_dir

wire = protocol.wire
pure_pack = wire.packb
library_pack, library_name = wire.make_packer()


def test_make_packer_prefers_msgpack_here():
    assert library_name == "msgpack"


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
)
ext_values = st.one_of(
    st.builds(wire.Described, st.text()),
    st.builds(wire.BigInt, st.integers(min_value=2**64)),
    st.builds(wire.Cut, st.text(), st.integers(min_value=0, max_value=2**40)),
)
values = st.recursive(
    scalars | ext_values,
    lambda children: (
        st.lists(children, max_size=20)
        | st.tuples(children, children)
        | st.dictionaries(st.text() | st.integers(-100, 100), children, max_size=20)
        | st.builds(wire.Cut, st.lists(children, max_size=5), st.integers(0, 1000))
    ),
    max_leaves=60,
)


@settings(max_examples=400, deadline=None)
@given(values)
def test_pure_encoder_is_byte_equal_to_msgpack(value):
    assert pure_pack(value) == library_pack(value)


stacks = st.none() | st.lists(
    st.tuples(st.text(), st.integers(0, 10**6), st.text()).map(list), max_size=4
)
events = st.tuples(
    st.integers(min_value=1, max_value=2**64 - 1),
    st.floats(allow_nan=False),
    st.integers(min_value=0, max_value=2**64 - 1),
    st.sampled_from(["open", "import", "bench.x", "é"]) | st.text(),
    st.tuples() | st.lists(values, max_size=20).map(tuple) | st.lists(values, max_size=3),
    stacks,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(events, max_size=40))
def test_the_batch_encoder_is_byte_equal_to_msgpack(batch):
    """The Python writer's batch encoder (no msgpack) against msgpack, on whole batches:
    repeated names and threads, every argument shape, with and without stacks."""
    assert wire.pack_events(batch) == library_pack(batch)


named_events = events.map(lambda event: event + ("worker",))


@settings(max_examples=200, deadline=None)
@given(st.lists(events | named_events, max_size=40))
def test_the_ring_encodes_queued_events_in_one_go_as_one_by_one(batch):
    """The events queued before the ring (the start's) go in one write: the pure
    encoder's batch of them is their encodings one after another."""
    assert wire.pack_event.many(batch) == b"".join(map(library_pack, batch))


@settings(max_examples=400, deadline=None)
@given(events | named_events)
def test_the_single_event_encoder_is_byte_equal_to_msgpack(event):
    """The pure-Python hook's encoder in run mode (no msgpack), one event at a time:
    every argument shape, with and without stacks, and a thread's name."""
    assert wire.pack_event(event) == library_pack(event)


@pytest.mark.parametrize(
    "value", [0, 127, 128, 255, 256, 65535, 65536, -1, -33, 2**64 - 1, -(2**63)], ids=str
)
def test_the_single_event_encoder_packs_every_size_of_int_argument(value):
    event = (300, 1.7e9, 140000, "bench.x", (value, "abc", value), None)
    assert wire.pack_event(event) == library_pack(event)


def test_the_single_event_encoder_s_caches_are_bounded_and_stay_right():
    """Past its bound a cache starts again: every event still encodes right."""
    batch = [
        (i + 300, 1.7e9, i % 7, f"event{i}", (f"arg{i}", "r"), None)
        for i in range(wire._EVENT_CACHE * 2 + 10)
    ]
    for event in batch:
        assert wire.pack_event(event) == library_pack(event)
    assert len(wire._event_heads) <= wire._EVENT_CACHE
    assert len(wire._event_strs) <= wire._EVENT_CACHE


@pytest.mark.parametrize(
    "seq", [1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1], ids=str
)
def test_the_encoders_pack_every_size_of_seq_as_msgpack_does(seq):
    """pack_events and pack_event pack an event's first fields in one go for the seqs
    of 16 and 32 bits, and the general way for the others: each at its boundaries."""
    batch = [(seq, 1.7e9, 140000, "bench.x", (seq, "abc"), None)]
    assert wire.pack_events(batch) == library_pack(batch)
    assert wire.pack_event(batch[0]) == library_pack(batch[0])


def test_the_python_writer_encodes_batches_with_msgpack_or_else_pack_events(monkeypatch):
    assert wire.make_events_packer() is not wire.pack_events
    monkeypatch.setitem(sys.modules, "msgpack", None)  # import msgpack: ImportError
    assert wire.make_events_packer() is not wire.pack_events  # (looked for once)
    monkeypatch.setattr(wire, "_MSGPACK", [])  # a process that has not looked yet
    assert wire.make_events_packer() is wire.pack_events
    assert wire.make_event_packers()[2] is not None  # the ring's: the same answer


def test_the_batch_encoder_reuses_a_repeated_argument_s_bytes_exactly():
    """pack_events encodes each distinct str argument once a batch: repeated, short and
    long, ASCII or not, a lone surrogate, next to an int of the same look."""
    values = ["r", "f_back", "é" * 20, "x" * 40, "x" * 300, "caf\udce9", "7"]
    batch = [
        (n + 1, 1.7e9, 140000, "open", (values[n % 7], values[(n * 3) % 7], 7), None)
        for n in range(50)
    ]
    assert wire.pack_events(batch) == library_pack(batch)


@pytest.mark.parametrize("where", ["name", "argument", "description"])
def test_a_lone_surrogate_is_encoded_as_the_pure_encoder_does(where):
    """msgpack's fast way refuses a lone surrogate (a file name's undecodable byte): the
    batch is redone the careful way, and the packer keeps working after it."""
    odd = "caf\udce9"
    name = odd if where == "name" else "open"
    arg = wire.Described(odd) if where == "description" else odd
    batch = [(1, 1.7e9, 140000, name, (arg, "r"), None), (2, 1.7e9, 140000, "x", (), None)]
    pack = wire.make_events_packer()
    assert pack(batch) == wire.pack_events(batch)
    assert pack(batch[1:]) == wire.pack_events(batch[1:])


def test_descriptions_past_the_cache_are_still_encoded_right():
    """Both encoders remember a description's bytes by its text, up to a bound: texts
    past it are encoded afresh each time, the same bytes."""
    texts = [f"socket fd={i}" for i in range(wire.DESCRIBED_CACHE_SIZE + 50)]
    batch = [(i + 1, 1.7e9, 1, "x", (wire.Described(t),), None) for i, t in enumerate(texts)]
    expected = msgpack.packb(
        [
            (s, w, th, n, [msgpack.ExtType(wire.EXT_OBJECT, a[0].text.encode())], st)
            for s, w, th, n, a, st in batch
        ],
        use_bin_type=True,
    )
    pack = wire.make_events_packer()
    for _ in range(2):  # the second time, mostly from the caches
        assert pack(batch) == expected
        assert wire.pack_events(batch) == expected
    assert len(wire._described) <= wire.DESCRIBED_CACHE_SIZE


@pytest.mark.parametrize(
    "value",
    [
        0,
        127,
        128,
        255,
        256,
        65535,
        65536,
        2**32 - 1,
        2**32,
        2**64 - 1,
        -1,
        -32,
        -33,
        -128,
        -129,
        -32768,
        -32769,
        -(2**31),
        -(2**31) - 1,
        -(2**63),
        "",
        "a" * 31,
        "a" * 32,
        "a" * 255,
        "a" * 256,
        "a" * 65535,
        "a" * 65536,
        b"",
        b"x" * 255,
        b"x" * 256,
        b"x" * 65536,
        list(range(15)),
        list(range(16)),
        list(range(65536)),
        {str(i): i for i in range(15)},
        {str(i): i for i in range(16)},
        1.5,
        -0.0,
        math.inf,
        "\udcff surrogate",
        "日本語",
        wire.Described(""),
        wire.Described("x"),
        wire.Described("ab"),
        wire.Described("abcd"),
        wire.Described("a" * 8),
        wire.Described("a" * 16),
        wire.Described("a" * 300),
        wire.Described("a" * 70000),
        wire.BigInt(2**100),
    ],
)
def test_format_boundaries_match(value):
    assert pure_pack(value) == library_pack(value)


def test_nan_encodes_the_same():
    assert pure_pack(math.nan) == library_pack(math.nan)


@settings(max_examples=200, deadline=None)
@given(values)
def test_monitor_decodes_what_the_agent_encodes(value):
    decoded = msgpack.unpackb(pure_pack(value), **protocol._unpack_options())
    assert decoded == _as_decoded(value)


def _as_decoded(value):
    """What a value looks like after the trip: arrays become tuples, BigInt an int."""
    if isinstance(value, (list, tuple)):
        return tuple(_as_decoded(v) for v in value)
    if isinstance(value, dict):
        return {_key(k): _as_decoded(v) for k, v in value.items()}
    if isinstance(value, wire.BigInt):
        return value.value
    if isinstance(value, wire.Cut):
        return wire.Cut(_as_decoded(value.value), value.length)
    return value


def _key(key):
    return tuple(_key(k) for k in key) if isinstance(key, (list, tuple)) else key


def test_check_message_rejects_other_versions_and_shapes():
    hello = {"v": protocol.VERSION, "pid": 1}
    assert protocol.check_message([protocol.HELLO, hello], first=True).kind == protocol.HELLO
    with pytest.raises(protocol.ProtocolError, match="unsupported protocol version 99"):
        protocol.check_message([protocol.HELLO, {"v": 99, "pid": 1}], first=True)
    with pytest.raises(protocol.ProtocolError, match="first message was not a hello"):
        protocol.check_message([protocol.EVENTS, []], first=True)
    with pytest.raises(protocol.ProtocolError, match="not an auditmon message"):
        protocol.check_message(42, first=False)
    with pytest.raises(protocol.ProtocolError, match="malformed event batch"):
        protocol.check_message([protocol.EVENTS, [[1, 2]]], first=False)


def test_decoded_extension_values_are_shared_but_bounded():
    """The monitor decodes a repeated description or cut value once (protocol.ext_hook's
    cache): equal values, the same object; a large encoding is not kept, and the cache
    empties itself when full."""
    import msgpack

    from auditmon import protocol

    def decode(value):
        data = protocol.packb(value)
        return msgpack.unpackb(data, ext_hook=protocol.ext_hook, raw=False, use_list=False)

    cut = protocol.Cut(("a", protocol.Described("inner")), 99)
    big = protocol.Cut("x" * 600, 9)
    batch = [protocol.Described("code f at file.py:12"), cut] * 2 + [big] * 2
    decoded = [decode(v) for v in batch]
    assert decoded == batch
    assert decoded[0] is decoded[2] and decoded[1] is decoded[3]  # decoded once
    assert decoded[4] == decoded[5] and decoded[4] is not decoded[5]  # too large to keep
    for n in range(protocol._EXT_CACHED + 10):
        decode(protocol.Described(f"d{n}"))
    assert 0 < len(protocol._DESCRIBED) <= protocol._EXT_CACHED


@settings(max_examples=200, deadline=None)
@given(st.lists(events | named_events, max_size=30), st.lists(values, max_size=6), st.data())
def test_the_start_s_batch_with_shared_lists_is_byte_equal_to_msgpack(batch, common, data):
    """The start's summaries share lists (Summarizer.args' ``seen``), which the ring's
    batch encoder packs once a batch: still msgpack's one-by-one encodings."""
    shared = [common, list(common)]  # the second: equal, another object
    batch = [
        event[:4] + ((event[3], shared[data.draw(st.integers(0, 1))]),) + event[5:]
        if data.draw(st.booleans())
        else event
        for event in batch
    ]
    assert wire.pack_event.many(batch) == b"".join(map(library_pack, batch))


def test_the_start_s_batch_packs_each_shared_list_once(monkeypatch):
    """Once a batch, across the runs a thread's name splits it into."""
    path, meta = ["/usr/lib/python3.11", ""], [wire.Described("class BuiltinImporter")]
    batch = [(i + 1, 1.7e9, 7, "import", (f"m{i}", None, path, meta), None) for i in range(5)]
    batch[2] = batch[2] + ("MainThread",)  # a thread's name: packed the general way
    packed = []
    real = wire.packb
    monkeypatch.setattr(wire, "packb", lambda value: packed.append(value) or real(value))
    assert wire.pack_event.many(batch) == b"".join(map(library_pack, batch))
    assert [value is path for value in packed].count(True) == 1
    assert [value is meta for value in packed].count(True) == 1
    packed.clear()
    assert wire.pack_events(batch) == library_pack(batch)  # the writer's: nothing shared
    assert not [value for value in packed if value is path or value is meta]


LOOKS_FOR_MSGPACK = """\
import sys
sys.path.insert(0, sys.argv[2])
first = sys.argv[1] == "imported"
if first:
    import msgpack
from _auditmon_agent import wire
found = wire._msgpack()
print(found is not None, found is sys.modules.get("msgpack"), first and found is msgpack)
"""


@pytest.mark.parametrize(
    "python, program, expected",
    [
        ("venv", "not imported", "True True False"),
        ("venv", "imported", "True True True"),
        ("debian", "not imported", "False True False"),  # None, and none in sys.modules
    ],
)
def test_the_agent_finds_msgpack_where_installed_and_takes_the_programs(python, program, expected):
    """wire._msgpack asks the path finder alone for msgpack (import would ask every
    finder on sys.meta_path first) and loads it as import does, into sys.modules; a
    msgpack the program imported first (a process attached to) is that very module.
    Where it is not installed (Debian's python3), None, and nothing loaded."""
    interpreter = sys.executable if python == "venv" else system_python_or_skip()
    result = subprocess.run(
        [interpreter, "-c", LOOKS_FOR_MSGPACK, program, str(agent_dir())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == expected.split()
