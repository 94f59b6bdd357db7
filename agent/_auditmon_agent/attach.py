"""Attach mode's writer: listens on ``<runtime dir>/<pid>.sock``, keeps the most recent
events in a ring, and streams to at most one attached monitor at a time.

Apart from ``transport`` so that run mode, which every process under ``auditmon run``
starts in, never loads it.
"""

import _socket
import errno
import os
import stat
from _collections import deque

from . import wire
from .transport import _Writer, let_go, ours, out_of_the_way, peer_uid


class AttachWriter(_Writer):
    """Listens for ``auditmon attach``; keeps a ring of recent events for it."""

    KEEPS_RING = True

    def __init__(self, agent, config):
        _Writer.__init__(self, agent, config)
        self.ring = deque()  # (count, first_seq, encoded events), oldest first
        self.ring_events = 0
        self.listener = None
        self.client = None
        self.listener_known = self.client_known = None  # their identities
        self.path = None

    def sockets(self):
        return [
            (sock, known)
            for sock, known in (
                (self.listener, self.listener_known),
                (self.client, self.client_known),
            )
            if sock is not None
        ]

    def start(self):
        """Listen before the thread starts, from the starting thread: the descriptors
        that listing the runtime directory and making the socket take for a moment must
        not race the target's own open() for the low numbers."""
        import select  # attach mode only: run mode never pays for it

        self.poll, self.readable_bits = select.poll, select.POLLIN
        self.listener, self.listener_known = listen(self.config.runtime_dir, self.pid)
        self.path = socket_path(self.config.runtime_dir, self.pid)
        try:
            _Writer.start(self)
        except BaseException:
            self.unlink()
            raise

    def run(self):
        try:
            while not self.stopping:
                readable = self.wait_readable()
                if self.listener.fileno() in readable:
                    self.accept()
                if self.client is not None and self.client.fileno() in readable:
                    self.check_client()
                with self.io:
                    self.move_and_send()
            if not self.abandoned:
                with self.io:
                    self.move_and_send()
                    if self.client is not None and not self.said_goodbye:
                        self.send(self.goodbye_message())
        finally:
            self.unlink()
            if self.abandoned:
                self.drop_client()

    def wait_readable(self):
        """The descriptors of the agent's sockets that have something to read (or have
        hung up), after at most an interval.  poll(), not select(): they sit above the
        soft RLIMIT_NOFILE, which may be above FD_SETSIZE."""
        poller = self.poll()
        for sock in (self.listener, self.client):
            if sock is not None:
                poller.register(sock, self.readable_bits)
        return {fd for fd, _ in poller.poll(self.config.interval * 1000)}

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
            if self.client is not None:
                self.send(self.drops_message() + self.events_message(chunk[0], chunk[2]))
            if self.agent.pending() == 0:
                break
        if self.client is not None:
            drops = self.drops_message()
            if drops:
                self.send(drops)

    def accept(self):
        try:
            fd = self.listener._accept()[0]
            conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM, 0, fd)
        except OSError:
            return
        try:
            conn, known = out_of_the_way(conn)
            if peer_uid(conn) != os.getuid():
                conn.close()  # another user gets nothing at all
                return
            conn.settimeout(1.0)
            request = _read_line(conn)
            if request == wire.REQUEST_STATUS:
                conn.sendall(self.pack([wire.STATUS, self.status()]))
                conn.close()
            elif request == wire.REQUEST_STREAM:
                if self.client is not None:
                    conn.sendall(self.pack([wire.ERROR, "already attached by another monitor"]))
                    conn.close()
                    return
                conn.settimeout(None)
                self.start_stream(conn, known)
            else:
                conn.sendall(self.pack([wire.ERROR, "unknown request %r" % (request[:40],)]))
                conn.close()
        except OSError:
            conn.close()

    def start_stream(self, conn, known):
        with self.io:
            self.move_queue_to_ring()
            self.agent.forget_threads()
            hello = self.hello()
            ring = list(self.ring)
            hello["first_seq"] = min(c[1] for c in ring) if ring else hello["events"] + 1
            hello["dropped"] = self.agent.dropped()
            self.reported_drops = hello["dropped"]
            self.client, self.client_known = conn, known
            if not self.send(self.pack([wire.HELLO, hello])):
                return
            for count, _, events in ring:
                if not self.send(self.events_message(count, events)):
                    return

    def move_queue_to_ring(self):
        while True:
            chunk = self.drain()
            if chunk[0]:
                self.keep(chunk)
            if self.agent.pending() == 0:
                return

    def status(self):
        fields = self.agent.identity()
        fields["v"] = wire.VERSION
        fields["events"] = self.agent.counted()
        fields["dropped"] = self.agent.dropped()
        fields["attached"] = self.client is not None
        fields["ring"] = self.ring_events
        return fields

    def check_client(self):
        try:
            data = self.client.recv(4096)
        except OSError:
            data = b""
        if not data:
            self.drop_client()

    def send(self, data):
        client = self.client
        if client is None:
            return False
        try:
            if not ours(client, self.client_known):
                raise OSError(errno.EBADF, "the target took the socket's descriptor")
            client.sendall(data)
            return True
        except OSError:
            self.drop_client()
            return False

    def drop_client(self):
        client, self.client = self.client, None
        self.said_goodbye = False
        if client is not None:
            let_go(client, self.client_known)

    def flush_from_caller(self, final):
        if self.abandoned or not self.io.acquire(True, self.config.flush_timeout):
            return
        try:
            if self.client is not None:
                self.client.settimeout(self.config.flush_timeout)
            self.move_and_send()
            if self.client is not None and not self.said_goodbye:
                self.send(self.goodbye_message())
            if final:
                self.drop_client()
                self.unlink()
        finally:
            self.io.release()

    def unlink(self):
        path, self.path = self.path, None
        if path:
            try:
                os.unlink(path)
            except OSError:
                pass
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


def private_dir(path):
    """Create (0700) or check the per-user socket directory; refuse anything unsafe."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise OSError(errno.EPERM, "%s is not a directory owned by this user" % path)
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def socket_path(runtime_dir, pid):
    return os.path.join(runtime_dir, "%d.sock" % pid)


_PART = ".part"  # a socket not listening yet: see listen()


def remove_stale(runtime_dir):
    """Unlink sockets whose process is gone (and any it left half made)."""
    for name in os.listdir(runtime_dir):
        stem = name[: -len(_PART)] if name.endswith(_PART) else name
        if not stem.endswith(".sock"):
            continue
        try:
            pid = int(stem[:-5])
        except ValueError:
            continue
        if not _alive(pid):
            try:
                os.unlink(os.path.join(runtime_dir, name))
            except OSError:
                pass


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def listen(runtime_dir, pid):
    """A listening socket at ``<runtime_dir>/<pid>.sock``, mode 0600, in a 0700 dir,
    out of the target's way, and its identity (``transport.out_of_the_way``).

    It is bound under a temporary name and renamed once it listens, so a monitor that
    finds the name can connect: between bind and listen a connect is refused."""
    private_dir(runtime_dir)
    remove_stale(runtime_dir)
    path = socket_path(runtime_dir, pid)
    partial = path + _PART
    for leftover in (path, partial):  # of this pid's previous program (exec)
        try:
            os.unlink(leftover)
        except OSError:
            pass
    sock, known = out_of_the_way(_socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM))
    try:
        sock.bind(partial)
        os.chmod(partial, 0o600)
        sock.listen(4)
        os.rename(partial, path)
    except BaseException:
        sock.close()
        try:
            os.unlink(partial)
        except OSError:
            pass
        raise
    return sock, known
