"""Run mode's shared-memory ring, for the pure-Python hook: each event is encoded and
written, as it is raised, into memory the monitor maps too, so the events of a process
that dies (SIGKILL, a crash, ``os._exit``) are not lost with it.

The layout and the protocol are ``constants.py``'s ("run mode's shared-memory ring");
the C hook's ``native/ring.c`` writes the same.  The hook calls ``append`` with each
event, under the GIL: the ring's only writer.  Nothing here may raise into the target.
"""

import _thread
import os
import sys
from _collections import deque as _deque

from . import own_extension as _own_extension
from . import stdlib_extension as _stdlib
from . import stdlib_module as _stdlib_module
from .constants import (
    HELPER,
    RING_DROPPED_AT,
    RING_GOODBYE_AT,
    RING_GOODBYE_MAX,
    RING_HEAD_AT,
    RING_HEADER,
    RING_LONE_AT,
    RING_MAGIC,
    RING_MAGIC_AT,
    RING_NUMBERED_AT,
    RING_SIZE_AT,
    RING_TAIL_AT,
    WIRE_WAKE,
)

_struct = _stdlib_module("_struct")
_u64 = _struct.Struct("=Q")
_WAKE = bytes((WIRE_WAKE,))
_MSG_DONTWAIT = 0x40
# EPIPE, ECONNRESET: no one reads the ring any more.  (The C hook tests ENOTCONN too,
# which a connected socket whose peer closed never gives, and which would cost every
# process the errno module to name.)
_GONE = (BrokenPipeError, ConnectionResetError)
# Whether the hook may write inline, with no lock: from 3.11 the interpreter suspends a
# function for another thread or a signal handler only at a call (or a loop's jump);
# before, at more places (tests/test_ring_threads.py).
INLINE = sys.version_info >= (3, 11)


def size_for(limit):
    """The data size for a buffer limit in bytes: a power of two, at least 4 KiB (the
    C hook's ring_size_for)."""
    size = 4096
    while size < limit and size < 1 << 40:
        size <<= 1
    return size


def _shared_memory(length):
    """``(memfd, mapping, writer)`` of ``length`` bytes that hold no other descriptor.
    The agent's C helper maps them where it was built (``helper/helper.c``) and gives
    a writer in C for the hook, ``(write, until)``; else mmap does, with no writer.
    mmap keeps a copy of its file's descriptor, at the lowest free number, in the
    target's way, unless told not to (3.13's trackfd): before 3.13 it is there for as
    long as the mapping lives (the README's known limit)."""
    helper = _own_extension(HELPER)
    if helper is not None:
        fd, view, write, until = helper.map_ring(length)
        return fd, view, (write, until)
    mmap = _stdlib("mmap")  # an extension module to load: only where the helper is not

    fd = os.memfd_create("auditmon-ring", os.MFD_CLOEXEC)
    try:
        os.ftruncate(fd, length)
        if sys.version_info >= (3, 13):
            return fd, mmap.mmap(fd, length, trackfd=False), None
        return fd, mmap.mmap(fd, length), None
    except BaseException:
        os.close(fd)
        raise


class Ring(object):
    """One process's ring: ``fd`` until the monitor has it, the mapping, and the
    closures the hook calls (``append``, ``drop``; ``append_all`` for what was queued),
    made by ``attach``."""

    def __init__(self, limit):
        """Raise OSError (or AttributeError where ``os.memfd_create`` is missing) where
        shared memory can't be had: run mode then sends events over the socket."""
        self.size = size_for(limit)
        self.fd, self.map, self.writer = _shared_memory(RING_HEADER + self.size)
        _u64.pack_into(self.map, RING_SIZE_AT, self.size)
        _u64.pack_into(self.map, RING_MAGIC_AT, RING_MAGIC)
        self.append = self.drop = self.append_all = None
        self.words = self.until = None  # the views attach makes

    def sent(self):
        """The monitor has the descriptor (or never will): the mapping is all we keep."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def close(self):
        """Unmap (a forked child's copy of its parent's ring)."""
        self.sent()
        for view in (self.words, self.until):
            if view is not None:
                view.release()
        try:
            self.map.release() if type(self.map) is memoryview else self.map.close()
        except (BufferError, ValueError):
            pass

    def attach(self, names, next_drop, pack, careful, wake_socket, gone):
        """Point the hook (whose globals are ``names``) at this ring: it writes an event
        that fits inline, by the C helper's writer where it was built
        (``_write_event``), else in Python (a call costs it as much as the copy), and
        hands the others to ``write``.  ``next_drop`` is its drop counter's
        ``__next__``, ``pack`` encodes one event (``careful`` where ``pack`` refuses it:
        a lone surrogate), ``wake_socket()`` gives the socket to wake the monitor on (or
        None), ``gone()`` is called where a wake-up finds the monitor gone.

        Unlike the C hook, which stores NUMBERED before it writes an event, this stores
        HEAD only, after (a store costs the Python hook as much as the copy): an event
        whose hook the process's death cut short is then not counted, as if it had not
        been raised (nor was what it audits: the hook runs before the action), and the
        monitor takes the largest seq it read where that is past NUMBERED.

        Threads and signal handlers: the interpreter may suspend the hook for another
        thread, or run a signal handler (whose events come back into the hook) in its
        middle: at a call, and before 3.11 at more places (3.8 and 3.9 between nearly
        any two bytecodes).  So ``write`` lets one writer at a time into the ring, by a
        lock it never waits for: an event that finds it taken is queued, and the writer
        holding it writes the queue before it lets go.  The inline write is the other
        writer: the C writer's is one call, whole; it is off while ``write`` holds the
        lock.  The Python one, from reading HEAD to storing it, has no call: from 3.11
        nothing can come between; before, it is off (``INLINE``).  ``write`` itself
        reads HEAD after its last call."""
        view, size = self.map, self.size
        words = self.words = memoryview(view).cast("Q")  # 8-byte stores, whole
        mask = size - 1
        base = RING_HEADER
        head_word, numbered_word = RING_HEAD_AT // 8, RING_NUMBERED_AT // 8
        dropped_word, tail_word = RING_DROPPED_AT // 8, RING_TAIL_AT // 8
        room_until = size
        wake_at = size // 2
        fast_until = offset = 0
        lock = _thread.allocate_lock()
        acquire, release = lock.acquire, lock.release
        waiting = _deque()
        queue, next_waiting = waiting.append, waiting.popleft
        write_event, until = self.writer or (None, None)
        take, let_go = acquire, release  # the lock alone, where there is no C writer
        if until is not None:
            until = self.until = memoryview(until).cast("Q")

            def take(blocking):  # the lock, and the C writer off while it is held
                if acquire(blocking):
                    until[0] = 0
                    return True
                return False

            def let_go():
                until[0] = fast_until
                release()

        def limits():
            # How far a write may go by the short way: before the bound, the next
            # wake-up and the data's end (so that one compare does), and where head is
            # in the map.  The hook's inline write in Python is off where it may be
            # interrupted, and where the C writer writes.
            nonlocal fast_until, offset
            lap_end = (words[head_word] // size + 1) * size
            fast_until = min(room_until, wake_at, lap_end)
            offset = base + size - lap_end
            names["_fast_until"] = fast_until if INLINE and until is None else -1
            names["_offset"] = offset

        def room_end():
            # Where the room for writing at HEAD ends: the monitor's tail a lap on.
            tail, head = words[tail_word], words[head_word]
            return (tail if tail < head else head) + size

        def count_drop(seq):
            if seq > words[numbered_word]:
                words[numbered_word] = seq
            words[dropped_word] = next_drop()

        def wake(end):
            nonlocal wake_at
            tail = words[tail_word]
            if end - tail >= size // 2:
                sock = wake_socket()
                if sock is not None:
                    try:
                        sock.send(_WAKE, _MSG_DONTWAIT)
                    except _GONE:
                        gone()
                    except OSError:
                        pass
                wake_at = end + size // 4
            else:
                wake_at = tail + size // 2

        def put(seq, data):
            # The writer's: ``data`` (None: a drop) at HEAD, read after its last call
            # before the store: an inline write may come in at any call.
            nonlocal room_until
            if data is None:
                count_drop(seq)
                return
            n = len(data)
            if words[head_word] + n > room_until:
                room_until = room_end()
            head = words[head_word]
            end = head + n
            if end > room_until:
                count_drop(seq)
                limits()
                return
            at = base + (head & mask)
            if at + n <= base + size:
                view[at : at + n] = data
            else:  # wraps past the end to the start
                first = base + size - at
                view[at : base + size] = data[:first]
                view[base : base + n - first] = data[first:]
            names["_head"] = words[head_word] = end
            if end >= wake_at:
                wake(end)
            limits()

        def write(seq, data):
            if waiting or not take(False):  # another writer, or events queued before
                queue((seq, data))
                drain()
                return
            try:  # the usual case: the ring is free and nothing waits
                if data is not None:  # the short way, as the hook's inline write
                    n = len(data)
                    head = words[head_word]
                    end = head + n
                    if end <= fast_until:
                        view[head + offset : end + offset] = data
                        names["_head"] = words[head_word] = end
                    else:
                        put(seq, data)
                else:
                    put(seq, None)
                while waiting:  # queued meanwhile (a signal handler's events)
                    put(*next_waiting())
            finally:
                let_go()
            if waiting:  # queued as it let go
                drain()

        def drain():
            while waiting and take(False):  # else its holder writes it, or did
                try:
                    while waiting:
                        put(*next_waiting())
                finally:
                    let_go()

        def drop(seq=0):
            write(seq, None)

        def append(event):
            try:
                data = pack(event)
            except Exception:
                try:
                    data = careful(event)
                except Exception:
                    data = None
            write(event[0], data)

        many = getattr(pack, "many", None)  # (the pure encoder's, for a batch at once)

        def append_all(events):
            # Events in order, in one write where they all encode and fit (the start's,
            # which the preload library kept, are many), else one by one.
            try:
                data = many(events) if many is not None else b"".join(map(pack, events))
            except Exception:
                data = None
            if data is not None and words[head_word] + len(data) <= room_end():
                write(events[-1][0], data)
                return
            for event in events:
                append(event)

        self.append, self.drop, self.append_all = append, drop, append_all
        names.update(
            _ring=view,
            _words=words,
            _write_event=write_event,
            _head=words[head_word],
            _pack=pack,
            _ring_write=write,
            _append=append,
            _next_drop=drop,
        )
        limits()
        if until is not None:  # the C writer on
            until[0] = fast_until

    def mark_lone(self):
        """The agent closes its socket after the hello (constants.py): stored before the
        hello goes, which the monitor reads it with."""
        _u64.pack_into(self.map, RING_LONE_AT, 1)

    def goodbye(self, message):
        """A lone agent's goodbye, where the monitor reads it once the process is gone:
        its length zeroed, the message, then its length (a later one replaces it)."""
        n = len(message)
        if n <= RING_GOODBYE_MAX:
            try:
                _u64.pack_into(self.map, RING_GOODBYE_AT, 0)
                self.map[RING_GOODBYE_AT + 8 : RING_GOODBYE_AT + 8 + n] = message
                _u64.pack_into(self.map, RING_GOODBYE_AT, n)
            except ValueError:  # unmapped (a forked child's copy, closed)
                pass

    def counters(self, numbered, dropped):
        """Store the counters as they are now (the events numbered before the ring)."""
        _u64.pack_into(self.map, RING_NUMBERED_AT, numbered)
        _u64.pack_into(self.map, RING_DROPPED_AT, dropped)
