"""The monitor's reading of run mode's shared-memory rings: events come in order, drops
and events cut short by a death are counted, and a bad ring closes its connection with a
message (never a traceback), without leaking a descriptor or a mapping.

The agent's side is played here on real parts (a memfd, a Unix socket pair, the hello's
descriptor passed with SCM_RIGHTS), so that torn and corrupt rings can be made on
purpose; tests/test_process_death.py runs the real agents.
"""

from __future__ import annotations

import mmap
import os
import socket
import struct
import subprocess

import msgpack
import pytest
from helpers import read_jsonl, wait_for

from auditmon import protocol
from auditmon.ingest import Ingest
from auditmon.ingest.connection import RING_BATCH
from auditmon.model.ending import NO_GOODBYE, RING_KEPT, ending_text, process_ending
from auditmon.monitor.headless import Monitor
from auditmon.sources.replay import ReplayFeed

C = protocol.agent_constants
SIZE = 65536


class Collect:
    """A sink that keeps what it is handed."""

    def __init__(self) -> None:
        self.got: list = []
        self.drops = 0
        self.ended: list = []

    def process_started(self, process) -> None:
        pass

    def events(self, process, batch, raw=None) -> None:
        self.got.extend(batch)

    def dropped(self, process, count) -> None:
        self.drops += count

    def process_ended(self, process) -> None:
        self.ended.append(process)


class Agent:
    """An agent's side: a ring in a memfd, and the socket the monitor reads."""

    def __init__(self, ingest: Ingest, size: int = SIZE) -> None:
        self.fd = os.memfd_create("test-ring")
        os.ftruncate(self.fd, C.RING_HEADER + size)
        self.map = mmap.mmap(self.fd, C.RING_HEADER + size)
        self.size = size
        self.set(C.RING_MAGIC_AT, C.RING_MAGIC)
        self.set(C.RING_SIZE_AT, size)
        self.head = 0
        self.seq = 0
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.connection = ingest.add(theirs)

    def set(self, at: int, value: int) -> None:
        struct.pack_into("=Q", self.map, at, value)

    def word(self, at: int) -> int:
        return struct.unpack_from("=Q", self.map, at)[0]

    def hello(
        self,
        ring: object = "own",
        fd: int | None = -1,
        extra: tuple[int, ...] = (),
        then: bytes = b"",
        pid: int = 4242,
    ) -> None:
        """The hello, with the ring's descriptor (``fd``: another, or None) and
        ``extra`` ones on the same sendmsg, and ``then`` bytes after it."""
        body = {"v": protocol.VERSION, "pid": pid, "argv": ["fake"], "events": self.seq}
        if ring == "own":
            ring = self.size
        if ring is not None:
            body["ring"] = ring
        data = protocol.packb([protocol.HELLO, body]) + then
        fds = [self.fd if fd == -1 else fd] if fd is not None else []
        socket.send_fds(self.sock, [data], [*fds, *extra])

    def write(self, data: bytes, publish: bool = True) -> None:
        """``data`` at the ring's head, wrapping past the end."""
        for i, byte in enumerate(data):
            self.map[C.RING_HEADER + (self.head + i) % self.size] = byte
        if publish:
            self.head += len(data)
            self.set(C.RING_HEAD_AT, self.head)

    def event(self, name: str = "ring.tick", *args: object) -> bytes:
        """Number and write one event, as the C hook does."""
        self.seq += 1
        self.set(C.RING_NUMBERED_AT, self.seq)
        data = protocol.packb([self.seq, 1.5, 7, name, list(args), None])
        self.write(data)
        return data

    def goodbye(self, cut: int | None = None) -> None:
        """The goodbye (``cut``: only its first bytes, as if the process died sending)."""
        body = {"time": 2.0, "exit_code": None, "last_seq": self.seq}
        self.sock.sendall(protocol.packb([protocol.GOODBYE, body])[:cut])

    def close(self) -> None:
        self.sock.close()
        self.map.close()
        os.close(self.fd)


@pytest.fixture
def monitor():
    problems: list[str] = []
    sink = Collect()
    ingest = Ingest(sink, problems.append)
    yield ingest, sink, problems
    ingest.close()


def pump(ingest, until, problems) -> None:
    wait_for(until, 10, between=lambda: ingest.poll(0.02), state=lambda: problems)


def started(monitor, size: int = SIZE) -> Agent:
    """An agent whose hello (and ring) the monitor has taken."""
    ingest, _, problems = monitor
    agent = Agent(ingest, size)
    agent.hello()
    pump(ingest, lambda: agent.connection.started, problems)
    return agent


def ticks(sink) -> list:
    return [e[4][0] for e in sink.got if e[3] == "ring.tick"]


def test_events_written_before_and_after_the_hello_come_in_order(monitor):
    ingest, sink, problems = monitor
    agent = Agent(ingest)
    agent.event("ring.tick", 0)  # before the hello: the preload library's early events
    agent.hello()
    for i in range(1, 100):
        agent.event("ring.tick", i)
    pump(ingest, lambda: len(ticks(sink)) == 100, problems)
    assert ticks(sink) == list(range(100))
    assert agent.word(C.RING_TAIL_AT) == agent.head  # marked read: the agent may reuse it
    agent.goodbye()
    agent.sock.close()
    pump(ingest, lambda: sink.ended, problems)
    (process,) = sink.ended
    assert process.status == "exited" and process.lost == 0 and process.dropped == 0
    assert problems == []


def test_an_event_that_wraps_past_the_end_is_read_whole(monitor):
    ingest, sink, problems = monitor
    agent = Agent(ingest)
    agent.hello()
    big = "x" * 1000
    n = SIZE // 1000 + 20  # more than the ring holds at once: read as it goes
    for i in range(n):
        agent.event("ring.tick", i, big)
        if agent.head - agent.word(C.RING_TAIL_AT) > SIZE - 2000:
            pump(ingest, lambda: agent.word(C.RING_TAIL_AT) == agent.head, problems)
    pump(ingest, lambda: len(ticks(sink)) == n, problems)
    assert ticks(sink) == list(range(n))
    assert agent.head > SIZE and agent.head % SIZE != 0


def test_drops_counted_in_the_ring_are_reported_exactly(monitor):
    ingest, sink, problems = monitor
    agent = Agent(ingest)
    agent.hello()
    agent.event("ring.tick", 0)
    agent.seq += 5  # five numbered but dropped: the ring was full
    agent.set(C.RING_NUMBERED_AT, agent.seq)
    agent.set(C.RING_DROPPED_AT, 5)
    agent.event("ring.tick", 1)
    pump(ingest, lambda: len(ticks(sink)) == 2 and sink.drops == 5, problems)
    agent.goodbye()
    agent.sock.close()
    pump(ingest, lambda: sink.ended, problems)
    assert sink.drops == 5 and sink.ended[0].lost == 0


def test_a_goodbye_comes_after_the_events_still_in_the_ring(monitor):
    ingest, sink, problems = monitor
    agent = Agent(ingest)
    agent.hello()
    pump(ingest, lambda: ingest.ledger.processes[0].pid == 4242, problems)
    for i in range(50):
        agent.event("ring.tick", i)
    agent.goodbye()  # arrives before the monitor's next look into the ring
    agent.sock.close()
    pump(ingest, lambda: sink.ended, problems)
    assert ticks(sink) == list(range(50))
    assert sink.ended[0].status == "exited" and sink.ended[0].lost == 0


def test_a_death_mid_write_is_counted_as_one_dropped_event(monitor):
    """The process died writing its 11th event: numbered, a part of its bytes past the
    head.  The ten whole ones are read, the torn one is counted, nothing is misread."""
    ingest, sink, problems = monitor
    agent = Agent(ingest)
    agent.hello()
    for i in range(10):
        agent.event("ring.tick", i)
    agent.seq += 1
    agent.set(C.RING_NUMBERED_AT, agent.seq)
    torn = protocol.packb([agent.seq, 1.5, 7, "ring.tick", [10], None])
    agent.write(torn[: len(torn) // 2], publish=False)
    agent.sock.close()  # no goodbye
    pump(ingest, lambda: ingest.open_connections == 0 and not ingest.settling, problems)
    (process,) = sink.ended
    assert ticks(sink) == list(range(10))
    assert sink.drops == 1 and process.dropped == 1 and process.lost == 0
    assert process.received == 10 and process.max_seq == agent.seq
    assert process.status == "disconnected" and process.error is None
    assert process.ring and process.ring_cut == 1
    ending = process_ending(process)
    assert RING_KEPT in ending and "1 event cut short" in ending, ending
    assert "may be missing" not in ending
    assert problems == []


def test_a_death_between_events_cuts_none(monitor):
    """The process died between two events: every one it numbered was read."""
    ingest, sink, problems = monitor
    agent = Agent(ingest)
    agent.hello()
    for i in range(3):
        agent.event("ring.tick", i)
    agent.sock.close()
    pump(ingest, lambda: ingest.open_connections == 0 and not ingest.settling, problems)
    (process,) = sink.ended
    assert ticks(sink) == [0, 1, 2] and sink.drops == 0 and process.lost == 0
    assert process.ring and process.ring_cut == 0
    assert process_ending(process) == f"disconnected ({RING_KEPT})"


def test_a_goodbye_cut_short_still_gives_the_ring_and_counts_the_cut(monitor):
    """The stream ends in the middle of the goodbye: a protocol error, but the events
    the ring holds are read, and the one numbered and torn is counted as dropped."""
    ingest, sink, problems = monitor
    agent = started(monitor)
    for i in range(4):
        agent.event("ring.tick", i)
    agent.seq += 1
    agent.set(C.RING_NUMBERED_AT, agent.seq)
    agent.goodbye(cut=3)
    agent.sock.close()
    pump(ingest, lambda: ingest.open_connections == 0 and not ingest.settling, problems)
    (process,) = sink.ended
    assert ticks(sink) == [0, 1, 2, 3]
    assert process.dropped == 1 and process.ring_cut == 1 and process.lost == 0
    (problem,) = problems
    assert "truncated frame" in problem and "Traceback" not in problem


# -- lone agents: the socket closed after the hello, the process followed -------------


@pytest.fixture
def living():
    """A real process for a lone agent's hello to name (its end is the end)."""
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


def lone(monitor, pid: int) -> Agent:
    ingest, _, problems = monitor
    agent = Agent(ingest)
    agent.set(C.RING_LONE_AT, 1)
    agent.hello(pid=pid)
    agent.sock.close()  # as a lone agent does once its hello is sent
    pump(ingest, lambda: agent.connection.pidfd is not None, problems)
    return agent


def say_goodbye_in_the_header(agent: Agent, message: bytes | None = None) -> None:
    if message is None:
        body = {"time": 2.0, "exit_code": None, "last_seq": agent.seq}
        message = protocol.packb([protocol.GOODBYE, body])
    agent.map[C.RING_GOODBYE_AT + 8 : C.RING_GOODBYE_AT + 8 + len(message)] = message
    agent.set(C.RING_GOODBYE_AT, len(message))


def test_a_lone_agent_is_followed_until_its_process_ends(monitor, living):
    ingest, sink, problems = monitor
    agent = lone(monitor, living.pid)
    for i in range(5):
        agent.event("ring.tick", i)
    for _ in range(20):  # its socket is closed: it carries on all the same
        ingest.poll(0.01)
    assert not sink.ended and ticks(sink) == list(range(5))
    for i in range(5, 10):
        agent.event("ring.tick", i)
    say_goodbye_in_the_header(agent)
    living.kill()
    living.wait()
    pump(ingest, lambda: sink.ended, problems)
    (process,) = sink.ended
    assert ticks(sink) == list(range(10))
    assert process.status == "exited" and process.lost == 0 and problems == []
    assert ingest.open_connections == 0


def test_a_lone_agent_s_process_killed_leaves_its_events_and_its_cut(monitor, living):
    ingest, sink, problems = monitor
    agent = lone(monitor, living.pid)
    for i in range(3):
        agent.event("ring.tick", i)
    agent.seq += 1
    agent.set(C.RING_NUMBERED_AT, agent.seq)  # numbered, never written: cut by its death
    living.kill()
    living.wait()
    pump(ingest, lambda: ingest.open_connections == 0 and not ingest.settling, problems)
    (process,) = sink.ended
    assert ticks(sink) == [0, 1, 2]
    assert process.status == "disconnected" and process.ring_cut == 1 and process.dropped == 1


def test_a_new_image_s_hello_ends_a_lone_agent_s_image(monitor, living):
    """An exec keeps the pid, and a pidfd says nothing of it: the new image's hello
    ends the old one, its goodbye read first."""
    ingest, sink, problems = monitor
    old = lone(monitor, living.pid)
    old.event("ring.tick", 0)
    say_goodbye_in_the_header(old)
    new = Agent(ingest)
    new.hello(pid=living.pid)
    pump(ingest, lambda: sink.ended, problems)
    (ended,) = sink.ended
    assert ended is old.connection.process and ended.status == "exited"
    assert new.connection.started and not new.connection.closed


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (b"\x01" * (C.RING_GOODBYE_MAX + 1), "a goodbye of"),
        (b"\xc1\xc1", "undecodable goodbye"),
        (protocol.packb([protocol.EVENTS, []]), "another message than a goodbye"),
    ],
)
def test_a_lone_agent_s_bad_goodbye_closes_with_a_message(monitor, living, message, expected):
    ingest, sink, problems = monitor
    agent = lone(monitor, living.pid)
    agent.event("ring.tick", 0)
    if len(message) > C.RING_GOODBYE_MAX:
        agent.set(C.RING_GOODBYE_AT, len(message))
    else:
        say_goodbye_in_the_header(agent, message)
    living.kill()
    living.wait()
    pump(ingest, lambda: problems, problems)
    (problem,) = problems
    assert "corrupt ring" in problem and expected in problem, problem
    assert "Traceback" not in problem


def test_ring_less_processes_keep_the_old_wording():
    def spelt(error=None, **ring):
        return ending_text("disconnected", None, error, detail=True, **ring)

    assert spelt() == f"disconnected ({NO_GOODBYE})"
    cut = "but 2 events cut short by its end (counted as dropped)"
    assert spelt(ring=True, cut=2) == f"disconnected ({RING_KEPT}, {cut})"
    # an error says what happened, ring or not; the short form stays one word
    assert spelt("oops", ring=True) == "disconnected (oops)"
    assert ending_text("disconnected", None, None, ring=True, cut=2) == "disconnected"


def test_a_wake_up_in_the_hello_s_read_reads_the_ring_it_brought(monitor):
    """The hello and a wake-up in one read: the ring, just taken, is read at the
    wake-up, with no poll."""
    ingest, sink, problems = monitor
    agent = Agent(ingest)
    for i in range(3):
        agent.event("ring.tick", i)
    agent.hello(then=bytes((C.WIRE_WAKE,)))
    assert agent.connection.read()
    assert ticks(sink) == [0, 1, 2] and problems == []


def test_a_wake_up_from_an_agent_without_a_ring_is_ignored(monitor):
    ingest, sink, problems = monitor
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    connection = ingest.add(theirs)
    hello = {"v": protocol.VERSION, "pid": 77, "argv": ["old"]}
    events = [[1, 1.5, 7, "ring.tick", [0], None], [2, 1.5, 7, "ring.tick", [1], None]]
    ours.sendall(
        protocol.packb([protocol.HELLO, hello])
        + bytes((C.WIRE_WAKE,))
        + protocol.packb([protocol.EVENTS, events])
        + protocol.packb([protocol.GOODBYE, {"last_seq": 2}])
    )
    ours.close()
    pump(ingest, lambda: connection.closed, problems)
    assert ticks(sink) == [0, 1] and problems == []
    assert sink.ended[0].status == "exited" and not sink.ended[0].ring


def test_every_poll_reads_the_rings_with_nothing_on_the_socket(monitor):
    ingest, sink, problems = monitor
    agent = started(monitor)
    for i in range(5):
        agent.event("ring.tick", i)
    ingest.poll(0)
    assert ticks(sink) == list(range(5))


def test_the_recorder_gets_the_ring_s_bytes_as_written(monitor):
    """Raw pass-through: an array header and the events' bytes as the agent wrote
    them (also where a batch's end cut an event); none where a thread is named."""
    ingest, sink, problems = monitor
    raws: list = []

    class Raw(Collect):
        wants_raw = True

        def events(self, process, batch, raw=None) -> None:
            super().events(process, batch)
            raws.append((len(batch), raw))

    ingest.ledger.sink = Raw()
    agent = Agent(ingest, size=1 << 20)
    written = b"".join(agent.event("ring.tick", i, "y" * 300) for i in range(1000))
    assert len(written) > RING_BATCH  # read in more than one batch
    agent.hello()
    pump(ingest, lambda: len(ticks(ingest.ledger.sink)) == 1000, problems)
    assert len(raws) >= 2 and all(raw is not None for _, raw in raws)
    bodies = b""
    for count, raw in raws:
        assert raw.startswith(_header(count)) and len(msgpack.unpackb(raw)) == count
        bodies += raw[len(_header(count)) :]
    assert bodies == written
    del raws[:]
    seq = agent.seq + 1
    agent.seq = seq
    agent.set(C.RING_NUMBERED_AT, seq)
    agent.write(protocol.packb([seq, 1.5, 9, "ring.tick", [1000], None, "worker"]))
    pump(ingest, lambda: raws, problems)
    assert raws == [(1, None)]
    assert agent.connection.process.thread_name(9, seq) == "worker"


def _header(n: int) -> bytes:
    """msgpack's header of an array of ``n`` items."""
    return protocol.packb([None] * n)[:-n]


def test_a_wake_up_reads_the_ring_at_once(monitor):
    ingest, sink, problems = monitor
    agent = Agent(ingest)
    agent.hello()
    pump(ingest, lambda: ingest.open_connections == 1 and agent.connection.started, problems)
    for i in range(5):
        agent.event("ring.tick", i)
    agent.sock.send(bytes((C.WIRE_WAKE,)))
    agent.connection.read()  # what the selector does when the byte arrives
    assert ticks(sink) == list(range(5))


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda a: a.set(C.RING_HEAD_AT, SIZE + 8), "positions make no sense"),
        (lambda a: a.write(b"\xc1\xc1\xc1\xc1"), "undecodable"),
        (lambda a: a.write(protocol.packb(["not", "an", "event"])), "malformed event batch"),
        (lambda a: a.write(protocol.packb([1, 1.5, 7, "ring.tick", [0], None])[:5]), "cut event"),
    ],
)
def test_a_corrupt_ring_closes_its_connection_with_a_message(monitor, spoil, message):
    ingest, sink, problems = monitor
    agent = Agent(ingest)
    agent.hello()
    spoil(agent)
    pump(ingest, lambda: ingest.open_connections == 0, problems)
    (problem,) = problems
    assert "corrupt ring" in problem and message in problem, problem


@pytest.mark.parametrize(
    "prepare, ring, message",
    [
        (lambda a: a.set(C.RING_MAGIC_AT, 1), SIZE, "bad magic"),
        (lambda a: None, SIZE * 2, "is 69,632 bytes, not 135,168"),
        (lambda a: a.set(C.RING_SIZE_AT, SIZE // 2), SIZE, "the ring's size is not the hello's"),
        (lambda a: None, "big", "bad ring size"),
        (lambda a: None, 0, "bad ring size"),
        (lambda a: None, SIZE - 4, "bad ring size"),
    ],
)
def test_a_ring_unlike_its_hello_is_refused(monitor, prepare, ring, message):
    ingest, sink, problems = monitor
    agent = Agent(ingest)
    prepare(agent)
    agent.hello(ring=ring)
    pump(ingest, lambda: ingest.open_connections == 0, problems)
    assert any(message in p for p in problems), problems


def test_a_head_behind_what_was_read_is_corrupt(monitor):
    ingest, sink, problems = monitor
    agent = Agent(ingest)
    agent.hello()
    agent.event("ring.tick", 0)
    pump(ingest, lambda: ticks(sink) == [0], problems)
    agent.set(C.RING_HEAD_AT, 0)
    pump(ingest, lambda: ingest.open_connections == 0, problems)
    (problem,) = problems
    assert "corrupt ring" in problem and "positions make no sense" in problem, problem


def test_a_hello_with_a_ring_but_no_descriptor_is_refused(monitor):
    ingest, sink, problems = monitor
    agent = Agent(ingest)
    agent.hello(fd=None)
    pump(ingest, lambda: ingest.open_connections == 0, problems)
    assert any("no descriptor" in p for p in problems), problems


def own_fds() -> set[int]:
    return {int(fd) for fd in os.listdir("/proc/self/fd")}


def memfd_maps() -> int:
    with open("/proc/self/maps") as maps:
        return sum("test-ring" in line for line in maps)


def held(name: str) -> int:
    """Descriptors of this process open on the memfd ``name``."""
    count = 0
    for fd in own_fds():
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith(f"/memfd:{name} ")
        except FileNotFoundError:  # listdir's own descriptor, closed since
            pass
    return count


def spare() -> int:
    fd = os.memfd_create("test-spare")
    os.ftruncate(fd, C.RING_HEADER + SIZE)
    return fd


@pytest.mark.parametrize("how", ["beside the ring", "without a ring", "after the hello"])
def test_descriptors_other_than_the_ring_are_closed_at_once(monitor, how):
    """Only the ring's descriptor is taken, and only until it is mapped: any other
    the agent sends is closed while its connection goes on (the test's own copies
    are the only ones left open)."""
    ingest, sink, problems = monitor
    agent = Agent(ingest)
    extra = spare()
    spares, rings, maps = held("test-spare"), held("test-ring"), memfd_maps()
    if how == "beside the ring":
        agent.hello(extra=(extra,))
    elif how == "without a ring":
        agent.hello(ring=None, fd=extra)
    else:
        agent.hello()
        pump(ingest, lambda: agent.connection.started, problems)
        socket.send_fds(agent.sock, [bytes((C.WIRE_WAKE,))], [extra])
    agent.event("ring.tick", 0)
    pump(ingest, lambda: agent.connection.started and not ingest.settling, problems)
    ingest.poll(0)  # reads what came after the hello, if anything
    assert not agent.connection.closed and problems == []
    # the ring's mapping holds a descriptor of its own (Python's mmap keeps a dup)
    assert held("test-spare") == spares
    assert held("test-ring") == rings + (how != "without a ring")
    assert agent.connection.process.ring == (how != "without a ring")
    assert memfd_maps() == maps + (how != "without a ring")  # the monitor's mapping
    if how != "without a ring":
        assert ticks(sink) == [0]
    os.close(extra)
    agent.close()


def test_no_descriptor_or_mapping_outlives_its_connection(monitor):
    """Rings read and closed, a descriptor sent without a ring in the hello, a refused
    ring: the monitor keeps none of them."""
    ingest, sink, problems = monitor
    before, maps = own_fds(), memfd_maps()
    agents = [Agent(ingest) for _ in range(3)]
    agents[0].hello()
    agents[0].event("ring.tick", 0)
    agents[1].hello(ring=None)  # a descriptor, but no ring in the hello: closed
    agents[2].set(C.RING_MAGIC_AT, 0)
    agents[2].hello()  # refused
    pump(ingest, lambda: ticks(sink) == [0] and ingest.open_connections == 2, problems)
    for agent in agents:
        agent.close()
    pump(ingest, lambda: ingest.open_connections == 0 and not ingest.settling, problems)
    assert own_fds() == before
    assert memfd_maps() == maps


def test_a_look_into_the_ring_is_bounded_in_time_and_in_batch_size(monitor):
    """The monitor reads in batches of at most RING_BATCH bytes (the UI gets its turn
    between them), and no further than the agent had written when it looked: an agent
    that writes on as fast as it is read must not keep the monitor in one look."""
    ingest, sink, problems = monitor
    agent = started(monitor, size=1 << 21)
    while agent.head < 3 * RING_BATCH:
        agent.event("ring.tick", len(ticks(sink)) + agent.seq, "x" * 100)
    written = agent.seq
    batches = []

    def events(process, batch, raw=None):
        batches.append(len(batch))
        sink.got.extend(batch)
        if len(batches) < 1000:  # an agent writing on while it is read
            agent.event("ring.tick", -1)

    sink.events = events
    agent.connection.drain_ring()
    assert sum(batches) == written and len(batches) >= 3, batches
    assert max(batches) * 100 <= RING_BATCH


def test_a_recording_keeps_the_ring_s_ending_and_its_cut(tmp_path):
    """The cut event is a dropped record, the exit record says the ring kept the
    events (and what its end cut), and a replay words the ending as the live run."""
    path = tmp_path / "ring.jsonl"
    problems: list[str] = []
    live = Monitor(path)
    live.ingest.problem = problems.append  # the connections' (added later)
    agent = Agent(live.ingest)
    agent.hello()
    for i in range(3):
        agent.event("ring.tick", i)
    agent.seq += 1
    agent.set(C.RING_NUMBERED_AT, agent.seq)
    agent.sock.close()  # died numbering its 4th event
    pump(live.ingest, lambda: live.ingest.open_connections == 0, problems)
    live.run_until(lambda: not live.ingest.settling, interval=0.02)
    live.close()
    records = [r for r in read_jsonl(path) if r.get("pid") == 4242]
    assert [r["args"][0] for r in records if r["type"] == "event"] == [0, 1, 2]
    assert [r["count"] for r in records if r["type"] == "dropped"] == [1]
    (end,) = [r for r in records if r["type"] == "exit"]
    assert end["status"] == "disconnected" and end["ring"] is True and end["cut"] == 1
    (process,) = [t.process for t in live.session.ordered_processes()]

    replayed = Monitor()
    feed = ReplayFeed(path)
    feed.launch(replayed.pipeline)
    while not feed.finished:
        feed.step(replayed.pipeline)
    (again,) = [t.process for t in replayed.session.ordered_processes()]
    assert (again.ring, again.ring_cut, again.dropped) == (True, 1, 1)
    assert process_ending(again) == process_ending(process)
    assert "1 event cut short" in process_ending(again) and problems == []
    agent.map.close()
    os.close(agent.fd)
