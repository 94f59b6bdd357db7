"""The monitor's side of run mode's shared-memory ring: the memfd an agent hands over
with its hello, mapped, read from where the monitor last stopped up to what the agent
has written whole, and marked read so that the agent may write there again.

The layout and the protocol are the agent's (``_auditmon_agent/constants.py``, "run
mode's shared-memory ring").  The ring outlives the process that wrote it: when a
connection ends without a goodbye, what the ring holds is still read.
"""

from __future__ import annotations

import mmap
import os
import struct

from auditmon.protocol import agent_constants as _c

_U64 = struct.Struct("=Q")


class RingError(Exception):
    """The ring is not what the agent's hello said, or it holds nonsense."""


class Ring:
    """One agent's ring, mapped from ``fd`` (which it then owns)."""

    def __init__(self, fd: int, size: object) -> None:
        try:
            if type(size) is not int or size <= 0 or size % 8:
                raise RingError(f"bad ring size {size!r} in the hello")
            length = os.fstat(fd).st_size
            if length != _c.RING_HEADER + size:
                raise RingError(f"the ring is {length:,} bytes, not {_c.RING_HEADER + size:,}")
            self.map = mmap.mmap(fd, length)
        except (OSError, ValueError) as error:
            os.close(fd)
            raise RingError(f"the ring cannot be mapped: {error}") from None
        except RingError:
            os.close(fd)
            raise
        os.close(fd)  # the mapping keeps the memory
        self.size = size
        if self._word(_c.RING_MAGIC_AT) != _c.RING_MAGIC:
            self.close()
            raise RingError("not an auditmon ring (bad magic)")
        if self._word(_c.RING_SIZE_AT) != size:
            self.close()
            raise RingError("the ring's size is not the hello's")
        self.tail = self._word(_c.RING_TAIL_AT)

    def _word(self, at: int) -> int:
        return _U64.unpack_from(self.map, at)[0]

    @property
    def numbered(self) -> int:
        """The last seq the agent stored as numbered."""
        return self._word(_c.RING_NUMBERED_AT)

    @property
    def written(self) -> int:
        """Bytes of whole events the agent has written since the start."""
        return self._word(_c.RING_HEAD_AT)

    @property
    def dropped(self) -> int:
        """Events the agent dropped, in all (its ring was full)."""
        return self._word(_c.RING_DROPPED_AT)

    @property
    def lone(self) -> bool:
        """Whether the agent closes its socket after the hello (it could not put it out
        of the target's sight): its end is then its process's."""
        return self._word(_c.RING_LONE_AT) == 1

    def goodbye(self) -> bytes | None:
        """A lone agent's goodbye message, if it wrote one (read once it is gone)."""
        n = self._word(_c.RING_GOODBYE_AT)
        if n == 0:
            return None
        if n > _c.RING_GOODBYE_MAX:
            raise RingError(f"a goodbye of {n:,} bytes in the ring's header")
        start = _c.RING_GOODBYE_AT + 8
        return self.map[start : start + n]

    def unread(self) -> int:
        """Bytes written since the last take; RingError where the agent's head is
        behind what was read, or further ahead than the ring holds."""
        head, tail = self._word(_c.RING_HEAD_AT), self.tail
        if head < tail or head - tail > self.size:
            raise RingError(f"the ring's positions make no sense (read {tail:,}, written {head:,})")
        return head - tail

    def take(self, limit: int) -> bytes:
        """At most ``limit`` of the bytes written since the last take (whole events,
        the last of them perhaps cut where the limit falls), marked read."""
        tail, size = self.tail, self.size
        head = tail + min(self.unread(), limit)
        if head == tail:
            return b""
        start = _c.RING_HEADER + tail % size
        n = head - tail
        end = _c.RING_HEADER + size
        if start + n <= end:
            data = self.map[start : start + n]
        else:  # wraps past the end to the start
            rest = n - (end - start)
            data = self.map[start:end] + self.map[_c.RING_HEADER : _c.RING_HEADER + rest]
        self.tail = head
        _U64.pack_into(self.map, _c.RING_TAIL_AT, head)
        return data

    def close(self) -> None:
        try:
            self.map.close()
        except (BufferError, ValueError):
            pass
