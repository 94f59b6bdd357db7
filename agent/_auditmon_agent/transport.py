"""The agent's link to the monitor, for the pure-Python hook and attach mode.

* ``RunWriter`` connects to ``auditmon run``'s socket, hands over the shared-memory ring
  the hook writes events into (``ring``), and says goodbye at exit; where no ring can be
  had, a writer thread drains the hook's queue and sends it.  A writer thread's own
  audit events are the agent's, ignored; its sends may block it, never the target: if
  the monitor falls behind, the queue (or the ring) fills and the hook counts drops.
* ``attach.AttachWriter`` (a module of its own, which run mode never loads) listens for
  ``auditmon attach``.
"""

import _thread
import os
import sys
import time

from . import load_own as _load_own
from . import own_extension as _own_extension
from . import stdlib_extension as _stdlib
from . import stdlib_module as _stdlib_module
from . import wire
from .constants import BYTES_PER_EVENT, FD_FLOOR, FD_FLOOR_MIN, FD_HIGHEST, FD_ROOM, HELPER

_socket = _stdlib_module("_socket")
_SO_PEERCRED = getattr(_socket, "SO_PEERCRED", 17)


def out_of_the_way(sock):
    """``sock`` moved out of the target's way, close-on-exec, its identity, and whether
    it is out of the target's sight (``out_of_sight``).

    Programs take the lowest free descriptors and count on them as theirs (pass_fds, a
    child listing its own, closerange up to the soft RLIMIT_NOFILE): the agent's go at
    or above the soft limit, where open() never puts one and scans bounded by the limit
    never look, the limit raised for the moment of the move (the hard one too where the
    process may) and put back; where that can't be, as high as fits under it.  The
    agent's C helper moves it, where it was built (the rule of native/placement.h,
    which the extension follows too, and no ``resource`` or ``fcntl`` module to load);
    else ``_moved_out_of_the_way``, the same rule (constants.py says more).  ``sock``
    stays where it is when nothing better is free."""
    fd = sock.fileno()
    helper = _own_extension(HELPER)
    if helper is not None:
        moved, hidden = helper.move_fd(fd)
    else:
        moved = _moved_out_of_the_way(fd)
        hidden = out_of_sight(moved if moved >= 0 else fd)
    if moved >= 0:
        high = _socket.socket(sock.family, sock.type, sock.proto, moved)
        sock.close()
        sock = high
    return sock, identity(sock), bool(hidden)


def _moved_out_of_the_way(fd):
    """A close-on-exec copy of ``fd`` out of the target's way, ``fd`` left open; -1 where
    nothing better than ``fd`` itself is free: native/placement.h's rule, for where the
    agent's C helper was not built.  Change both."""
    fcntl = _stdlib("fcntl")  # small C modules; only the pure-Python writers open sockets
    resource = _stdlib("resource")

    moved = -1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if 0 <= soft <= FD_HIGHEST:
        floor = max(soft, FD_FLOOR)
        raised = floor + FD_ROOM
        try:
            resource.setrlimit(
                resource.RLIMIT_NOFILE, (raised, max(hard, raised) if hard >= 0 else hard)
            )
        except (OSError, ValueError):
            pass
        else:
            try:
                moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor)
            except OSError:
                pass
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    floor = FD_FLOOR
    while moved < 0 and FD_FLOOR_MIN <= floor and fd < floor:
        try:
            moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor)
        except OSError:  # EINVAL (the floor is past the limit) or EMFILE (none free)
            floor //= 2
    return moved


def out_of_sight(fd):
    """Whether ``fd`` is at or above the soft RLIMIT_NOFILE, where no scan bounded by the
    limit looks (out_of_sight in native/placement.h)."""
    resource = _stdlib("resource")

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft != resource.RLIM_INFINITY and fd >= soft


def identity(sock):
    """What tells the agent's socket from whatever a target put on its number since."""
    info = os.fstat(sock.fileno())
    return info.st_dev, info.st_ino


def ours(sock, known):
    """Whether ``sock``'s descriptor is still the socket known as ``known``: a target
    may close the agent's descriptors (closerange) and reuse the number, or dup2 a file
    of its own onto it."""
    try:
        return identity(sock) == known
    except (OSError, ValueError):
        return False


def let_go(sock, known):
    """Close ``sock``, or, where its number became the target's, only forget it."""
    try:
        if ours(sock, known):
            sock.close()
        else:
            sock.detach()
    except OSError:
        pass


_EVENTS_PREFIX = b"\x92" + bytes((wire.EVENTS,))


def _array_header(n):
    if n < 16:
        return bytes((0x90 | n,))
    if n < 0x10000:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


def send_hello(sock, hello, ring):
    """The hello, with the ring's descriptor (SCM_RIGHTS) on its first bytes."""
    if ring is None:
        sock.sendall(hello)
        return
    rights = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, ring.fd.to_bytes(4, sys.byteorder))]
    sent = sock.sendmsg([hello], rights)
    sock.sendall(hello[sent:])


def peer_uid(sock):
    """The uid of the process at the other end of a Unix socket (SO_PEERCRED)."""
    creds = sock.getsockopt(_socket.SOL_SOCKET, _SO_PEERCRED, 12)  # struct ucred: 3 ints
    return int.from_bytes(creds[4:8], sys.byteorder, signed=True)


class _Writer(object):
    KEEPS_RING = False  # whether batches are kept, by their first seq

    def __init__(self, agent, config):
        self.agent = agent
        self.config = config
        # Control messages are few and small: the native encoder, or the builtin one,
        # spares importing msgpack at start-up (event batches come encoded).
        native = agent.native
        self.pack = native.pack if native is not None else wire.packb
        self.pid = agent.pid
        self.stopping = False
        self.said_goodbye = False
        self.abandoned = False
        self.running = _thread.allocate_lock()  # held while the thread runs
        self.wake = _thread.allocate_lock()  # held; released to wake the thread early
        self.io = _thread.allocate_lock()  # serialises sends with the exit path
        self.reported_drops = 0

    # -- life cycle -------------------------------------------------------------------
    def start(self):
        """Start the thread, and wait until it runs: CPython frees the interpreter
        under a thread that has not begun yet when the process exits first (a process
        that is over in a millisecond), and that thread then crashes the process."""
        self.wake.acquire()
        self.running.acquire()
        began = _thread.allocate_lock()
        began.acquire()
        _thread.start_new_thread(self._main, (began,))
        began.acquire()

    def _main(self, began):
        began.release()
        self.agent.hush(_thread.get_ident())
        try:
            self.run()
        except Exception:
            self.agent.debug("writer")
        finally:
            self.running.release()

    def stop(self):
        """Ask the thread to flush and say goodbye; wait a bounded time for it."""
        self.stopping = True
        self._release(self.wake)
        timeout = self.config.flush_timeout
        if self.running.acquire(True, timeout):
            self.running.release()
        self.flush_from_caller(final=False)

    def abandon(self):
        """Close everything without a goodbye (used when auditmon itself loaded us)."""
        self.abandoned = True
        self.stopping = True
        self._release(self.wake)

    def forget_after_fork(self):
        """In a forked child: close our copies of the parent's sockets, nothing more.

        Closing a copy sends nothing and unlinks nothing; it only lets the parent's
        monitor see end-of-stream when the parent itself goes.
        """
        self.abandoned = True
        for sock, known in self.sockets():
            let_go(sock, known)

    @staticmethod
    def _release(lock):
        try:
            lock.release()
        except RuntimeError:
            pass

    def sleep(self):
        self.wake.acquire(True, self.config.interval)
        if self.stopping:
            self._release(self.wake)

    # -- sending ----------------------------------------------------------------------
    def drain(self):
        """``(count, first_seq, encoded events)`` taken from the hook's queue (first_seq
        only where the writer keeps a ring)."""
        return self.agent.take(self.KEEPS_RING)

    @staticmethod
    def events_message(count, data):
        """``[EVENTS, [...]]`` from already encoded events: the header, then them."""
        return _EVENTS_PREFIX + _array_header(count) + data

    def hello(self):
        fields = self.agent.identity()
        fields["v"] = wire.VERSION
        fields["mode"] = self.config.mode
        fields["events"] = self.agent.counted()
        return fields

    def drops_message(self):
        total = self.agent.dropped()
        if total > self.reported_drops:
            count = total - self.reported_drops
            self.reported_drops = total
            return self.pack([wire.DROPPED, {"count": count}])
        return b""

    def goodbye_message(self):
        self.said_goodbye = True
        body = {"time": time.time(), "exit_code": None, "last_seq": self.agent.counted()}
        return self.pack([wire.GOODBYE, body])


class RunWriter(_Writer):
    """Gives every event to the ``auditmon run`` monitor: through the shared-memory
    ring (``ring``), which the hook writes into as events are raised, with no thread of
    its own; where no ring can be had, as batches a writer thread sends."""

    def __init__(self, agent, config):
        _Writer.__init__(self, agent, config)
        self.sock = None
        self.known = None  # the socket's identity
        self.ring = None
        self.lone = False  # the socket closed after the hello (constants.py)

    def sockets(self):
        return [(self.sock, self.known)] if self.sock is not None else []

    def start(self):
        """Connect and say hello before events flow: a process that execs or exits at
        once must still have a connection to flush into."""
        ring = self.open_ring()
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock, self.known, hidden = out_of_the_way(sock)
            sock.connect(self.config.socket_path)
            if peer_uid(sock) != os.getuid():
                raise PermissionError("monitor runs as another user")
            hello = self.hello()
            if ring is not None:
                hello["ring"] = ring.size
                self.lone = self.config.lone and not hidden
                if self.lone:
                    ring.mark_lone()
            send_hello(sock, self.pack([wire.HELLO, hello]), ring)
        except OSError:
            sock.close()
            if ring is not None:
                ring.close()
            raise
        if self.lone:
            sock.close()  # in the target's sight: the monitor follows the process itself
        else:
            self.sock = sock
        if ring is None:
            _Writer.start(self)
            return
        ring.sent()
        self.ring = ring
        packers = self.agent.python_event_packers()
        self.agent.python_hook.use_ring(ring, packers, self.wake_socket, self.agent.disable)

    def open_ring(self):
        """The ring, or None where shared memory can't be had."""
        try:
            _load_own("ring")
            from .ring import Ring

            return Ring(self.config.queue_size * BYTES_PER_EVENT)
        except (OSError, AttributeError, ValueError, ImportError):
            return None

    def drops_message(self):
        if self.ring is not None:
            return b""  # the monitor reads the drops in the ring
        return _Writer.drops_message(self)

    def wake_socket(self):
        """The socket to wake the monitor on, while it is still the agent's."""
        sock = self.sock
        return sock if sock is not None and ours(sock, self.known) else None

    def forget_after_fork(self):
        if self.ring is not None:
            self.ring.close()  # the parent's: the child makes its own
            self.ring = None
        _Writer.forget_after_fork(self)

    def stop(self):
        """Flush and say goodbye from the exiting thread itself: waking the writer and
        waiting for it would add two thread switches to every process's exit."""
        self.stopping = True
        self.flush_from_caller(final=False)
        self._release(self.wake)

    def run(self):
        while not self.stopping:
            self.sleep()
            with self.io:
                if not self.send_pending():
                    return
        if self.abandoned:
            self.close()
            return
        with self.io:
            if self.send_pending() and not self.said_goodbye:
                self.send(self.goodbye_message())

    def send_pending(self):
        """Send everything queued now; False once the monitor is gone."""
        while True:
            count, _, events = self.drain()
            data = self.drops_message()
            if count:
                data += self.events_message(count, events)
            if not data:
                return self.sock is not None
            if not self.send(data):
                return False
            if self.agent.pending() == 0:
                return True

    def send(self, data):
        sock = self.sock
        if sock is None:
            return False
        try:
            if not ours(sock, self.known):
                raise OSError("the target took the socket's descriptor")
            sock.sendall(data)
            return True
        except OSError:
            self.close()
            self.agent.disable()
            return False

    def flush_from_caller(self, final):
        """Flush from the exiting thread, bounded by the flush timeout."""
        if self.abandoned or not self.io.acquire(True, self.config.flush_timeout):
            return
        try:
            if self.lone and self.ring is not None:
                self.ring.goodbye(self.goodbye_message())
                return
            if self.sock is None:
                return
            self.sock.settimeout(self.config.flush_timeout)
            if self.send_pending() and not self.said_goodbye:
                self.send(self.goodbye_message())
            if final:
                self.close()
        finally:
            self.io.release()

    def close(self):
        sock, self.sock = self.sock, None
        if sock is not None:
            let_go(sock, self.known)
