"""Ingest: the monitor's sockets, decoding and per-connection bookkeeping.

A ``Listener`` accepts agents (``auditmon run``); ``connect_attach`` opens one agent's
attach socket.  Each connection is decoded with msgpack's streaming ``Unpacker`` and
validated; a connection that sends anything but protocol version 1 is closed with a
clear message while the others carry on.  Decoded messages go, in order, to a ``Sink``.

A sink with ``wants_raw`` (the msgpack recorder) also gets each event batch's bytes as
the agent encoded them, so it can write them through instead of re-encoding what was
just decoded; the connection then keeps the not-yet-consumed input to slice them from.
"""

from __future__ import annotations

import os
import selectors
import socket
import struct
import time
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, Callable, Protocol

import msgpack

from auditmon import protocol

_SO_PEERCRED = getattr(socket, "SO_PEERCRED", 17)
_first = itemgetter(0)
_RECV = 1 << 20


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket."""
    creds = sock.getsockopt(socket.SOL_SOCKET, _SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


@dataclass
class Process:
    """One reporting process image (one agent connection) and what it told us."""

    id: int
    pid: int = 0
    ppid: int = 0
    argv: list[str] = field(default_factory=list)
    executable: str = ""
    cwd: str | None = None
    python: str = ""
    start: float = 0.0
    agent: str = ""
    mode: str = ""
    received: int = 0
    dropped: int = 0
    lost: int = 0
    max_seq: int = 0
    seq_base: int = 0
    goodbye: dict[str, Any] | None = None
    status: str = "connecting"
    error: str | None = None
    exit_code: int | None = None
    end_time: float | None = None

    def apply_hello(self, hello: dict[str, Any]) -> None:
        self.pid = hello["pid"]
        self.ppid = _int(hello.get("ppid"))
        argv = hello.get("argv")
        self.argv = [str(a) for a in argv] if isinstance(argv, (list, tuple)) else []
        self.executable = str(hello.get("executable") or "")
        cwd = hello.get("cwd")
        self.cwd = cwd if isinstance(cwd, str) else None
        self.python = str(hello.get("python") or "")
        start = hello.get("start")
        self.start = float(start) if isinstance(start, (int, float)) else time.time()
        self.agent = str(hello.get("agent") or "")
        self.mode = str(hello.get("mode") or "")
        first_seq = hello.get("first_seq")
        if isinstance(first_seq, int) and first_seq > 0:
            self.seq_base = first_seq - 1
        self.status = "running"

    @property
    def command(self) -> str:
        return " ".join(self.argv) if self.argv else self.executable

    def account_end(self) -> None:
        """Events the process numbered but we never received or heard dropped: lost."""
        if self.goodbye is not None:
            last = self.goodbye.get("last_seq")
            if isinstance(last, int):
                self.max_seq = max(self.max_seq, last)
        self.lost = max(0, self.max_seq - self.seq_base - self.received - self.dropped)


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


class Sink(Protocol):
    """What ingest feeds: the recorder, the model, or both (``Fanout``).

    ``events`` gets each decoded, validated batch and, when the sink (or one behind a
    ``Fanout``) has a true ``wants_raw``, ``raw``: the msgpack encoding of that array
    exactly as it arrived, or None when it is not available (the message header was not
    the canonical ``0x92, EVENTS``).  Keeping the input to slice it from costs a copy,
    so only connections whose sink wants it do.
    """

    def process_started(self, process: Process) -> None: ...

    def events(
        self, process: Process, events: list[list[Any]], raw: bytes | None = None
    ) -> None: ...

    def dropped(self, process: Process, count: int) -> None: ...

    def process_ended(self, process: Process) -> None: ...


def wants_raw(sink: Any) -> bool:
    """Whether ``sink`` takes raw event batches (see ``Sink``)."""
    return bool(getattr(sink, "wants_raw", False))


class Fanout:
    """Feeds several sinks in order."""

    def __init__(self, *sinks: Sink) -> None:
        self.sinks = [s for s in sinks if s is not None]
        self.wants_raw = any(wants_raw(s) for s in self.sinks)

    def process_started(self, process: Process) -> None:
        for sink in self.sinks:
            sink.process_started(process)

    def events(
        self, process: Process, events: list[list[Any]], raw: bytes | bytearray | None = None
    ) -> None:
        for sink in self.sinks:
            sink.events(process, events, raw)

    def dropped(self, process: Process, count: int) -> None:
        for sink in self.sinks:
            sink.dropped(process, count)

    def process_ended(self, process: Process) -> None:
        for sink in self.sinks:
            sink.process_ended(process)


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
        sink: Sink,
        problem: Problem,
        max_message: int = protocol.MAX_MESSAGE,
    ):
        self.sock = sock
        self.process = process
        self.sink = sink
        self.problem = problem
        self.max_message = max_message
        self.unpacker = protocol.make_unpacker(max_message)
        self.fed = 0
        self.complete = 0  # stream offset just past the last whole message
        # For a sink that wants raw batches: the input from stream offset ``complete`` on,
        # i.e. what the unpacker has not consumed yet.
        self.raw: bytearray | None = bytearray() if wants_raw(sink) else None
        self.started = False
        self.closed = False
        self.refusal: str | None = None
        self.on_close: Callable[[Connection], None] | None = None

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
                if raw is not None and message.kind == protocol.EVENTS:
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
        process = self.process
        kind, body = message.kind, message.body
        if kind == protocol.EVENTS:
            process.received += len(body)
            top = max(map(_first, body)) if body else 0
            if top > process.max_seq:
                process.max_seq = top
            self.sink.events(process, body, raw)
        elif kind == protocol.HELLO:
            if self.started:
                raise protocol.ProtocolError("a second hello on one connection")
            process.apply_hello(body)
            self.started = True
            self.sink.process_started(process)
        elif kind == protocol.DROPPED:
            process.dropped += body["count"]
            self.sink.dropped(process, body["count"])
        elif kind == protocol.GOODBYE:
            process.goodbye = body
            code = body.get("exit_code")
            if isinstance(code, int):
                process.exit_code = code
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
        process.end_time = time.time()
        if process.goodbye is not None:
            goodbye_time = process.goodbye.get("time")
            if isinstance(goodbye_time, (int, float)):
                process.end_time = float(goodbye_time)
        if error is not None:
            process.error = error
            who = f"pid {process.pid}" if process.pid else "an agent"
            self.problem(f"auditmon: connection from {who} closed: {error}")
        if not self.started:
            return
        if process.goodbye is not None and error is None:
            process.status = "exited"
        else:
            process.status = "detached" if detached else "disconnected"
        process.account_end()
        self.sink.process_ended(process)


class Ingest:
    """A selector loop over a listener and its agents' connections."""

    def __init__(
        self, sink: Sink, problem: Problem, max_message: int = protocol.MAX_MESSAGE
    ) -> None:
        self.sink = sink
        self.problem = problem
        self.max_message = max_message
        self.selector = selectors.DefaultSelector()
        self.connections: set[Connection] = set()
        self.processes: list[Process] = []
        self.listener: socket.socket | None = None

    # -- sources ------------------------------------------------------------------
    def listen(self, path: Path) -> None:
        """Accept agents on a Unix socket at ``path`` (the caller made its directory)."""
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        os.chmod(path, 0o600)
        listener.listen(128)
        listener.setblocking(False)
        self.listener = listener
        self.selector.register(listener, selectors.EVENT_READ, None)

    def add(self, sock: socket.socket) -> Connection:
        """Follow an already-connected agent socket."""
        process = Process(id=len(self.processes) + 1)
        self.processes.append(process)
        sock.setblocking(False)
        connection = Connection(sock, process, self.sink, self.problem, self.max_message)
        connection.on_close = self._forget
        self.connections.add(connection)
        self.selector.register(sock, selectors.EVENT_READ, connection)
        return connection

    # -- the loop -----------------------------------------------------------------
    def poll(self, timeout: float) -> None:
        """Handle whatever is ready within ``timeout`` seconds."""
        for key, _ in self.selector.select(timeout):
            if key.data is None:
                self._accept()
            else:
                key.data.read()

    def _accept(self) -> None:
        assert self.listener is not None
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            try:
                uid = peer_uid(sock)
            except OSError:
                sock.close()
                continue
            if uid != os.getuid():
                self.problem(f"auditmon: refused a connection from uid {uid}")
                sock.close()
                continue
            self.add(sock)

    def _forget(self, connection: Connection) -> None:
        self.connections.discard(connection)
        try:
            self.selector.unregister(connection.sock)
        except (KeyError, ValueError):
            pass

    def last_image(self, pid: int) -> Process | None:
        """The latest process image that said hello with ``pid`` (exec keeps the pid)."""
        images = [p for p in self.processes if p.pid == pid and p.status != "connecting"]
        return images[-1] if images else None

    @property
    def open_connections(self) -> int:
        return len(self.connections)

    def close(self) -> None:
        """Close every connection (accounting what was received) and the listener."""
        for connection in list(self.connections):
            connection.close(None, detached=True)
        if self.listener is not None:
            self.selector.unregister(self.listener)
            self.listener.close()
            self.listener = None
        self.selector.close()
