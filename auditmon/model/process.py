"""One reporting process image (one agent connection) and what it told the monitor."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

NOT_MONITORED = "not monitored"


@dataclass
class Process:
    """What a process said about itself (hello, goodbye) and its event accounting.

    ``received``, ``dropped`` and ``lost`` add up to every event the agent numbered:
    ``lost`` is what it numbered but neither sent nor reported dropped (its connection
    ended without a goodbye).  A process whose agent kept its events in a shared-memory
    ring (``ring``, run mode) loses none that way: at its end, what it numbered but
    never wrote whole (``ring_cut``, cut short by its death) is counted as dropped.
    """

    id: int
    pid: int = 0
    ppid: int = 0
    argv: list[str] = field(default_factory=list)
    executable: str = ""
    cwd: str | None = None
    python: str = ""
    start: float = 0.0
    agent: str = ""
    mode: str = ""
    received: int = 0
    dropped: int = 0
    lost: int = 0
    max_seq: int = 0
    seq_base: int = 0
    goodbye: dict[str, Any] | None = None
    status: str = "connecting"
    error: str | None = None
    exit_code: int | None = None
    end_time: float | None = None
    killed_by: int | None = None  # the pid that sent the signal, where it is known
    # Thread ident -> [(seq, name)]: the name its events carry from that seq on (an
    # ident is reused by a later thread once the earlier one has ended).
    threads: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    monitored: bool = True  # False: started by a monitored process, never reported
    # Its interpreter's start-up events (before site runs) are among its events: the
    # preload library kept them.  False for agents and recordings that predate it.
    startup_seen: bool = False
    # Its events came through a shared-memory ring, which outlives the process; and
    # how many of them its end cut short (numbered, never written whole: in ``dropped``).
    ring: bool = False
    ring_cut: int = 0

    def apply_hello(self, hello: dict[str, Any]) -> None:
        self.pid = hello["pid"]
        self.ppid = _int(hello.get("ppid"))
        argv = hello.get("argv")
        self.argv = [str(a) for a in argv] if isinstance(argv, (list, tuple)) else []
        self.executable = str(hello.get("executable") or "")
        cwd = hello.get("cwd")
        self.cwd = cwd if isinstance(cwd, str) else None
        self.python = str(hello.get("python") or "")
        start = hello.get("start")
        self.start = float(start) if isinstance(start, (int, float)) else time.time()
        self.agent = str(hello.get("agent") or "")
        self.mode = str(hello.get("mode") or "")
        self.startup_seen = hello.get("startup") is True
        first_seq = hello.get("first_seq")
        if isinstance(first_seq, int) and first_seq > 0:
            self.seq_base = first_seq - 1
        self.status = "running"
        if hello.get("monitored") is False:  # a recording's record of one never reached
            self.monitored = False
            self.status = NOT_MONITORED
            reason = hello.get("reason")
            self.error = reason if isinstance(reason, str) else None

    @property
    def command(self) -> str:
        return " ".join(self.argv) if self.argv else self.executable

    def name_thread(self, thread: int, seq: int, name: str) -> None:
        """The agent named ``thread``: its events from ``seq`` on are ``name``'s."""
        named = self.threads.setdefault(thread, [])
        named.append((seq, name))
        if len(named) > 1 and named[-2][0] > seq:
            named.sort()

    def thread_name(self, thread: int, seq: int | None = None) -> str | None:
        """The name of the thread that raised event ``seq`` on ``thread`` (without a
        seq: the ident's latest name); None where the agent sent none."""
        named = self.threads.get(thread)
        if not named:
            return None
        if seq is None:
            return named[-1][1] or None
        for first, name in reversed(named):
            if seq >= first:
                return name or None  # "": a thread of no name took the ident over
        return None

    def account_end(self) -> None:
        """Events the process numbered but we never received or heard dropped: lost."""
        if self.goodbye is not None:
            last = self.goodbye.get("last_seq")
            if isinstance(last, int):
                self.max_seq = max(self.max_seq, last)
        self.lost = max(0, self.max_seq - self.seq_base - self.received - self.dropped)


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0
