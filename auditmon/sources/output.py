"""The launched command's output, kept for the live monitor's Output panel."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class OutputTail:
    """The latest lines (``(stream, text)``, oldest first) and how many came in all:
    a reader that saw ``total`` before knows how many of these are new to it."""

    lines: tuple[tuple[str, str], ...] = ()
    total: int = 0


class OutputBuffer:
    """Lines from the command's stdout and stderr readers (two threads), bounded."""

    def __init__(self, keep: int = 2000) -> None:
        self._lines: deque[tuple[str, str]] = deque(maxlen=keep)
        self._total = 0
        self._lock = threading.Lock()
        self._tail = OutputTail()

    def append(self, stream: str, line: str) -> None:
        with self._lock:
            self._lines.append((stream, line))
            self._total += 1

    def tail(self) -> OutputTail:
        """The lines as of now (the same object while nothing new came)."""
        with self._lock:
            if self._tail.total != self._total:
                self._tail = OutputTail(tuple(self._lines), self._total)
            return self._tail
