"""The monitor's selector loop: a listener for ``auditmon run``'s agents, attach
sockets, and the connections they bring."""

from __future__ import annotations

import os
import selectors
import socket
import struct
import time
from pathlib import Path

from auditmon import protocol
from auditmon.ingest.connection import Connection, Problem
from auditmon.ingest.ledger import Ledger
from auditmon.ingest.sinks import Sink
from auditmon.model.process import Process
from auditmon.model.spawns import SpawnWatch

_SO_PEERCRED = getattr(socket, "SO_PEERCRED", 17)


def peer_credentials(sock: socket.socket) -> tuple[int, int]:
    """The pid and uid of the process at the other end of a Unix socket (SO_PEERCRED)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, _SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _ = struct.unpack("3i", creds)
    return pid, uid


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket."""
    return peer_credentials(sock)[1]


_WAKER = object()  # the selector's mark for the wake-up socket


class _ProcessEnd:
    """The selector's mark for a lone agent's pidfd: readable once its process ends."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection


#: Seconds between two looks into the agents' rings at most: the agents' own interval.
RING_INTERVAL = protocol.agent_constants.DEFAULT_INTERVAL

#: Seconds a stream that ended without a goodbye waits before its process is settled as
#: ended: time for the other agents' batches, which may say how it ended, to arrive.
SETTLE_AFTER = 0.3


class Ingest:
    """A selector loop over a listener and its agents' connections.

    ``wake()``, from any thread, makes a ``poll`` under way return at once (the live
    monitor's requests use it).
    """

    def __init__(
        self, sink: Sink, problem: Problem, max_message: int = protocol.MAX_MESSAGE
    ) -> None:
        self.ledger = Ledger(sink, SpawnWatch())
        self.problem = problem
        self.max_message = max_message
        self.selector = selectors.DefaultSelector()
        self.connections: set[Connection] = set()
        self.listener: socket.socket | None = None
        self._unsettled: list[tuple[float, Process, float]] = []  # (due, process, ended at)
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._wake_write.setblocking(False)
        self.selector.register(self._wake_read, selectors.EVENT_READ, _WAKER)

    @property
    def processes(self) -> list[Process]:
        """Every process image that connected, in order."""
        return self.ledger.processes

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
        process = self.ledger.new_process()
        sock.setblocking(False)
        connection = Connection(sock, process, self.ledger, self.problem, self.max_message)
        connection.on_close = self._forget
        connection.on_disconnect = self._defer
        connection.on_hello = self._end_earlier_image
        connection.on_lone = self._follow
        connection.on_socket_end = self._socket_ended
        self.connections.add(connection)
        self.selector.register(sock, selectors.EVENT_READ, connection)
        return connection

    # -- the loop -----------------------------------------------------------------
    def poll(self, timeout: float) -> None:
        """Handle whatever is ready within ``timeout`` seconds, and read every agent's
        shared-memory ring (run mode's events come that way, with no socket activity:
        while any ring is open, the wait is at most RING_INTERVAL)."""
        if self._unsettled:
            timeout = min(timeout, max(0.0, self._unsettled[0][0] - time.monotonic()))
        if any(c.ring is not None for c in self.connections):
            timeout = min(timeout, RING_INTERVAL)
        for key, _ in self.selector.select(timeout):
            if key.data is None:
                self._accept()
            elif key.data is _WAKER:
                self._drain_wakes()
            elif isinstance(key.data, _ProcessEnd):
                key.data.connection.process_ended()
            else:
                key.data.read()
        for connection in [c for c in self.connections if c.ring is not None]:
            connection.drain_ring()  # rings taken by hellos just read too
        self._settle(time.monotonic())

    def _defer(self, connection: Connection, ended_at: float) -> None:
        self._unsettled.append((time.monotonic() + SETTLE_AFTER, connection.process, ended_at))

    def _settle(self, now: float) -> None:
        """End the processes whose streams stopped without a goodbye long enough ago,
        and show the spawned Python processes never heard from."""
        while self._unsettled and self._unsettled[0][0] <= now:
            _, process, ended_at = self._unsettled.pop(0)
            self.ledger.ended(process, "disconnected", ended_at)
        self.ledger.settle_spawns(now)

    @property
    def settling(self) -> bool:
        """Whether processes whose streams stopped are still to be settled as ended."""
        return bool(self._unsettled)

    def wake(self) -> None:
        """Make the current or next ``poll`` return without waiting (any thread)."""
        try:
            self._wake_write.send(b"\0")
        except OSError:  # full (it is woken already) or closed
            pass

    def _drain_wakes(self) -> None:
        try:
            while self._wake_read.recv(4096):
                pass
        except OSError:
            pass

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
        for fd in (connection.sock, connection.pidfd):
            if fd is None:
                continue
            try:
                self.selector.unregister(fd)
            except (KeyError, ValueError):
                pass

    # -- lone agents (connection.py) ----------------------------------------------------
    def _follow(self, connection: Connection) -> None:
        assert connection.pidfd is not None
        self.selector.register(connection.pidfd, selectors.EVENT_READ, _ProcessEnd(connection))

    def _socket_ended(self, connection: Connection) -> None:
        """A lone agent closed its socket, as it does after its hello."""
        try:
            self.selector.unregister(connection.sock)
        except (KeyError, ValueError):
            pass
        connection.sock.close()

    def _end_earlier_image(self, connection: Connection, pid: int) -> None:
        """A hello from ``pid``: a lone agent's process of that pid exec'd (a pidfd does
        not tell that), so its image ends first."""
        for other in list(self.connections):
            if other is not connection and other.pidfd is not None and other.process.pid == pid:
                other.process_ended()

    def last_image(self, pid: int) -> Process | None:
        """The latest process image that said hello with ``pid`` (exec keeps the pid)."""
        return self.ledger.last_image(pid)

    @property
    def open_connections(self) -> int:
        return len(self.connections)

    def close(self) -> None:
        """Close every connection (accounting what was received) and the listener."""
        for connection in list(self.connections):
            connection.close(None, detached=True)
        self._settle(float("inf"))
        if self.listener is not None:
            self.selector.unregister(self.listener)
            self.listener.close()
            self.listener = None
        self.selector.close()
        self._wake_read.close()
        self._wake_write.close()
