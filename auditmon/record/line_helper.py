"""JSON Lines written by two processes, so that a JSON Lines recording keeps up with the
agents where two cores are free (docs/benchmarks.md).

The recorder's process hands each batch's wire bytes to a helper process, which writes
their lines (``EventLines.wire_lines``): the C renderer's, from those very bytes, else
decoded and written by the Python path.  Where the C renderer was not built, the Python
path's work is shared: while the helper is behind (it has not read all that was sent),
the recorder renders the batch itself (``EventLines.render``, the larger half of that
work), and the helper only checks that text and makes lines of it (``batch_lines``),
or, where the text will not do, writes a record at a time.  (With the C renderer the
helper is the faster of the two: the recorder never takes a share.)

The helper writes to the recording's file, which the recorder opened (so a path that
cannot be written fails there, as before); it gets frames on its stdin, in order, and
writes only whole ones: a recorder killed mid-frame leaves a recording of whole lines.
When it cannot write it says why on stderr, after how many events, and exits 1.
"""

from __future__ import annotations

import array
import fcntl
import json
import os
import struct
import subprocess
import sys
import termios
from collections.abc import Sequence
from typing import IO, Any

from auditmon import protocol
from auditmon.record.jsonl import EventLines, batch_lines, one_by_one, plain_floats

#: kind, pid, events, objects rendered by ``default``, then the sizes of the text and of
#: the wire bytes that follow.
FRAME = struct.Struct("<BiIIII")
BYTES, RENDERED, EVENTS = 0, 1, 2  # bytes written as they are; a batch with its text; without
_PIPE_SIZE = 1 << 20  # F_SETPIPE_SZ: a few batches in flight
_F_SETPIPE_SZ = 1031
_WAIT = 60.0  # seconds a closing recorder waits for the helper to finish writing

_NATIVE = {True: "native", False: "python"}  # the helper's argument: its renderer
_BOOT = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from auditmon.record.line_helper import serve; serve(sys.argv[2] == 'native')"
)


def helper_wanted() -> bool:
    """Whether a JSON Lines recording should take a helper: two cores or more to run on."""
    try:
        return len(os.sched_getaffinity(0)) > 1
    except (AttributeError, OSError):
        return (os.cpu_count() or 1) > 1


class LineHelper:
    """The recorder's side: starts the helper on ``file`` and sends it frames.
    ``write`` and ``batch`` raise OSError (BrokenPipeError) once the helper has died;
    ``close`` then says why."""

    #: Bytes waiting in the pipe past which the recorder renders a batch itself (tests:
    #: -1, every batch; a huge number, none).
    behind = 0

    def __init__(self, file: IO[bytes], native: bool = True) -> None:
        """``native``: whether the helper tries the C renderer first."""
        # -I: none of the monitor's PYTHON* variables or user site; its sys.path instead.
        # A session of its own: a Ctrl-C meant for the monitored command does not end it
        # (it ends when its stdin does, the monitor's end included).
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT, json.dumps(sys.path), _NATIVE[native]],
            stdin=subprocess.PIPE,
            stdout=file,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.process.stdin is not None
        self.pipe = self.process.stdin
        try:
            fcntl.fcntl(self.pipe.fileno(), _F_SETPIPE_SZ, _PIPE_SIZE)
        except OSError:
            pass  # a smaller pipe only means more turns

    def write(self, data: bytes) -> None:
        """Have ``data`` written as it is, after what was sent before."""
        self.pipe.write(FRAME.pack(BYTES, 0, 0, 0, len(data), 0))
        self.pipe.write(data)

    def batch(
        self, pid: int, events: Sequence[Sequence[Any]], raw: bytes | bytearray, lines: EventLines
    ) -> None:
        """Have ``pid``'s ``events`` written (``raw``: their msgpack encoding); ``lines``
        renders them here when the helper is behind (the Python path's share only)."""
        rendered = None
        if not lines.native and self._waiting() > self.behind:
            rendered = lines.render(pid, events)
        if rendered is None:
            self.pipe.write(FRAME.pack(EVENTS, pid, len(events), 0, 0, len(raw)))
        else:
            text, objects = rendered
            self.pipe.write(FRAME.pack(RENDERED, pid, len(events), objects, len(text), len(raw)))
            self.pipe.write(text)
        self.pipe.write(raw)

    def _waiting(self) -> int:
        """Bytes in the pipe that the helper has not read yet."""
        waiting = array.array("i", [0])
        try:
            fcntl.ioctl(self.pipe.fileno(), termios.FIONREAD, waiting)
        except OSError:
            return 0
        return waiting[0]

    def flush(self) -> None:
        self.pipe.flush()

    def close(self) -> str | None:
        """Let the helper finish; None when it wrote everything, else why it did not."""
        try:
            self.pipe.close()
        except OSError:
            pass  # (BrokenPipeError: it had died; its stderr says why)
        self.process.stdin = None  # closed: communicate only reads and waits
        try:
            _, error = self.process.communicate(timeout=_WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            return f"its writer did not finish within {_WAIT:.0f} seconds"
        status = self.process.returncode
        if status == 0:
            return None
        reason = error.decode("utf-8", "replace").strip().splitlines()
        if reason:
            return reason[-1]
        if status < 0:
            return f"its writer was killed by signal {-status}"
        return f"its writer ended with status {status}"


def serve(native: bool = True) -> None:
    """The helper's side: frames from stdin, lines to stdout, until stdin ends;
    ``native``: the C renderer's lines where it gives them."""
    encoder = EventLines(native)
    source = open(0, "rb", closefd=False)
    written = 0
    try:
        while True:
            head = source.read(FRAME.size)
            if len(head) < FRAME.size:
                break  # the end (or a recorder killed mid-frame)
            kind, pid, count, objects, text_size, raw_size = FRAME.unpack(head)
            text = source.read(text_size)
            raw = source.read(raw_size)
            if len(text) < text_size or len(raw) < raw_size:
                break  # a recorder killed mid-frame: only whole frames are written
            if kind == BYTES:
                _write_all(text)
                continue
            if kind == EVENTS:  # not rendered yet
                lines = encoder.wire_lines(pid, raw)
            else:  # (rendering it here would fail the same checks: a record at a time)
                lines = batch_lines(text, objects, count) if plain_floats(raw) else None
                if lines is None:
                    lines = one_by_one(pid, protocol.unpackb(raw))
            _write_all(lines)
            written += count
    except OSError as error:
        sys.stderr.write(f"{error.strerror or error} (after {written:,} events)\n")
        sys.exit(1)


def _write_all(data: bytes) -> None:
    """Write ``data`` to stdout whole (a write may take only part of it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(1, view) :]
