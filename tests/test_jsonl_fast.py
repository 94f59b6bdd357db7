"""JSON Lines written by orjson (the Python path) and by the C renderer are the bytes the
standard library's encoder writes, and
read back as the same records, odd values included (surrogates, ints past 64 bits,
NaN and infinities, tiny floats, tagged values, dicts that need tagging)."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditmon import protocol
from auditmon.model import Process
from auditmon.record import Recorder, Recording, event_record
from auditmon.record.jsonl import EventLines, parse_line, parse_lines, record_line

PID = 77


def old_to_json(value: Any) -> Any:
    """The JSON rendering as it was before orjson (a copy kept as the definition)."""
    t = type(value)
    if value is None or t is str or t is int or t is bool:
        return value
    if t is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if t is list or t is tuple:
        return [old_to_json(v) for v in value]
    if t is bytes:
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if t is dict:
        if all(type(k) is str and not k.startswith("$") for k in value):
            return {k: old_to_json(v) for k, v in value.items()}
        return {"$dict": [[old_to_json(k), old_to_json(v)] for k, v in value.items()]}
    if t is protocol.Cut:
        return {"$cut": old_to_json(value.value), "length": value.length}
    if t is protocol.Described:
        return {"$object": value.text}
    if t is msgpack.ExtType:
        return {"$ext": value.code, "data": base64.b64encode(value.data).decode("ascii")}
    return {"$object": f"{t.__name__} value"}


def old_line(record: dict[str, Any]) -> bytes:
    if record["type"] == "event":
        record = {**record, "args": old_to_json(record["args"])}
    line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return line.encode("utf-8", "surrogatepass") + b"\n"


# Values in the agent's wire form (wide ints as BigInt), decoded as ingest decodes them.
texts = st.text(st.characters(exclude_categories=()), max_size=12) | st.sampled_from(
    ["$x", "$bytes", "\udcff", "snow \u2603", "tab\t\x00\x7f", "\u2028", 'é"\\']
)
wide_ints = st.integers(min_value=2**64, max_value=2**90) | st.integers(
    min_value=-(2**90), max_value=-(2**63) - 1
)
floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [1e-05, 5e-324, -0.0, 0.0, 1e16, 1e-4, 9.99e-05, 1796283633.6148112]
)
leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | wide_ints.map(protocol.BigInt)
    | floats
    | texts
    | st.binary(max_size=8)
    | texts.map(protocol.Described)
    | st.builds(protocol.Cut, texts | st.binary(max_size=4), st.integers(0, 10**6))
    | st.builds(msgpack.ExtType, st.integers(10, 100), st.binary(max_size=4))
)
keys = texts | st.integers(-5, 5) | st.none() | st.binary(max_size=3)


def nested(leaves: st.SearchStrategy, keys: st.SearchStrategy) -> st.SearchStrategy:
    """Lists, dicts and cut values of ``leaves``, nested."""
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(keys, inner, max_size=3)
            | st.builds(protocol.Cut, st.lists(inner, max_size=3), st.integers(0, 99))
        ),
        max_leaves=12,
    )


values = nested(leaves, keys)
stacks = st.none() | st.lists(st.tuples(texts, st.integers(0, 10**5), texts), max_size=3)
events = st.lists(
    st.tuples(
        st.integers(1, 2**40),
        st.floats(allow_nan=False, allow_infinity=False),  # a clock's reading
        st.integers(0, 2**63),
        texts,
        st.lists(values, max_size=5),
        stacks,
    ).map(list),
    max_size=6,
)


def decoded(batch: list[list[Any]]) -> tuple[list[Any], bytes]:
    """The batch as ingest gets it: decoded from the agent's bytes, and those bytes."""
    raw = protocol.packb(batch)
    unpacker = protocol.make_unpacker()
    unpacker.feed(raw)
    return list(next(unpacker)), raw


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events)
def test_a_batch_is_written_as_the_standard_library_writes_it(batch):
    events_in, raw = decoded(batch)
    expected = b"".join(old_line(event_record(PID, list(e))) for e in events_in)
    for native in (False, True):
        encoder = EventLines(native=native)
        assert encoder.lines(PID, events_in, raw) == expected  # a batch at once
        assert encoder.lines(PID + 1, events_in, raw) == expected.replace(
            b'"pid":%d,' % PID, b'"pid":%d,' % (PID + 1)
        )  # the same records, reused
        assert encoder.lines(PID, events_in, None) == expected  # one at a time


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events)
def test_lines_read_back_as_the_records_written(batch):
    events_in, raw = decoded(batch)
    text = EventLines().lines(PID, events_in, raw)
    expected = [json.loads(line.decode("utf-8", "surrogatepass")) for line in text.splitlines()]
    assert [parse_line(line) for line in text.splitlines()] == expected
    together = parse_lines(text[:-1])
    assert together is None or together == expected


@given(st.dictionaries(texts, values, max_size=4))
def test_other_records_are_written_the_reference_way(fields):
    record = {"type": "alert", **fields}
    try:
        expected = old_line(record)
    except (TypeError, ValueError):  # not JSON, for the old encoder too
        return
    assert record_line(record) == expected


def test_a_recording_reads_back_with_its_odd_values(tmp_path):
    odd = [
        "\udcff lone",
        2**100,
        -(2**70),
        float("nan"),
        float("-inf"),
        1e-05,
        {"$not a tag": 1},
        {1: b"x"},
        protocol.Cut("abc", 99),
        protocol.Described("socket AF_INET"),
        [(1, 2), {"k": [None, True]}],
    ]
    batch = [[i + 1, 1.7e9 + i, 1, "odd", [value], None] for i, value in enumerate(odd)]
    wire = [[e[0], e[1], e[2], e[3], [_wire(v) for v in e[4]], None] for e in batch]
    events_in, raw = decoded(wire)
    process = Process(id=1)
    process.apply_hello({"pid": PID, "argv": ["x"]})
    path = tmp_path / "odd.jsonl"
    recorder = Recorder(path)
    recorder.process_started(process)
    recorder.events(process, events_in, raw)
    recorder.close()
    lines = path.read_bytes().splitlines(keepends=True)
    assert lines[1:] == [old_line(event_record(PID, list(e))) for e in events_in]
    records = [r for r in Recording(path) if r["type"] == "event"]
    assert [json.dumps(r["args"], default=repr) for r in records] == [
        json.dumps([v], default=repr) for v in odd
    ]


def _wire(value: Any) -> Any:
    return (
        protocol.BigInt(value)
        if type(value) is int and value >= 2**64
        else (protocol.BigInt(value) if type(value) is int and value < -(2**63) else value)
    )


def test_kept_renderings_follow_the_values():
    """The writer keeps the renderings of descriptions and cut values (by text; by the
    value itself): a repeated one is written as the reference writes it, and each new
    one (the last freed, at times at the same address) as its own."""
    lines = EventLines(native=False)
    for n in range(50):
        cut = protocol.Cut([protocol.Described(f"inner {n}"), n], 100 + n)
        events = [[1, 1.5, 1, "e", (cut, protocol.Described("same"), cut), None]]
        expected = old_line(event_record(PID, events[0]))
        assert lines.lines(PID, events, protocol.packb(events)) == expected
        del cut, events  # the next one may take its address


def _near(x: float) -> list[float]:
    return [math.nextafter(x, 0.0), x, math.nextafter(x, math.inf)]


# Floats about the range orjson writes unlike the reference (1e-9 to 1e-4), and about
# the bounds of the exponents the writer looks for in the wire bytes.
EDGE_FLOATS = sorted(
    {
        sign * y
        for sign in (1.0, -1.0)
        for x in [2.0**k for k in range(-48, 2)] + [10.0**-k for k in range(0, 13)]
        for y in _near(x)
    }
)


def test_floats_about_the_odd_range_are_written_as_the_reference_writes_them():
    for single in (False, True):  # float64, and float32 as another peer may send them
        packer = msgpack.Packer(use_bin_type=True, use_single_float=single)
        batch = [[i + 1, 1.7e9, 1, "f", [x, [x]], None] for i, x in enumerate(EDGE_FLOATS)]
        batch.append([0, EDGE_FLOATS[3], 1, "as the time", [], None])
        for event in batch:  # each alone, and all in one batch
            for events in ([event], batch):
                raw = packer.pack(events)
                events_in = list(protocol.unpackb(raw))
                expected = b"".join(old_line(event_record(PID, list(e))) for e in events_in)
                for native in (False, True):
                    assert EventLines(native=native).lines(PID, events_in, raw) == expected


def test_a_value_that_holds_the_record_separator_stays_in_its_line():
    """A cut value's kept part may hold dicts, rendered as they are: one that reads like
    the start of the next record must not split its line (a forged record)."""
    forged = {"type": "event", "pid": 1, "seq": 1, "event": "forged"}
    for value in (
        protocol.Cut([{"a": 1}, forged], 10),
        protocol.Cut([protocol.Cut([{"a": 1}, forged], 5)], 10),
    ):
        batch = [[1, 1.7e9, 1, "x", [value], None], [2, 1.7e9, 1, "y", [], None]]
        raw = protocol.packb(batch)
        events_in = list(protocol.unpackb(raw))
        expected = b"".join(old_line(event_record(PID, list(e))) for e in events_in)
        for native in (False, True):
            assert EventLines(native=native).lines(PID, events_in, raw) == expected
