"""A listener that reads and discards everything agents send, as fast as it can.

Usage: drain_process.py SOCKET   (bench/run.py starts it)

The tight loops raise events faster than any monitor decodes them; against this one
nothing is dropped for want of a reader, so they time what recording an event costs the
hook (an agent drops an event before encoding it once its buffer is full, which is far
cheaper).  It prints "ready" once it listens; end of stdin ends it.
"""

from __future__ import annotations

import selectors
import socket
import sys
import threading


def main() -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sys.argv[1])
    listener.listen(64)
    listener.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    buffer = bytearray(1 << 20)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    print("ready", flush=True)
    while not done.is_set():
        for key, _ in selector.select(0.1):
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
                n = sock.recv_into(buffer)
            except BlockingIOError:
                continue
            except OSError:
                n = 0
            if n == 0:
                selector.unregister(sock)
                sock.close()


if __name__ == "__main__":
    main()
