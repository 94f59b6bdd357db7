"""JSON Lines read lazily (msgspec, auditmon/record/lazy_lines.py) give the records that
``json.loads`` reads, line for line: events of interleaved processes with odd values,
other records among them, and lines msgspec refuses, which are read the exact way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_jsonl_fast import decoded, events

from auditmon.record import Recording, RecordingError
from auditmon.record.json_values import from_json
from auditmon.record.jsonl import EventLines
from auditmon.record.lazy_lines import pieces


def lazily(path: Path) -> list[Any]:
    """What chunks(lazy=True) gives, arguments made values: records as dicts, events as
    (pid, seq, time, thread, event, args, stack)."""
    found: list[Any] = []
    for item in Recording(path).chunks(lazy=True):
        if type(item) is dict:
            found.append(item)
        else:
            found += [(item.pid, *e[:4], item.arguments(e), e[5]) for e in item.events]
    return found


def reference(path: Path) -> list[Any]:
    """The same, from json.loads of each line (the definition of the format)."""
    found: list[Any] = []
    for line in path.read_bytes().splitlines():
        record = json.loads(line.decode("utf-8", "surrogatepass"))
        if record["type"] != "event":
            found.append(record)
            continue
        fields = ("pid", "seq", "time", "thread", "event")
        found.append((*(record[k] for k in fields), from_json(record["args"]), record.get("stack")))
    return found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from([11, 12]), events, st.booleans()), max_size=4))
def test_lazy_reading_gives_what_json_loads_reads(tmp_path_factory, runs):
    path = tmp_path_factory.mktemp("lazy") / "r.jsonl"
    lines = EventLines()
    with open(path, "wb") as file:
        for pid, batch, noted in runs:
            events_in, raw = decoded(batch)
            file.write(lines.lines(pid, events_in, raw))
            if noted:
                file.write(b'{"type":"dropped","pid":%d,"count":3}\n' % pid)
    assert repr(lazily(path)) == repr(reference(path))  # (repr: NaN is not NaN)


def test_lines_msgspec_refuses_are_read_the_exact_way(tmp_path):
    event = b'{"type":"event","pid":5,"seq":%d,"time":%s,"thread":1,"event":"e","args":%s}'
    lines = [
        event % (1, b"1.5", b'[1,{"$bytes":"AA=="}]'),
        event % (2, b"1e400", b"[2]"),  # out of a float's range: json.loads says inf
        b'{"type":"process","pid":5,"argv":["x"]}',
        event % (4, b"3.5", b"[%d]" % 2**80),
        event % (5, b"4.5", b"[5]"),
    ]
    surrogate = event % (3, b"2.5", b'["\\ud800"]')  # a lone surrogate, escaped
    for block in (lines, [*lines[:3], surrogate, *lines[3:]]):
        path = tmp_path / "r.jsonl"
        path.write_bytes(b"\n".join(block) + b"\n")
        assert lazily(path) == reference(path)
    found = pieces(b"\n".join(lines))
    assert found is not None
    assert [p[0] for p in found] == ["events", "line", "line", "events"]
    assert pieces(b"\n".join([*lines[:3], surrogate])) is None  # msgspec can't split it


@pytest.mark.parametrize(
    ("line", "number"),
    [
        (b'{"type":"event","pid":5,"seq":9,"time":1.0,"thread":1,"event":"e"}', 3),  # no args
        (b"[1, 2]", 3),
        (b'{"type":"event","pid":5', 3),  # malformed, mid-file
    ],
)
def test_a_line_that_is_no_record_is_named(tmp_path, line, number):
    good = b'{"type":"event","pid":5,"seq":1,"time":1.5,"thread":1,"event":"e","args":[]}'
    path = tmp_path / "r.jsonl"
    path.write_bytes(b"\n".join([good, good, line, good]) + b"\n")
    with pytest.raises(RecordingError, match=f"line {number} is not a record"):
        lazily(path)


def test_repeated_arguments_are_read_once(tmp_path):
    """A short arguments text seen again gives the values read the first time (the same
    object: readers never change them); a long one is read each time."""
    from auditmon.record import lazy_lines

    short = b'["/etc/hosts",{"$object":"code f"},[1,2]]'
    long = b'["' + b"x" * (lazy_lines._ARGUMENTS_KEPT_SIZE + 1) + b'"]'
    event = b'{"type":"event","pid":5,"seq":%d,"time":1.5,"thread":1,"event":"e","args":%s}'
    path = tmp_path / "r.jsonl"
    lines = [event % (n, a) for n, a in enumerate([short, short, long, long])]
    path.write_bytes(b"\n".join(lines) + b"\n")
    (batch,) = Recording(path).chunks(lazy=True)
    values = [batch.arguments(e) for e in batch.events]
    assert values[0] == ["/etc/hosts", from_json({"$object": "code f"}), [1, 2]]
    assert values[0] is values[1]
    assert values[2] == values[3] and values[2] is not values[3]
