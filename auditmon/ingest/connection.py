"""One agent's stream: decoded with msgpack's streaming ``Unpacker``, validated, and
handed to the ledger message by message.

A connection that sends anything but protocol version 1 (garbage, a truncated or
oversized frame, a second hello) is closed with a clear message; the others carry on.
When the ledger's sink ``wants_raw`` (the msgpack recorder), each event batch's bytes
go along as the agent encoded them, so the recorder can write them through instead of
re-encoding what was just decoded; the connection then keeps the input it has not
consumed yet, to slice them from.
"""

from __future__ import annotations

import socket
import time
from typing import Callable

import msgpack

from auditmon import protocol
from auditmon.ingest.ledger import Ledger
from auditmon.ingest.sinks import wants_raw
from auditmon.model.process import Process

_RECV = 1 << 20

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
        self.refusal: str | None = None
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
            data = self.sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError as error:
            self.close(f"read failed: {error.strerror or error}")
            return False
        if not data:
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
            ledger.hello(process, body)
        elif kind == protocol.DROPPED:
            ledger.dropped(process, body["count"])
        elif kind == protocol.GOODBYE:
            ledger.goodbye(process, body)
        elif kind == protocol.ERROR:
            self.refusal = body
            self.close(f"the agent refused: {body}")
        elif kind == protocol.STATUS:
            raise protocol.ProtocolError("unexpected status message")

    def close(self, error: str | None, detached: bool = False) -> None:
        """Finish this connection; ``detached`` when the monitor, not the agent, ends it."""
        if self.closed:
            return
        self.closed = True
        if self.raw is not None:
            del self.raw[:]  # nothing more will be read from it
        if self.on_close is not None:
            self.on_close(self)
        try:
            self.sock.close()
        except OSError:
            pass
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
