"""The msgpack recorder writes event batches through as the agent encoded them.

A recording made with the pass-through must read back exactly like one made by packing
the decoded batches, and be byte-identical to it when the agent encoded canonically;
anything but the canonical message header falls back to packing.
"""

from __future__ import annotations

import socket
import threading
import time

import msgpack
import pytest
from helpers import wait_for

from auditmon import protocol
from auditmon.ingest import Connection, Fanout, Ingest, Ledger
from auditmon.model import Process, Session
from auditmon.record import Recorder, event_record, read_recording

PID = 4242
HELLO = [protocol.HELLO, {"v": protocol.VERSION, "pid": PID, "argv": ["fake"], "start": 1.5}]
GOODBYE = [protocol.GOODBYE, {"time": 9.5, "exit_code": 3, "last_seq": 0}]
STACK = [["/x/a.py", 12, "f"], ["/x/b.py", 3400, "<module>"]]
ODD_ARGS = [
    b"\x00\xffbytes",
    b"B" * 70_000,  # bin32
    protocol.Cut("s" * 70_000, 10_000_000),  # a huge string the agent cut (str32 inside)
    protocol.Cut(b"\x01\x02", 99),
    protocol.Cut([protocol.Cut("abc", 1000), 1, None], 50),  # nested cut values
    protocol.Described("<Foo object at 0x7f>"),
    protocol.BigInt(2**100),
    protocol.BigInt(-(2**70)),
    2**64 - 1,
    -(2**63),
    [1, [2, [3, [4, []]]], ("t", b"u")],
    {
        1: "int key",
        b"b": "bin key",
        None: 0.5,
        protocol.Described("unhashable key"): "described key",
        protocol.Cut("k" * 200, 5000): "cut key",
        protocol.BigInt(2**80): "wide int key",
        "s": {"n": [1]},
    },
    {f"k{i}": i for i in range(20)},  # map16
    list(range(40)),  # array16
    "snow \u2603 \udcff",  # a lone surrogate, as surrogatepass carries it
    float("inf"),
    -0.0,
    1e300,
    True,
    None,
    msgpack.ExtType(42, b"zz"),  # an extension type the monitor does not know
]


def batches() -> list[list[list]]:
    """Event batches with odd values, every batch size class and both kinds of stack."""
    seq = iter(range(1, 10**9))
    odd = [
        [next(seq), 1.7e9 + i, 140000 + i, f"odd.{i}", [value], STACK if i % 2 else None]
        for i, value in enumerate(ODD_ARGS)
    ]
    return [
        odd,
        [],
        [[next(seq), 2.0, 1, "one", [], None]],
        [[next(seq), 3.0, 1, "e", [i, "abc", None], STACK] for i in range(15)],  # fixarray
        [[next(seq), 4.0, 1, "e", [i], None] for i in range(300)],  # array16
        [[next(seq), 5.0, 1, "e", [i], None] for i in range(70_000)],  # array32
    ]


def wire_messages() -> list[bytes]:
    events = [protocol.packb([protocol.EVENTS, batch]) for batch in batches()]
    drop = protocol.packb([protocol.DROPPED, {"count": 2}])
    return [protocol.packb(HELLO), *events[:2], drop, *events[2:], protocol.packb(GOODBYE)]


def record_through_socket(path, messages: list[bytes], raw: bool, chunk: int = 0) -> list:
    """Record ``messages`` sent by a client on a real Unix socket; return the records.

    ``raw=False`` turns the recorder's pass-through off: the packing path, to compare.
    ``chunk`` sends the stream in pieces of that many bytes.
    """
    recorder = Recorder(path)
    recorder.wants_raw = raw
    problems: list[str] = []
    ingest = Ingest(Fanout(Session(), recorder), problems.append)
    socket_path = path.with_suffix(".sock")
    ingest.listen(socket_path)
    data = b"".join(messages)
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)] if chunk else [data]

    def send():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(socket_path))
            for piece in pieces:
                sock.sendall(piece)
                if chunk:
                    time.sleep(0)  # let the monitor read small pieces separately

    threading.Thread(target=send, daemon=True).start()
    wait_for(
        lambda: ingest.processes and not ingest.open_connections,
        60,
        "the client's connection to be read to its end",
        between=lambda: ingest.poll(0.02),  # reading the socket is what moves it on
        state=lambda: f"{len(ingest.processes)} process(es); problems: {problems}",
    )
    ingest.close()
    recorder.close()
    assert problems == []
    return list(read_recording(path))


def expected_records() -> list[dict]:
    """What the recording must say: the batches as a reader decodes them, not a recording."""
    decoded = msgpack.unpackb(protocol.packb(batches()), **_options())
    events = [event_record(PID, event) for batch in decoded for event in batch]
    head = events[: len(ODD_ARGS)]
    rest = events[len(ODD_ARGS) :]
    process = {
        "type": "process",
        "pid": PID,
        "ppid": 0,
        "argv": ["fake"],
        "executable": "",
        "cwd": None,
        "python": "",
        "start": 1.5,
        "agent": "",
    }
    return [
        process,
        *head,
        {"type": "dropped", "pid": PID, "count": 2},
        *rest,
        {"type": "exit", "pid": PID, "time": 9.5, "exit_code": 3, "status": "exited"},
    ]


def test_passthrough_recording_is_byte_identical_to_packing_and_reads_back_the_same(tmp_path):
    messages = wire_messages()
    through = record_through_socket(tmp_path / "raw.amrec", messages, raw=True)
    packed = record_through_socket(tmp_path / "packed.amrec", messages, raw=False)
    assert through == packed
    assert through == expected_records()
    assert (tmp_path / "raw.amrec").read_bytes() == (tmp_path / "packed.amrec").read_bytes()
    # The odd values came back as the values the agent summarised.
    args = [r["args"][0] for r in through[1 : 1 + len(ODD_ARGS)]]
    assert args[2] == protocol.Cut("s" * 70_000, 10_000_000)
    assert args[5] == protocol.Described("<Foo object at 0x7f>")
    assert args[6] == 2**100 and args[7] == -(2**70)
    assert args[11][protocol.Described("unhashable key")] == "described key"
    assert args[11][2**80] == "wide int key" and args[11][None] == 0.5


def test_passthrough_survives_small_recv_chunks(tmp_path):
    messages = wire_messages()[:3] + [protocol.packb(GOODBYE)]  # the smaller batches
    through = record_through_socket(tmp_path / "raw.amrec", messages, raw=True, chunk=7)
    packed = record_through_socket(tmp_path / "packed.amrec", messages, raw=False)
    assert through == packed
    assert (tmp_path / "raw.amrec").read_bytes() == (tmp_path / "packed.amrec").read_bytes()


class Batches:
    """A sink that keeps what it was given, raw bytes included."""

    wants_raw = True

    def __init__(self) -> None:
        self.calls: list[tuple[list, bytes | None]] = []

    def process_started(self, process):
        pass

    def events(self, process, events, raw=None):
        self.calls.append((events, None if raw is None else bytes(raw)))

    def dropped(self, process, count):
        pass

    def process_ended(self, process):
        pass


def connection(sink) -> tuple[Connection, list[str]]:
    problems: list[str] = []
    ours, theirs = socket.socketpair()
    theirs.close()
    return Connection(ours, Process(id=1), Ledger(sink), problems.append), problems


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1000, 65537])
def test_raw_slices_are_exact_whatever_the_chunking(size):
    sink = Batches()
    conn, problems = connection(sink)
    small = batches()[:5]  # everything but the 70,000-event batch
    data = protocol.packb(HELLO) + b"".join(protocol.packb([protocol.EVENTS, b]) for b in small)
    for i in range(0, len(data), size):
        assert conn.feed(data[i : i + size])
        assert conn.raw is not None
        assert len(conn.raw) == conn.fed - conn.complete  # only the unconsumed remainder
        assert conn.raw == data[conn.complete : conn.fed]
    assert problems == [] and conn.complete == len(data) and len(conn.raw) == 0
    assert [raw for _, raw in sink.calls] == [protocol.packb(b) for b in small]
    for (events, raw), batch in zip(sink.calls, small):
        assert msgpack.unpackb(raw, use_list=False, **_options()) == events
        assert len(events) == len(batch)
    conn.close(None)


def _options():
    return {
        "raw": False,
        "ext_hook": protocol.ext_hook,
        "strict_map_key": False,
        "unicode_errors": "surrogatepass",
    }


def test_raw_buffer_does_not_grow_across_many_messages():
    sink = Batches()
    conn, problems = connection(sink)
    message = protocol.packb([protocol.EVENTS, [[1, 0.5, 1, "e", ["x" * 100], None]] * 20])
    assert conn.feed(protocol.packb(HELLO))
    stream = message * 2000  # about 5 MB
    chunk = 4093  # never aligned with message boundaries
    largest = 0
    for i in range(0, len(stream), chunk):
        assert conn.feed(stream[i : i + chunk])
        assert len(conn.raw) == conn.fed - conn.complete
        largest = max(largest, len(conn.raw))
    assert largest < len(message)  # at most one partial message is ever kept
    assert len(conn.raw) == 0 and len(sink.calls) == 2000 and problems == []
    assert all(raw == message[2:] for _, raw in sink.calls)


@pytest.mark.parametrize(
    "header",
    [
        b"\xdc\x00\x02" + protocol.packb(protocol.EVENTS),  # array16 of two
        b"\xdd\x00\x00\x00\x02" + protocol.packb(protocol.EVENTS),  # array32 of two
        b"\x92\xcc" + bytes((protocol.EVENTS,)),  # EVENTS as a uint8
        b"\x92\xd0" + bytes((protocol.EVENTS,)),  # EVENTS as an int8
    ],
)
def test_a_non_canonical_header_falls_back_to_packing(tmp_path, header):
    canonical = wire_messages()
    odd = [header + m[2:] if m[:2] == bytes((0x92, protocol.EVENTS)) else m for m in canonical]
    assert odd != canonical
    sink = Batches()
    conn, problems = connection(Fanout(Session(), sink))
    assert conn.feed(b"".join(odd[:-1])) and problems == []
    assert sink.calls and all(raw is None for _, raw in sink.calls)
    conn.close(None)
    through = record_through_socket(tmp_path / "raw.amrec", odd, raw=True)
    packed = record_through_socket(tmp_path / "packed.amrec", canonical, raw=False)
    assert through == packed == expected_records()
    assert (tmp_path / "raw.amrec").read_bytes() == (tmp_path / "packed.amrec").read_bytes()


def test_a_non_canonical_events_array_is_written_through_as_sent(tmp_path):
    """Under a canonical header, the agent's own encoding of the array is kept as is."""
    batch = [[1, 0.5, 1, "e", [7], None]]
    odd_array = b"\xdc\x00\x01" + protocol.packb(batch[0])  # array16 for one event
    messages = [
        protocol.packb(HELLO),
        bytes((0x92, protocol.EVENTS)) + odd_array,
        protocol.packb(GOODBYE),
    ]
    through = record_through_socket(tmp_path / "raw.amrec", messages, raw=True)
    packed = record_through_socket(tmp_path / "packed.amrec", messages, raw=False)
    assert through == packed
    assert [r["args"] for r in through if r["type"] == "event"] == [[7]]
    assert odd_array in (tmp_path / "raw.amrec").read_bytes()
    assert odd_array not in (tmp_path / "packed.amrec").read_bytes()


def test_only_sinks_that_want_raw_pay_for_it(tmp_path):
    session = Session()
    assert not Fanout(session).wants_raw
    conn, _ = connection(Fanout(session))
    assert conn.raw is None  # the UI's model-only path keeps no copy of the input
    conn.close(None)
    jsonl = Recorder(tmp_path / "r.jsonl")  # the wire bytes vouch for orjson's lines
    assert jsonl.wants_raw and Fanout(session, jsonl).wants_raw
    jsonl.close()
    binary = Recorder(tmp_path / "r.amrec")
    assert binary.wants_raw and Fanout(session, None, binary).wants_raw
    # Session ignores the raw bytes the recorder beside it writes through.
    conn, problems = connection(Fanout(session, binary))
    assert conn.raw is not None
    assert conn.feed(protocol.packb(HELLO) + protocol.packb([protocol.EVENTS, batches()[3]]))
    assert problems == [] and session.total_events == 15
    conn.close(None)
    binary.close()
    assert len([r for r in read_recording(tmp_path / "r.amrec") if r["type"] == "event"]) == 15


def test_bad_data_still_closes_a_raw_connection_with_a_message(tmp_path):
    sink = Batches()
    conn, problems = connection(sink)
    bad = protocol.packb([protocol.EVENTS, [["not", "an", "event"]]])
    assert not conn.feed(protocol.packb(HELLO) + bad)
    assert "malformed event batch" in problems[0] and sink.calls == []
    assert conn.raw is not None and len(conn.raw) == 0
    conn, problems = connection(Batches())
    good = protocol.packb([protocol.EVENTS, batches()[2]])
    assert conn.feed(protocol.packb(HELLO) + good[:-2])
    assert len(conn.raw) == len(good) - 2
    conn.close("connection closed in the middle of a message (truncated frame)")
    assert "truncated frame" in problems[0] and len(conn.raw) == 0
