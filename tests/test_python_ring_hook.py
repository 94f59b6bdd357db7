"""The pure-Python hook in run mode where msgpack is missing (``_ring_hook``): it encodes
the usual event itself, straight into the ring.  Called directly, on a real ring, next to
the hook that encodes with msgpack (``_packed_ring_hook``, which sends ints past 64
bits and lone surrogates the careful way): both must leave the same events in their
rings, at
every boundary of the inline encoder (seqs of 8, 16 and 32 bits, ints of each size,
strings at the summariser's bound, values it does not encode itself, a thread's first
event, a name or a string past the caches' bound).  Each with the agent's C helper's
ring and writer (``writer="C"``) and without, as where it was not built (mmap, and the
hook's write in Python).
"""

from __future__ import annotations

import collections
import json
import sys
import threading

import msgpack
import pytest
from helpers import AGENT_DIR, agent_env, events_of, read_jsonl, run_recorded
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(AGENT_DIR))
import _auditmon_agent  # noqa: E402
from _auditmon_agent import core, python_hook, wire  # noqa: E402
from _auditmon_agent.config import Config  # noqa: E402
from _auditmon_agent.constants import (  # noqa: E402
    HELPER,
    RECORD,
    RING_HEAD_AT,
    RING_HEADER,
    RING_TAIL_AT,
)
from _auditmon_agent.ring import Ring  # noqa: E402

sys.path.remove(str(AGENT_DIR))

STRLEN = 16
EVENT = "test.event"


class Hooked:
    """An agent's Python hook on a real ring of its own (``limit`` bytes' worth), encoding
    with msgpack (``pure=False``) or by itself, writing by the C helper's writer
    (``writer="C"``) or in Python."""

    def __init__(
        self, pure: bool, monkeypatch: pytest.MonkeyPatch, writer: str = "C", limit: int = 1 << 23
    ) -> None:
        agent = core.Agent()
        config = {"AUDITMON_STRLEN": str(STRLEN), "AUDITMON_QUEUE": str(1 << 16)}
        agent.settle(Config(config), 0.0)
        agent.decisions[EVENT] = RECORD
        self.hook = agent.use_python_hook()
        with monkeypatch.context() as patch:
            if writer != "C":  # as where the helper was not built
                patch.setitem(_auditmon_agent._own_copies, HELPER, None)
            self.ring = Ring(limit)
        assert (self.ring.writer is not None) == (writer == "C")
        with monkeypatch.context() as patch:
            if pure:
                patch.setitem(sys.modules, "msgpack", None)  # import msgpack: ImportError
            patch.setattr(wire, "_MSGPACK", [])  # (a process looks for it once)
            packers = wire.make_event_packers()
        assert (packers[2] is not None) == pure
        self.hook.use_ring(self.ring, packers, lambda: None, lambda: None)

    def word(self, at: int) -> int:
        return int.from_bytes(self.ring.map[at : at + 8], "little")

    def events(self, since: int = 0) -> list[list]:
        """The ring's events from byte ``since`` to its head (past its end, from its
        start), decoded, with their times set to 0."""
        head, size = self.word(RING_HEAD_AT), self.ring.size
        at, n = since % size, head - since
        first = min(n, size - at)
        data = bytes(self.ring.map[RING_HEADER + at : RING_HEADER + at + first])
        data += bytes(self.ring.map[RING_HEADER : RING_HEADER + n - first])
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, unicode_errors="surrogatepass")
        unpacker.feed(data)
        events = [event for event in unpacker]
        for event in events:
            event[1] = 0
        return events

    def close(self) -> None:
        self.ring.close()


@pytest.fixture(params=["C", "python"])
def writer(request) -> str:
    return request.param


@pytest.fixture
def hooks(monkeypatch, writer):
    pair = [Hooked(False, monkeypatch, writer), Hooked(True, monkeypatch, writer)]
    yield pair
    for hooked in pair:
        hooked.close()


def raise_in_both(hooks, calls) -> list[list]:
    for hooked in hooks:
        for args in calls:
            hooked.hook.hook(EVENT, args)
    by_msgpack, by_hook = (hooked.events() for hooked in hooks)
    assert by_hook == by_msgpack
    return by_hook


def test_each_ring_has_its_hook_code(hooks):
    """msgpack's ring hook, and the one that encodes by itself."""
    assert hooks[0].hook.hook.__code__ is python_hook._packed_ring_hook.__code__
    assert hooks[1].hook.hook.__code__ is python_hook._ring_hook.__code__
    for hooked in hooks:  # the C writer (where there is one) on from the start
        assert hooked.ring.until is None or hooked.ring.until[0] > 0


ODD = [
    ("a" * STRLEN, "é" * STRLEN, "caf\udce9"),
    ("a" * (STRLEN + 1),),
    (0, 127, 128, 255, 256, 65535, 65536, 2**32 - 1),
    (2**32, 2**64 - 1, -1, -32, -33, -(2**63), 2**64, -(2**63) - 1),
    (None, True, False),
    (None, True, False, 1.5),
    ("ok", b"bytes", ["a", "list"], object()),
    tuple(range(15)),
    tuple(range(16)),
    (),
]


def test_every_boundary_writes_what_msgpack_writes(hooks):
    """Past the first 255 events (seqs of 8 bits go the general way) and up to seqs of
    32 bits, each odd argument list at each size of seq."""
    calls = [(i, "abc") for i in range(300)] + ODD * 3
    events = raise_in_both(hooks, calls)
    assert [event[0] for event in events] == list(range(1, len(calls) + 1))
    assert events[0][6] == "MainThread"  # the thread's first event, its name
    assert events[299][4] == [299, "abc"]
    assert events[300][4] == ["a" * STRLEN, "é" * STRLEN, "caf\udce9"]
    assert events[301][4][0] != "a" * (STRLEN + 1)  # cut by the summariser


def test_seqs_past_16_bits_are_encoded_inline_too(hooks):
    for hooked in hooks:
        for _ in range(0x10000 - 5):
            hooked.hook.hook(EVENT, (1,))
    events = raise_in_both(hooks, ODD)
    assert [event[0] for event in events[-len(ODD) :]] == list(
        range(0x10000 - 4, 0x10000 - 4 + len(ODD))
    )


def test_names_and_strings_past_the_caches_bound(hooks, monkeypatch):
    monkeypatch.setattr(wire, "_EVENT_CACHE", 8)
    for hooked in hooks:
        hooked.hook.agent.decide = lambda name: RECORD
    for hooked in hooks:
        for i in range(300):
            hooked.hook.hook(f"event.{i % 20}", (f"arg{i % 30}", i))
    by_msgpack, by_hook = (hooked.events() for hooked in hooks)
    assert by_hook == by_msgpack
    assert len(wire._event_strs) <= 8
    assert all(len(heads) <= 8 for heads in wire._event_heads.values())


def test_a_new_threads_first_event_carries_its_name(hooks):
    def worker():
        for hooked in hooks:
            for i in range(3):
                hooked.hook.hook(EVENT, (i,))

    for hooked in hooks:
        for i in range(300):
            hooked.hook.hook(EVENT, (i,))
    thread = threading.Thread(target=worker, name="worker-é")
    thread.start()
    thread.join()
    by_msgpack, by_hook = (hooked.events() for hooked in hooks)
    assert by_hook == by_msgpack
    assert [len(event) for event in by_hook[-3:]] == [7, 6, 6]
    assert by_hook[-3][6] == "worker-é"


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples()
        | st.lists(
            st.none()
            | st.booleans()
            | st.integers(-(2**65), 2**65)
            | st.text(max_size=STRLEN + 4)
            | st.floats(allow_nan=False),
            max_size=17,
        ).map(tuple),
        min_size=1,
        max_size=20,
    )
)
def test_any_arguments_are_written_as_msgpack_writes_them(calls):
    with pytest.MonkeyPatch.context() as monkeypatch:
        pair = [Hooked(False, monkeypatch, "python"), Hooked(True, monkeypatch)]
    try:
        for hooked in pair:
            for _ in range(300):  # past the seqs of 8 bits
                hooked.hook.hook(EVENT, ())
        raise_in_both(pair, calls)
    finally:
        for hooked in pair:
            hooked.close()


def test_a_fork_s_queue_and_a_restart_give_the_general_hook_back(hooks):
    pure = hooks[1].hook
    pure.before_fork()
    pure.hook(EVENT, ("queued",))
    assert len(pure.queue) == 1
    pure.after_fork_in_parent()
    assert len(pure.queue) == 0 and hooks[1].events()[-1][4] == ["queued"]
    pure.restart()
    assert pure.hook.__code__ is python_hook._hook.__code__


@pytest.mark.parametrize("kind", ["msgpack", "pure"])
def test_an_event_paused_across_the_fork_s_end_reaches_the_ring(hooks, kind):
    """Another thread's hook, paused at a call while a fork ends in the forking thread
    (after_fork_in_parent: the ring back, the queue written into it), still writes its
    event into the ring, not into the queue the fork's end has already emptied.  The
    pause is made here by the hook's ``_time`` ending the fork."""
    hooked = hooks[kind == "pure"]
    hook = hooked.hook
    hook.hook(EVENT, ("first",))  # the thread's name sent: the event after is the usual
    hook.before_fork()
    real_time = hook.names["_time"]

    def time_ending_the_fork():
        hook.names["_time"] = real_time
        hook.after_fork_in_parent()
        return real_time()

    hook.names["_time"] = time_ending_the_fork
    hook.hook(EVENT, ("paused",))
    hook.hook(EVENT, ("after",))
    assert len(hook.queue) == 0
    assert [event[4] for event in hooked.events()] == [["first"], ["paused"], ["after"]]


@pytest.mark.parametrize("kind", ["msgpack", "pure"])
def test_an_event_written_while_the_writer_looks_for_room_is_not_written_over(
    monkeypatch, writer, kind
):
    """The ring's writer (ring.py's put) calls out to read the monitor's tail where an
    event would pass the room it knew of; at that call another thread or a signal
    handler may come in and raise an event (from 3.11 only at a call; before, anywhere),
    which the hook then writes inline where it fits.  The writer must write after that
    event, never over it.  The call runs an event here by a profile function
    (sys.setprofile), as a switch there would.  (Written over on 38519b5: the writer had
    read the head before the call.)  The C writer is off meanwhile: the event is queued,
    and written after."""
    hooked = Hooked(kind == "pure", monkeypatch, writer, limit=4096)
    hook, size = hooked.hook, hooked.ring.size
    hook.hook(EVENT, ("first",))  # the thread's name sent: the events after are the usual
    before = hooked.word(RING_HEAD_AT)
    hook.hook(EVENT, ())
    small = hooked.word(RING_HEAD_AT) - before
    # the rest of the ring's first lap but small + 5 bytes: Nones, as msgpack writes them
    hook.names["_ring_write"](0, b"\xc0" * (size - hooked.word(RING_HEAD_AT) - small - 5))
    read = hooked.word(RING_HEAD_AT)
    hooked.ring.words[RING_TAIL_AT // 8] = read  # the monitor has read it all

    def at_the_room_check(frame, event, arg):
        if event == "call" and frame.f_code.co_name == "room_end":
            sys.setprofile(None)
            hook.hook(EVENT, ("in",))  # fits in the room the writer knew of

    sys.setprofile(at_the_room_check)
    try:
        hook.hook(EVENT, tuple(range(15)))  # does not: past the first lap, to the start
    finally:
        sys.setprofile(None)
    events = sorted(hooked.events(read))  # by seq: the first numbered went in second
    assert [event[4] for event in events] == [list(range(15)), ["in"]], events
    hooked.close()


class AppendedWhileTaken(collections.deque):
    """A queue another thread appends to once the fork's end has begun to take it (at
    its first popleft or clear: a switch there)."""

    late = None

    def _append_late(self):
        if self.late is not None:
            late, self.late = self.late, None
            late()

    def popleft(self):
        item = collections.deque.popleft(self)
        self._append_late()
        return item

    def clear(self):
        self._append_late()
        collections.deque.clear(self)


def test_an_event_queued_as_the_fork_s_end_takes_the_queue_is_not_lost(hooks):
    hooked = hooks[1]
    hook = hooked.hook
    hook.hook(EVENT, ("first",))
    hook.before_fork()
    queue = AppendedWhileTaken()
    hook.queue = queue
    hook.names.update(_queue=queue, _append=queue.append)
    hook.hook(EVENT, ("queued",))
    queue.late = lambda: queue.append((99, 0.0, hook.main_tid, EVENT, ("late",), None))
    hook.after_fork_in_parent()
    assert [event[4] for event in hooked.events()][-2:] == [["queued"], ["late"]]


FORKING = """
import os, sys
for i in range(400):
    sys.audit("ringhook.parent", i, "abc")
pid = os.fork()
if pid == 0:
    for i in range(400):
        sys.audit("ringhook.child", i, "abc")
    os._exit(0)
os.waitpid(pid, 0)
"""


def test_a_real_target_without_msgpack_records_exactly_its_own_events(tmp_path, no_msgpack_python):
    """Under an interpreter without msgpack the pure-Python agent swaps its hook's code
    for the inline encoder (and back in a forked child, then in again): each process's
    events are numbered from 1 without a gap, all there, and none is the agent's own
    (setting a function's code raises an audit event)."""
    record = tmp_path / "r.jsonl"
    result = run_recorded(
        record, no_msgpack_python, "-c", FORKING, env=agent_env("python"), timeout=120
    )
    assert result.returncode == 0, result.stderr
    records = read_jsonl(record)
    processes = {r["pid"] for r in records if r["type"] == "process"}
    assert len(processes) == 2
    for pid in processes:
        events = events_of(records, pid)
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert not [e for e in events if "_auditmon" in json.dumps(e["args"])]
    names = [e["event"] for e in events_of(records)]
    assert names.count("ringhook.parent") == names.count("ringhook.child") == 400
    assert not [r for r in records if r["type"] == "dropped"]
