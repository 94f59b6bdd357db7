"""Attach mode's writer: listens on ``<runtime dir>/<pid>.sock`` (or, lone, answers a
monitor's call: rendezvous.py), keeps the most recent events in a ring, and streams to
every attached monitor: each gets the hello and the ring, then the live stream.

Sends never wait: each monitor has a backlog of what it was not yet able to take, and a
monitor whose backlog is past BACKLOG is not sent the next events, which it is told of as
dropped (its accounting stays exact); the others, and the target, never wait for it.
Apart from ``transport`` so that run mode, which every process under ``auditmon run``
starts in, never loads it.
"""

import _socket
import errno
import os
import time
from _collections import deque

from . import rendezvous, wire
from .transport import _Writer, let_go, ours, out_of_the_way, peer_uid

# Bytes a monitor may be behind before events are dropped for it alone.
BACKLOG = 8 << 20
# How long the writer of a paused agent (see pause_if_alone) sleeps between its looks:
# a monitor's arrival wakes it at once, but a lone agent's must look for a call.
PAUSED_POLL_MS = 1000
LONE_PAUSED_POLL_MS = 100


class Monitor(object):
    """One attached monitor: its socket, what it has yet to take, its drops."""

    def __init__(self, sock, known, reported_drops):
        self.sock, self.known = sock, known
        self.backlog = bytearray()
        self.reported_drops = reported_drops  # the agent's drops it has been told of
        self.skipped = 0  # events it was not sent, being too far behind
        self.said_goodbye = False


class AttachWriter(_Writer):
    """Listens for ``auditmon attach``; keeps a ring of recent events for it."""

    KEEPS_RING = True

    def __init__(self, agent, config):
        _Writer.__init__(self, agent, config)
        self.ring = deque()  # (count, first_seq, encoded events), oldest first
        self.ring_events = 0
        self.listener = None
        self.listener_known = None  # its identity
        self.monitors = []
        self.door_open = False  # <pid>.sock or <pid>.lone is there (rendezvous.py)
        self.answered = None  # a lone agent's last call answered
        self.served = False  # a monitor has attached
        self.paused = False  # see pause_if_alone

    def sockets(self):
        found = [(m.sock, m.known) for m in self.monitors]
        if self.listener is not None:
            found.append((self.listener, self.listener_known))
        return found

    def start(self):
        """Listen before the thread starts, from the starting thread: the descriptors
        that listing the runtime directory and making the socket take for a moment must
        not race the target's own open() for the low numbers."""
        import select  # attach mode only: run mode never pays for it

        self.poll, self.readable_bits = select.poll, select.POLLIN
        self.writable_bits = select.POLLOUT
        self.listener, self.listener_known = rendezvous.open_door(
            self.config.runtime_dir, self.pid, self.config.lone
        )
        self.door_open = True
        try:
            _Writer.start(self)
        except BaseException:
            self.unlink()
            raise

    def run(self):
        try:
            while not self.stopping:
                readable = self.wait_readable()
                if self.listener is None:
                    self.answer_call()
                elif self.listener.fileno() in readable:
                    self.accept()
                for monitor in list(self.monitors):
                    if monitor.sock.fileno() in readable:
                        self.check_monitor(monitor)
                with self.io:
                    self.move_and_send()
                    self.pause_if_alone()
            if not self.abandoned:
                self.flush_from_caller(final=False)
        finally:
            self.unlink()
            if self.abandoned:
                for monitor in list(self.monitors):
                    self.drop(monitor)

    def wait_readable(self):
        """The descriptors of the agent's sockets that have something to read, have hung
        up or (with a backlog) can take more, after at most an interval.  poll(), not
        select(): they sit above the soft RLIMIT_NOFILE, which may be above FD_SETSIZE."""
        poller = self.poll()
        if self.listener is not None:
            poller.register(self.listener, self.readable_bits)
        for monitor in self.monitors:
            bits = self.readable_bits | (self.writable_bits if monitor.backlog else 0)
            poller.register(monitor.sock, bits)
        # paused, only a monitor's arrival matters: it wakes the poll at once (or calls)
        if not self.paused:
            timeout = self.config.interval * 1000
        else:
            timeout = PAUSED_POLL_MS if self.listener is not None else LONE_PAUSED_POLL_MS
        ready = poller.poll(timeout)
        return {fd for fd, bits in ready if bits & ~self.writable_bits}

    def keep(self, chunk):
        """Add a chunk to the ring; forget the oldest beyond the ring's size."""
        self.ring.append(chunk)
        self.ring_events += chunk[0]
        while self.ring_events - self.ring[0][0] >= self.config.ring_size:
            self.ring_events -= self.ring.popleft()[0]

    def move_and_send(self):
        while True:
            chunk = self.drain()
            if not chunk[0]:
                break
            self.keep(chunk)
            message = self.events_message(chunk[0], chunk[2])
            for monitor in list(self.monitors):
                if len(monitor.backlog) > BACKLOG:
                    monitor.skipped += chunk[0]
                else:
                    self.deliver(monitor, self.drops_for(monitor) + message)
            if self.agent.pending() == 0:
                break
        for monitor in list(self.monitors):
            drops = self.drops_for(monitor) if len(monitor.backlog) <= BACKLOG else b""
            self.deliver(monitor, drops)

    def pause_if_alone(self):
        """An injected agent (``auditmon attach`` on a process started without auditmon)
        whose last monitor has gone keeps nothing for the next one: its hook pauses,
        costing the target as little as a hook can (it can't be removed), and what was
        kept is let go.  A monitor attaching resumes it (``start_stream``), and sees
        from then on; agents started with the process keep their ring for it."""
        if self.agent.injected and self.served and not self.monitors and not self.paused:
            self.paused = True
            self.agent.pause(True)
            while self.agent.take(first_seq=False)[0]:
                pass
            self.ring.clear()
            self.ring_events = 0

    def drops_for(self, monitor):
        """A drop report for what ``monitor`` has not been told of yet, if anything."""
        total = self.agent.dropped() + monitor.skipped
        if total > monitor.reported_drops:
            count, monitor.reported_drops = total - monitor.reported_drops, total
            return self.pack([wire.DROPPED, {"count": count}])
        return b""

    def accept(self):
        try:
            fd = self.listener._accept()[0]
            conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM, 0, fd)
        except OSError:
            return
        try:
            conn, known, _ = out_of_the_way(conn)
        except OSError:
            conn.close()
            return
        self.serve(conn, known)

    def answer_call(self):
        """A lone agent's look for a monitor's call (rendezvous.py): at each tick, and
        every LONE_PAUSED_POLL_MS while paused."""
        try:
            self.answered, conn, known = rendezvous.answer_call(
                self.config.runtime_dir, self.pid, self.answered
            )
        except OSError:
            return
        if conn is not None:
            self.serve(conn, known)

    def serve(self, conn, known):
        """A monitor's connection, accepted or made: its request line, then the answer."""
        try:
            if peer_uid(conn) != os.getuid():
                conn.close()  # another user gets nothing at all
                return
            conn.settimeout(1.0)
            request = _read_line(conn)
            if request == wire.REQUEST_STATUS:
                conn.sendall(self.pack([wire.STATUS, self.status()]))
                conn.close()
            elif request == wire.REQUEST_STREAM:
                conn.settimeout(0.0)  # never waits: see deliver
                self.start_stream(conn, known)
            else:
                conn.sendall(self.pack([wire.ERROR, "unknown request %r" % (request[:40],)]))
                conn.close()
        except OSError:
            conn.close()

    def start_stream(self, conn, known):
        """The hello and the ring, then the live stream, as for every monitor."""
        with self.io:
            if self.paused:
                self.paused = False
                self.agent.pause(False)
            self.served = True
            self.move_and_send()  # what is queued goes to the others first, and the ring
            self.agent.forget_threads()
            hello = self.hello()
            ring = list(self.ring)
            hello["first_seq"] = min(c[1] for c in ring) if ring else hello["events"] + 1
            hello["dropped"] = self.agent.dropped()
            monitor = Monitor(conn, known, hello["dropped"])
            self.monitors.append(monitor)
            parts = [self.pack([wire.HELLO, hello])]
            parts += [self.events_message(count, events) for count, _, events in ring]
            self.deliver(monitor, b"".join(parts))

    def status(self):
        fields = self.agent.identity()
        fields["v"] = wire.VERSION
        fields["events"] = self.agent.counted()
        fields["dropped"] = self.agent.dropped()
        fields["attached"] = bool(self.monitors)
        fields["monitors"] = len(self.monitors)
        fields["ring"] = self.ring_events
        fields["paused"] = self.paused
        return fields

    def check_monitor(self, monitor):
        """A monitor never sends after its request: readable means it went away."""
        try:
            data = monitor.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.drop(monitor)

    def deliver(self, monitor, data):
        """Add ``data`` to what ``monitor`` is sent, and send what its socket takes now."""
        if monitor not in self.monitors:
            return
        monitor.backlog += data
        try:
            if not ours(monitor.sock, monitor.known):
                raise OSError(errno.EBADF, "the target took the socket's descriptor")
            while monitor.backlog:
                sent = monitor.sock.send(monitor.backlog)
                del monitor.backlog[:sent]
        except BlockingIOError:
            pass
        except OSError:
            self.drop(monitor)

    def drop(self, monitor):
        if monitor in self.monitors:
            self.monitors.remove(monitor)
            let_go(monitor.sock, monitor.known)

    def flush_from_caller(self, final):
        """At exit (or exec): everything to every monitor and a goodbye, within the
        flush timeout in all."""
        if self.abandoned or not self.io.acquire(True, self.config.flush_timeout):
            return
        try:
            deadline = time.monotonic() + self.config.flush_timeout
            self.move_and_send()
            for monitor in list(self.monitors):
                if not monitor.said_goodbye:
                    monitor.said_goodbye = True
                    self.deliver(monitor, self.goodbye_message())
                self.finish(monitor, deadline)
                if final:
                    self.drop(monitor)
            if final:
                self.unlink()
        finally:
            self.io.release()

    def finish(self, monitor, deadline):
        """Send ``monitor`` its backlog, waiting until ``deadline`` at most."""
        try:
            while monitor.backlog and monitor in self.monitors:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                monitor.sock.settimeout(left)
                sent = monitor.sock.send(monitor.backlog)
                del monitor.backlog[:sent]
        except OSError:
            self.drop(monitor)
        finally:
            if monitor in self.monitors:
                monitor.sock.settimeout(0.0)

    def unlink(self):
        if self.door_open:
            self.door_open = False
            rendezvous.close_door(self.config.runtime_dir, self.pid)
        listener, self.listener = self.listener, None
        if listener is not None:
            let_go(listener, self.listener_known)


def _read_line(conn, limit=64):
    data = b""
    while not data.endswith(b"\n") and len(data) < limit:
        chunk = conn.recv(limit - len(data))
        if not chunk:
            break
        data += chunk
    return data
