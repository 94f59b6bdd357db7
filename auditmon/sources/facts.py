"""What the operating system says about live processes (psutil): CPU %, RSS, threads
and open files, sampled at most once a second."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import psutil


class ProcessFacts:
    """Keeps a psutil handle per pid (CPU % needs the previous sample)."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self._handles: dict[int, psutil.Process] = {}
        self._sampled_at = 0.0

    def due(self) -> bool:
        """Whether a second has passed since the last sample (and start one if so)."""
        now = time.monotonic()
        if now - self._sampled_at < self.every:
            return False
        self._sampled_at = now
        return True

    def sample(self, pids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Facts of each pid that can still be read."""
        found = {}
        for pid in pids:
            facts = self._facts_of(pid)
            if facts is not None:
                found[pid] = facts
        return found

    def _facts_of(self, pid: int) -> dict[str, Any] | None:
        try:
            process = self._handles.get(pid)
            if process is None:
                process = self._handles[pid] = psutil.Process(pid)
            with process.oneshot():
                return {
                    "cpu": process.cpu_percent(),
                    "rss": process.memory_info().rss,
                    "threads": process.num_threads(),
                    "open_files": len(process.open_files()),
                }
        except (psutil.Error, OSError):
            self._handles.pop(pid, None)
            return None
