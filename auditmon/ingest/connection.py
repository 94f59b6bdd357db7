"""One agent's stream: decoded with msgpack's streaming ``Unpacker``, validated, and
handed to the ledger message by message.

A connection that sends anything but protocol version 1 (garbage, a truncated or
oversized frame, a second hello) is closed with a clear message; the others carry on.
When the ledger's sink ``wants_raw`` (the msgpack recorder), each event batch's bytes
go along as the agent encoded them, so the recorder can write them through instead of
re-encoding what was just decoded; the connection then keeps the input it has not
consumed yet, to slice them from.

A run-mode agent hands over its shared-memory ring (``ingest.ring``) with the hello
(SCM_RIGHTS, the hello's "ring" field its size) and then sends only wake-ups (msgpack
nil) and its goodbye: the ring is read on a wake-up, on ingest's every poll, before the
goodbye and when the stream ends, so its events come before the process's end.  Any
other descriptor received is closed at once.

A lone agent (its ring's header says so: its socket could not be put out of the
target's sight) closes the socket after the hello: the connection then follows the
process itself (a pidfd, which ingest watches), reads its goodbye from the ring's
header, and ends when the process does, or when a new image of it says hello (exec).
"""

from __future__ import annotations

import errno
import os
import socket
import time
from typing import Callable

import msgpack

from auditmon import protocol
from auditmon.ingest.ledger import Ledger
from auditmon.ingest.ring import Ring, RingError
from auditmon.ingest.sinks import wants_raw
from auditmon.model.process import Process

_RECV = 1 << 20
_MAX_FDS = 4  # received with a hello at most; one is a ring, the rest are closed
# Descriptors received are close-on-exec at once: a child the monitor starts meanwhile
# must not inherit an agent's ring.
_RECV_FLAGS = getattr(socket, "MSG_CMSG_CLOEXEC", 0)
#: The most a batch from a ring holds, in bytes (a socket read's size, as it were).
RING_BATCH = 256 * 1024
# For the array header a ring batch's raw bytes go to the recorder with.
_array_header = msgpack.Packer().pack_array_header


Problem = Callable[[str], None]


def _events_bytes(raw: bytearray, start: int, end: int) -> bytearray | None:
    """The encoded events array of the EVENTS message at ``raw[start:end]``: only after
    the canonical header (fixarray of 2, fixint EVENTS) is the rest exactly that array."""
    if raw[start] == 0x92 and raw[start + 1] == protocol.EVENTS:
        return raw[start + 2 : end]
    return None


class Connection:
    """One agent's stream: decode, validate, account, hand to the sink."""

    def __init__(
        self,
        sock: socket.socket,
        process: Process,
        ledger: Ledger,
        problem: Problem,
        max_message: int = protocol.MAX_MESSAGE,
    ):
        self.sock = sock
        self.process = process
        self.ledger = ledger
        self.problem = problem
        self.max_message = max_message
        self.unpacker = protocol.make_unpacker(max_message)
        self.fed = 0
        self.complete = 0  # stream offset just past the last whole message
        # For a sink that wants raw batches: the input from stream offset ``complete`` on,
        # i.e. what the unpacker has not consumed yet.
        self.raw: bytearray | None = bytearray() if wants_raw(ledger.sink) else None
        self.started = False
        self.closed = False
        # Run mode's shared-memory ring (its descriptor came with the hello), the
        # descriptors received but not yet taken, and the ring's drops reported so far.
        self.ring: Ring | None = None
        self.fds: list[int] = []
        self.ring_dropped = 0
        self.ring_unpacker: msgpack.Unpacker | None = None
        self.ring_decoded = 0  # bytes ring_unpacker has decoded, in all
        self.ring_raw = bytearray()  # the bytes taken but not decoded yet
        self.refusal: str | None = None
        # A lone agent's process, followed once its socket is closed (a pidfd).
        self.lone = False
        self.pidfd: int | None = None
        self.on_hello: Callable[[Connection, int], None] | None = None
        self.on_lone: Callable[[Connection], None] | None = None
        self.on_socket_end: Callable[[Connection], None] | None = None
        self.on_close: Callable[[Connection], None] | None = None
        # Where a stream ends without a goodbye, ingest may settle it a moment later
        # (see ``Ingest.defer``): what other processes say meanwhile (an os.kill of this
        # one) tells how it ended.
        self.on_disconnect: Callable[[Connection, float], None] | None = None

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self) -> bool:
        """Read what is available; False once the connection is finished."""
        try:
            if self.started:
                data = self.sock.recv(_RECV)
            else:  # the hello may bring the ring's descriptor (later ones are dropped
                # by the kernel: a plain recv takes no ancillary data)
                data, fds, _, _ = socket.recv_fds(self.sock, _RECV, _MAX_FDS, _RECV_FLAGS)
                self.fds += fds
        except (BlockingIOError, InterruptedError):
            return True
        except OSError as error:
            self.close(f"read failed: {error.strerror or error}")
            return False
        if not data:
            if self.lone and self.fed == self.complete:  # the process's end is its end
                if self.pidfd is None:  # gone already
                    self.process_ended()
                    return False
                if self.on_socket_end is not None:
                    self.on_socket_end(self)
                return True
            self._ring_end()  # the agent's end: what its ring holds comes first
            if self.closed:  # the ring was corrupt: closed with that error
                return False
            if self.fed > self.complete:
                self.close("connection closed in the middle of a message (truncated frame)")
            else:
                self.close(None)
            return False
        return self.feed(data)

    def feed(self, data: bytes) -> bool:
        try:
            self.fed += len(data)
            self.unpacker.feed(data)
            raw, base = self.raw, self.complete  # raw holds the input from ``complete`` on
            if raw is not None:
                raw += data
            for value in self.unpacker:
                start, self.complete = self.complete, self.unpacker.tell()
                if value is None:  # a wake-up (WIRE_WAKE): the ring is filling up
                    self.drain_ring()
                    if self.closed:
                        return False
                    continue
                message = protocol.check_message(value, first=not self.started)
                batch = None
                if raw is not None and message.kind == protocol.EVENTS and not message.threads:
                    batch = _events_bytes(raw, start - base, self.complete - base)
                self.handle(message, batch)
                if self.closed:
                    return False
            if raw is not None:
                del raw[: self.complete - base]  # keep only the unconsumed remainder
        except protocol.ProtocolError as error:
            self.close(f"protocol error: {error}")
            return False
        except (msgpack.BufferFull, ValueError) as error:
            if isinstance(error, msgpack.BufferFull) or "exceeds max" in str(error):
                self.close(f"oversized frame (over {self.max_message:,} bytes)")
                return False
            self.close(f"undecodable data ({type(error).__name__}: {error})")
            return False
        except Exception as error:  # malformed msgpack: every decoder error lands here
            self.close(f"undecodable data ({type(error).__name__}: {error})")
            return False
        return True

    def handle(self, message: protocol.Message, raw: bytes | bytearray | None = None) -> None:
        """Act on one message; ``raw`` is an event batch's encoded array, if known."""
        process, ledger = self.process, self.ledger
        kind, body = message.kind, message.body
        if kind == protocol.EVENTS:
            if message.threads:
                ledger.threads(process, message.threads)
            ledger.events(process, body, raw)
        elif kind == protocol.HELLO:
            if self.started:
                raise protocol.ProtocolError("a second hello on one connection")
            self.started = True
            self.take_ring(body.get("ring"))
            self.lone = self.ring is not None and self.ring.lone
            if self.on_hello is not None:
                self.on_hello(self, body["pid"])
            ledger.hello(process, body)
            if self.lone:
                self._follow(body["pid"])
        elif kind == protocol.DROPPED:
            ledger.dropped(process, body["count"])
        elif kind == protocol.GOODBYE:
            self.drain_ring()  # its events come first
            if self.closed:
                return
            ledger.goodbye(process, body)
        elif kind == protocol.ERROR:
            self.refusal = body
            self.close(f"the agent refused: {body}")
        elif kind == protocol.STATUS:
            raise protocol.ProtocolError("unexpected status message")

    # -- run mode's ring ---------------------------------------------------------------
    def take_ring(self, size: object) -> None:
        """Map the ring the hello announced (``size``: its "ring" field) from the
        descriptor that came with it; any other descriptor received is closed."""
        fds, self.fds = self.fds, []
        if size is None:
            for fd in fds:
                os.close(fd)
            return
        if not fds:
            raise protocol.ProtocolError("a hello with a ring but no descriptor for it")
        for fd in fds[1:]:
            os.close(fd)
        try:
            self.ring = Ring(fds[0], size)
        except RingError as error:
            raise protocol.ProtocolError(str(error)) from None
        self.ring_unpacker = protocol.make_unpacker(self.max_message)
        self.process.ring = True

    def drain_ring(self) -> None:
        """Hand on what the agent has written into its ring since the last look, in
        batches of at most RING_BATCH bytes (as socket reads are: the sink gives way to
        the UI between batches), and the drops it has counted meanwhile."""
        ring = self.ring
        if ring is None or self.closed:
            return
        try:
            dropped = ring.dropped
            if dropped > self.ring_dropped:
                self.ledger.dropped(self.process, dropped - self.ring_dropped)
                self.ring_dropped = dropped
            until = ring.tail + ring.unread()  # no further: an agent writing on would keep us
            while not self.closed and ring.tail < until:
                data = ring.take(min(RING_BATCH, until - ring.tail))
                if not data:
                    break
                self._ring_batch(data)
            if ring.tail == ring.written and self._ring_cut():
                raise protocol.ProtocolError("the ring holds a cut event")
        except (RingError, protocol.ProtocolError) as error:
            self._ring_failed(f"corrupt ring: {error}")
        except Exception as error:  # undecodable bytes: every decoder error lands here
            self._ring_failed(f"corrupt ring: undecodable data ({type(error).__name__}: {error})")

    def _ring_batch(self, data: bytes) -> None:
        """The whole events among ``data`` and the bytes before it not yet decoded."""
        unpacker = self.ring_unpacker
        assert unpacker is not None
        unpacker.feed(data)
        raw = None
        if self.raw is None:
            events = tuple(unpacker)
        else:  # the recorder writes the events' bytes through: where they end is needed
            self.ring_raw += data
            listed, end = [], self.ring_decoded
            for event in unpacker:  # tell() is exact only between objects
                listed.append(event)
                end = unpacker.tell()
            events = tuple(listed)
            used = end - self.ring_decoded
            self.ring_decoded = end
            raw = self.ring_raw[:used]
            del self.ring_raw[:used]
        if not events:
            return
        message = protocol.check_message((protocol.EVENTS, events), first=False)
        if raw is not None and not message.threads:
            raw = _array_header(len(events)) + raw
        else:
            raw = None
        self.handle(message, raw)

    def _ring_cut(self) -> bool:
        """Whether bytes taken from the ring are left that make no whole event (only
        asked once the ring is read to its head: then there must be none)."""
        unpacker = self.ring_unpacker
        if unpacker is None:
            return False
        try:
            return bool(unpacker.read_bytes(1))
        except ValueError:  # msgpack: "an object is incomplete"
            return True

    def _follow(self, pid: int) -> None:
        """A lone agent: follow its process (``on_lone`` watches the pidfd).  Where
        it is gone already, or no pidfd can be had, its end is its socket's."""
        try:
            self.pidfd = os.pidfd_open(pid)
        except (OSError, AttributeError) as error:
            if getattr(error, "errno", None) != errno.ESRCH:
                self.problem(
                    f"auditmon: cannot follow pid {pid} after its agent closed its socket "
                    f"({error}): what it raises after that may be missing"
                )
            return
        if self.on_lone is not None:  # (close-on-exec: no child of the monitor gets it)
            self.on_lone(self)

    def process_ended(self) -> None:
        """A lone agent's process exited or exec'd: its goodbye, if it wrote one (read
        after the events before it), what its ring holds, and its end."""
        ring = self.ring
        if ring is None or self.closed:
            return
        try:
            message = ring.goodbye()
            if message is not None:
                unpacker = protocol.make_unpacker(self.max_message)
                unpacker.feed(message)
                goodbye = protocol.check_message(next(unpacker), first=False)
                if goodbye.kind != protocol.GOODBYE:
                    raise protocol.ProtocolError("its header holds another message than a goodbye")
                self.handle(goodbye)
        except (RingError, protocol.ProtocolError) as error:
            self._ring_failed(f"corrupt ring: {error}")
            return
        except Exception as error:  # undecodable bytes: every decoder error lands here
            self._ring_failed(f"corrupt ring: undecodable goodbye ({type(error).__name__})")
            return
        self._ring_end()
        if not self.closed:
            self.close(None)

    def _ring_failed(self, error: str) -> None:
        ring, self.ring = self.ring, None
        if ring is not None:
            ring.close()
        self.close(error)

    def _ring_end(self) -> None:
        """The agent's stream ended: read what its ring holds still, and, where the
        process said no goodbye, count as dropped the events it numbered but never
        wrote whole (its death cut them short: at most one per thread in the hook)."""
        self.drain_ring()
        ring, self.ring = self.ring, None
        if ring is None:  # none, or corrupt (then closed with that error)
            return
        process = self.process
        if process.goodbye is None:
            numbered = max(ring.numbered, process.max_seq)
            cut = numbered - process.seq_base - process.received - process.dropped
            if cut > 0:
                process.ring_cut += cut
                self.ledger.dropped(process, cut)
            process.max_seq = numbered
        ring.close()

    def close(self, error: str | None, detached: bool = False) -> None:
        """Finish this connection; ``detached`` when the monitor, not the agent, ends it."""
        if self.closed:
            return
        if self.ring is not None:  # what was written whole is good, whoever ends it
            self.drain_ring()
            if self.closed:  # the ring was corrupt: closed with that error
                return
        ring, self.ring = self.ring, None
        if ring is not None:
            ring.close()
        for fd in self.fds:
            os.close(fd)
        self.fds = []
        self.closed = True
        if self.raw is not None:
            del self.raw[:]  # nothing more will be read from it
        if self.on_close is not None:
            self.on_close(self)
        try:
            self.sock.close()
        except OSError:
            pass
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        process = self.process
        end_time = time.time()
        if process.goodbye is not None:
            goodbye_time = process.goodbye.get("time")
            if isinstance(goodbye_time, (int, float)):
                end_time = float(goodbye_time)
        if error is not None:
            process.error = error
            who = f"pid {process.pid}" if process.pid else "an agent"
            self.problem(f"auditmon: connection from {who} closed: {error}")
        if not self.started:
            process.end_time = end_time
            return
        if process.goodbye is not None and error is None:
            status = "exited"
        else:
            status = "detached" if detached else "disconnected"
        if status == "disconnected" and self.on_disconnect is not None:
            self.on_disconnect(self, end_time)
        else:
            self.ledger.ended(process, status, end_time)
