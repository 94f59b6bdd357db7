"""The C renderer (auditmon/record/native/lines.c) writes a batch's JSON Lines from its
msgpack bytes exactly as the standard library writes the records, or gives the batch to
the Python path (None): never other bytes, never a crash, whatever the bytes."""

from __future__ import annotations

import json
import random
import struct

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_jsonl_fast import PID, decoded, events, nested, old_line, texts

from auditmon import protocol
from auditmon.model import Process
from auditmon.record import Recorder, event_record, jsonl
from auditmon.record.jsonl import NATIVE, EventLines, native_lines

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference(raw: bytes) -> bytes:
    """The batch's lines as the standard library writes its decoded records."""
    return b"".join(old_line(event_record(PID, list(e))) for e in protocol.unpackb(raw))


def test_the_renderer_is_built():
    # (the install compiles it; where it cannot, the Python path writes the same lines,
    # and this says so rather than a skip)
    assert NATIVE, "auditmon.record._native_lines was not built: no C compiler at install?"


# Values the C renderer writes itself: no dict keys other than distinct plain strings,
# no ints past 64 bits (the rest of test_jsonl_fast's values).
plain_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | texts
    | st.binary(max_size=8)
    | texts.map(protocol.Described)
    | st.builds(protocol.Cut, texts | st.binary(max_size=4), st.integers(0, 10**6))
    | st.builds(msgpack.ExtType, st.integers(4, 127), st.binary(max_size=20))
)
plain_keys = texts.filter(lambda k: not k.startswith("$"))
plain_values = nested(plain_leaves, plain_keys)
plain_events = st.lists(
    st.tuples(
        st.integers(1, 2**40),
        st.floats(allow_nan=False, allow_infinity=False) | st.integers(0, 2**40),
        st.integers(0, 2**63),
        texts,
        st.lists(plain_values, max_size=5),
        st.none() | st.lists(st.tuples(texts, st.integers(0, 10**5), texts), max_size=3),
    ).map(list),
    min_size=1,
    max_size=6,
)


@SETTINGS
@given(plain_events)
def test_a_batch_is_written_as_the_standard_library_writes_it(batch):
    _, raw = decoded(batch)
    assert native_lines(PID, raw) == reference(raw)


@SETTINGS
@given(events)
def test_what_it_does_not_write_goes_to_the_python_path(batch):
    """Any of test_jsonl_fast's batches (wide ints, dicts that need tags): the lines are
    the reference's, whoever wrote them."""
    _, raw = decoded(batch)
    text = native_lines(PID, raw)
    assert text is None or text == reference(raw)
    assert EventLines().lines(PID, *decoded(batch)) == reference(raw)


singles = st.floats(width=32)
single_values = st.recursive(singles | st.integers(-5, 5) | texts, st.lists, max_leaves=8)


@SETTINGS
@given(st.lists(st.tuples(st.integers(1, 9), singles, st.just(1), texts, single_values)))
def test_floats_sent_in_four_bytes(fields):
    batch = [[*event, None] for event in fields]
    raw = msgpack.packb(batch, use_single_float=True, unicode_errors="surrogatepass")
    try:
        expected = reference(raw)
    except ValueError:  # a time that is not finite: the reference writes no line
        assert native_lines(PID, raw) is None
        return
    assert native_lines(PID, raw) == expected


def test_floats_as_repr_writes_them():
    rng = random.Random(578)
    values = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308]
    values += [float(f"1e{e}") for e in range(-330, 310)] + [-(2.0**e) for e in range(-1074, 1024)]
    values += [1e16, 1e16 - 2, 2e16 + 8, 9007199254740993.0, 0.0001, 0.00009999, 123456.0]
    while len(values) < 200_000:
        (value,) = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))
        if value == value and abs(value) != float("inf"):
            values.append(value)
    raw = protocol.packb([[1, 1.5, 2, "floats", values, None]])
    assert native_lines(PID, raw) == reference(raw)


def _batch_with_string(encoded: bytes) -> bytes:
    """A batch of one event whose only argument is the str of these UTF-8 bytes."""
    head = b"\xd9" + bytes([len(encoded)]) if len(encoded) > 31 else bytes([0xA0 | len(encoded)])
    fields = b"\x01\xcb" + struct.pack(">d", 1.5) + b"\x02\xa1e"
    return b"\x91\x96" + fields + b"\x91" + head + encoded + b"\xc0"


def test_strings_are_read_as_python_reads_them():
    """Every sequence of up to three bytes from those where UTF-8's rules change, and
    every byte: written where Python decodes it (surrogatepass), the Python path's
    otherwise."""
    edges = [0x00, 0x08, 0x0A, 0x1F, 0x20, 0x22, 0x5C, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0]
    edges += [0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF]
    candidates = [bytes([b]) for b in range(256)]
    candidates += [bytes([a, b]) for a in edges for b in edges]
    candidates += [bytes([a, b, c]) for a in edges[7:] for b in edges for c in edges[7:]]
    candidates += [b"\xf0\x90\x80\x80", b"\xf4\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"plain"]
    for middle in candidates:
        for encoded in (middle, b"x" * 9 + middle + b"y" * 9):  # (word by word, around it)
            raw = _batch_with_string(encoded)
            try:
                encoded.decode("utf-8", "surrogatepass")
            except UnicodeDecodeError:
                assert native_lines(PID, raw) is None, encoded
            else:
                assert native_lines(PID, raw) == reference(raw), encoded


@pytest.mark.parametrize(
    "args",
    [
        b"\x82\xa1a\x01\xa1a\x02",  # a key twice: the reference keeps one
        b"\x81\x01\x02",  # an int key
        b"\x81\xa2$x\x01",  # a key the reference tags
        b"\xc7\x02\x03" + b"12",  # an int past 64 bits
        b"\xd6\xff" + b"\x00\x00\x00\x01",  # msgpack's own timestamp
        b"\xa2\xc3\x28",  # not UTF-8
        b"\xd4\x02\xff",  # a description that is not UTF-8
        b"\xd5\x01\x92\x01",  # a cut value cut short
        b"\xd6\x01\x92\x01\x01\x01",  # a cut value with more than its value
        b"\xde" + bytes([0, 33]) + b"".join(bytes([0xA2, 0x6B, 48 + i, 1]) for i in range(33)),
    ],
    ids=["twice", "int-key", "dollar", "bigint", "timestamp", "utf8", "object", "cut-short",
         "cut-long", "many-keys"],
)  # fmt: skip
def test_values_only_the_python_path_writes(args):
    raw = b"\x91\x96\x01\x02\x03\xa1e\x91" + args + b"\xc0"
    assert native_lines(PID, raw) is None
    try:
        expected = reference(raw)
    except (ValueError, TypeError, msgpack.UnpackException):
        return  # (not even the Python path can read or write it)
    assert EventLines().lines(PID, protocol.unpackb(raw), raw) == expected


@pytest.mark.parametrize(
    "batch",
    [
        [[1, 2, 3, "e", [], [b"bytes in a stack"]]],
        [[1, float("nan"), 3, "e", [], None]],
        [[1, 2, 3, protocol.Described("an event named by a description"), [], None]],
        [[1, 2, 3, "e", [], [{"a": 1}]]],
        [[1, 2, 3, "e", []]],  # five fields
        [[1, 2, 3, "e", [], None, "seventh"]],
    ],
)
def test_record_fields_hold_only_what_json_has(batch):
    raw = protocol.packb(batch)
    assert native_lines(PID, raw) is None


def test_deep_nesting_goes_to_the_python_path():
    for depth in (150, 300):
        value: list = [1]
        for _ in range(depth):
            value = [value]
        raw = protocol.packb([[1, 2, 3, "e", value, None]])
        text = native_lines(PID, raw)
        assert text == reference(raw) if depth == 150 else text is None
        assert EventLines().lines(PID, protocol.unpackb(raw), raw) == reference(raw)


def test_any_bytes_give_the_reference_lines_or_none():
    """Every prefix of a batch and thousands of corrupted copies: no crash, and where it
    writes lines they are those of the batch the bytes decode to."""
    batch = [
        [7, 1.7e9 + i, 3, "open", ["/tmp/x", "r", 524288, b"\x00\xff", protocol.Cut("ab", 9)],
         [("f.py", 3, "g")] if i % 2 else None]
        for i in range(4)
    ]  # fmt: skip
    batch[1][4].append({"key": [protocol.Described("a code object"), 1e300]})
    raw = protocol.packb(batch)
    assert native_lines(PID, raw) == reference(raw)
    for end in range(len(raw)):
        assert native_lines(PID, raw[:end]) is None
    assert native_lines(PID, raw + b"\xc0") is None
    rng = random.Random(20)
    written = 0
    for _ in range(20_000):
        damaged = bytearray(raw)
        for _ in range(rng.randint(1, 3)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        text = native_lines(PID, damaged)
        if text is not None:
            written += 1
            assert text == reference(bytes(damaged))
    assert written > 1000  # (most damage is to values, which still read)


@SETTINGS
@given(st.binary(max_size=64))
def test_arbitrary_bytes(data):
    text = native_lines(PID, b"\x91\x96" + data)
    if text is not None:
        assert text == reference(b"\x91\x96" + data)


def test_the_recorder_writes_through_it(tmp_path, monkeypatch):
    """A JSON Lines recording (in one process) has each batch written by the C renderer
    where it can, and the same file either way."""
    calls = []
    real = jsonl._render_native

    def counted(pid, raw):
        calls.append(len(raw))
        return real(pid, raw)

    monkeypatch.setattr(jsonl, "_render_native", counted)
    process = Process(id=1)
    process.apply_hello({"pid": PID, "argv": ["x"], "start": 1.7e9})
    paths = []
    for native in (True, False):
        path = tmp_path / f"{native}.jsonl"
        recorder = Recorder(path, helper=False, native=native)
        recorder.process_started(process)
        for n in range(20):
            batch = [[n * 5 + i + 1, 1.7e9 + n, 7, "e", [n, "x" * i], None] for i in range(5)]
            recorder.events(process, *decoded(batch))
        recorder.close()
        paths.append(path)
    assert len(calls) == 20
    assert paths[0].read_bytes() == paths[1].read_bytes()
    lines = paths[0].read_bytes().splitlines()
    assert len(lines) == 1 + 100 and json.loads(lines[-1])["seq"] == 100


def test_long_strings_that_grow_when_escaped():
    """Escapes make a string up to six times its bytes: the output grows as it goes."""
    for text in ("\x01" * 5000, "\n\u2603" * 3000 + "x" * 70_000, '"' * 100_000, "é" * 40_000):
        raw = protocol.packb([[1, 1.5, 2, "e", [text, text[:100]], [("f", 1, text)]]])
        assert native_lines(PID, raw) == reference(raw)


def test_a_pid_past_64_bits_goes_to_the_python_path():
    raw = protocol.packb([[1, 1.5, 2, "e", [], None]])
    assert native_lines(2**70, raw) is None
    assert native_lines(-5, raw).startswith(b'{"type":"event","pid":-5,"seq":1,')
