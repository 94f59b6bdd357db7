"""A listener that reads and discards everything agents send, as fast as it can.

Usage: drain_process.py SOCKET   (bench/run.py starts it)

The tight loops raise events faster than any monitor decodes them; against this one
nothing is dropped for want of a reader, so they time what recording an event costs the
hook (an agent drops an event before encoding it once its buffer is full, which is far
cheaper).  Run mode's agents write events into a shared-memory ring whose descriptor
comes with the hello: this marks each ring read (its tail moved to its head) every
millisecond, and at once when woken.  It prints "ready" once it listens; end of stdin
ends it.
"""

from __future__ import annotations

import mmap
import os
import selectors
import socket
import struct
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "agent"))
from _auditmon_agent.constants import RING_HEAD_AT, RING_TAIL_AT  # noqa: E402

_U64 = struct.Struct("=Q")


def main() -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sys.argv[1])
    listener.listen(64)
    listener.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    buffer = bytearray(1 << 20)
    rings: dict[socket.socket, mmap.mmap] = {}
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    print("ready", flush=True)
    while not done.is_set():
        for key, _ in selector.select(0.001):
            sock = key.fileobj
            if sock is listener:
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                selector.register(conn, selectors.EVENT_READ)
                continue
            try:
                if sock in rings:
                    n = sock.recv_into(buffer)
                else:
                    data, fds, _, _ = socket.recv_fds(sock, len(buffer), 4)
                    n = len(data)
                    if fds:
                        rings[sock] = mmap.mmap(fds[0], 0)
                        for fd in fds:
                            os.close(fd)
            except BlockingIOError:
                continue
            except OSError:
                n = 0
            if n == 0:
                selector.unregister(sock)
                sock.close()
                ring = rings.pop(sock, None)
                if ring is not None:
                    ring.close()
        for ring in rings.values():
            _U64.pack_into(ring, RING_TAIL_AT, _U64.unpack_from(ring, RING_HEAD_AT)[0])


if __name__ == "__main__":
    main()
