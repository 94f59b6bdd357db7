"""Python processes that were started but never reported: none missing silently.

A monitored process that starts another program raises an audit event saying so
(``subprocess.Popen``, ``os.posix_spawn``, ``os.exec``, ``os.spawn``, ``os.system``,
``pty.spawn``).  Where that program is a Python interpreter, the monitor expects it to
report; one that has not said hello a while after (its parent gone, or the session
over) is shown as *not monitored*, with its command line and the likely reason.  A
child that is not Python is never flagged.
"""

from __future__ import annotations

import os
import re
import shlex
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from auditmon import protocol
from auditmon.model.process import Process
from auditmon.protocol import agent_constants as _agent

#: Seconds a spawned Python process has to say hello before it counts as unreached.
REPORT_WITHIN = 5.0
#: Hellos kept for the spawns announced after them.
RECENT_HELLOS = 512
#: The events that start programs.
SPAWN_EVENTS = frozenset(
    {"subprocess.Popen", "os.posix_spawn", "os.exec", "os.spawn", "pty.spawn", "os.system"}
)

_PYTHON = re.compile(r"^(python|pypy)(\d+(\.\d+)*)?(-dbg)?$")
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh"})
_WRAPPERS = frozenset({"env", "exec", "nice", "nohup", "timeout", "stdbuf", "time"})
_SPAWNS = {
    "subprocess.Popen": (0, 1, 3),  # (program, argv, env) positions
    "os.posix_spawn": (0, 1, 2),
    "os.exec": (0, 1, 2),
    "os.spawn": (1, 2, 3),
    "pty.spawn": (None, 0, None),
}


@dataclass
class Spawn:
    """A Python process a monitored one started, awaited until it reports."""

    parent: Process
    argv: list[str]
    time: float
    due: float
    reason: str
    exec_: bool = False  # os.exec: the same pid, a new image
    matched: bool = field(default=False, compare=False)


def spawned_python(event: str, args: Sequence[Any]) -> tuple[list[str], str] | None:
    """The argv of the Python interpreter an event starts, and why it might not report
    (judged from the environment it is given), or None when it starts no Python."""
    if event == "os.system":
        argv = _words(args[0] if args else None)
        env = None
    elif event in _SPAWNS:
        program_at, argv_at, env_at = _SPAWNS[event]
        argv = _strings(args[argv_at] if argv_at < len(args) else None)
        if argv is None and program_at is not None and program_at < len(args):
            argv = _strings([args[program_at]])
        env = args[env_at] if env_at is not None and env_at < len(args) else None
    else:
        return None
    argv = _through_shells(argv or [])
    if not argv or not _is_python(argv[0]) or _is_auditmon(argv):
        return None
    return argv, _reason(env, argv)


def _strings(value: Any) -> list[str] | None:
    if type(value) is str:
        return _words(value)
    if type(value) in (list, tuple) and all(type(v) is str for v in value):
        return list(value)
    return None


def _words(command: Any) -> list[str] | None:
    if type(command) is not str:
        return None
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def _through_shells(argv: list[str]) -> list[str]:
    """``sh -c 'python x'`` and ``env A=1 python x`` start ``python x``."""
    for _ in range(4):
        if not argv:
            return argv
        name = os.path.basename(argv[0])
        if name in _SHELLS and len(argv) >= 3 and argv[1] == "-c":
            argv = _words(argv[2]) or []
        elif name in _WRAPPERS:
            rest = argv[1:]
            while rest and ("=" in rest[0] or rest[0].startswith("-")):
                rest = rest[1:]
            argv = rest
        else:
            return argv
    return argv


def _is_python(program: str) -> bool:
    return bool(_PYTHON.match(os.path.basename(program)))


def _is_auditmon(argv: list[str]) -> bool:
    """auditmon's own processes never report (they are not watched)."""
    return any(a == "-m" and argv[i + 1 : i + 2] == ["auditmon"] for i, a in enumerate(argv))


def _reason(env: Any, argv: list[str]) -> str:
    whole = type(env) is dict  # a Cut one holds its first entries only
    if type(env) is protocol.Cut and type(env.value) is dict:
        env = env.value
    if type(env) is dict:
        mode = env.get(_agent.ENV_MODE)
        if mode is not None and mode not in (_agent.MODE_RUN, _agent.MODE_ATTACH):
            return f"opted out ({_agent.ENV_MODE}={mode})"
        if whole and (_agent.ENV_MODE not in env or _agent.ENV_SOCKET not in env):
            return "its environment (env=) dropped auditmon's settings"
    flags = [a for a in argv[1:3] if a in ("-I", "-E", "-S", "-IS", "-ES")]
    if flags:
        return (
            f"started with {flags[0]}, which skips PYTHONPATH or site, and the preload "
            "library did not reach it (LD_PRELOAD dropped?)"
        )
    return (
        "never reported: it may have failed to start, or the agent did not reach it "
        "(a static interpreter, LD_PRELOAD dropped?)"
    )


class SpawnWatch:
    """Spawned Python processes awaited (see the module)."""

    def __init__(self, report_within: float = REPORT_WITHIN) -> None:
        self.report_within = report_within
        self.waiting: list[Spawn] = []
        # A child's hello can come before its parent's batch saying it started it
        # (the parent sends every few milliseconds): the latest hellos are kept.
        self.recent: deque[Process] = deque(maxlen=RECENT_HELLOS)
        self._popen: dict[tuple[int, int], tuple[list[str], float]] = {}  # (process, thread)

    def saw_events(self, process: Process, batch: list[list[Any]], now: float) -> None:
        for event in batch:
            name = event[3]
            if name in SPAWN_EVENTS:
                found = spawned_python(name, event[4])
                if found is not None and not self._same_child(process, event, found[0]):
                    argv, reason = found
                    due = now + self.report_within
                    spawn = Spawn(process, argv, event[1], due, reason, name == "os.exec")
                    answered = next((p for p in self.recent if _answers(spawn, p)), None)
                    if answered is not None:
                        self.recent.remove(answered)
                    else:
                        self.waiting.append(spawn)

    def _same_child(self, process: Process, event: list[Any], argv: list[str]) -> bool:
        """``subprocess.Popen`` may start its child with ``os.posix_spawn`` (3.13+),
        which raises its own event: one child, announced twice by one thread."""
        key = (process.id, event[2])
        if event[3] == "subprocess.Popen":
            self._popen[key] = (argv, event[1])
            return False
        popen = self._popen.pop(key, None)
        return popen is not None and popen[0][1:] == argv[1:] and event[1] - popen[1] < 1.0

    def saw_hello(self, process: Process) -> None:
        """A process reported: the spawn it answers is no longer awaited."""
        for spawn in self.waiting:
            if _answers(spawn, process):
                self.waiting.remove(spawn)
                return
        self.recent.append(process)

    def parent_ended(self, process: Process, now: float) -> None:
        """Its children have had their time once it is gone (and a moment more)."""
        for spawn in self.waiting:
            if spawn.parent is process:
                spawn.due = min(spawn.due, now + 1.0)

    def due(self, now: float) -> list[Spawn]:
        """The spawns still unanswered at ``now`` (all of them, at the end: ``inf``)."""
        found = [s for s in self.waiting if s.due <= now]
        self.waiting = [s for s in self.waiting if s.due > now]
        return found


def _answers(spawn: Spawn, process: Process) -> bool:
    if process.start < spawn.time - 1.0:
        return False
    if spawn.exec_:
        return process.pid == spawn.parent.pid
    theirs, ours = process.argv, spawn.argv
    if process.ppid == spawn.parent.pid and _is_python(process.executable):
        # sys.argv before 3.10: no interpreter, and "-c" without its code
        return not theirs or theirs[1:] == ours[1:] or ours[1:2] == theirs[:1]
    if theirs[1:] == ours[1:] and os.path.basename(theirs[0]) == os.path.basename(ours[0]):
        return True
    # CPython before 3.10 reports sys.argv: the script and its arguments, no interpreter
    return theirs == ours[1:] or theirs[1:] == ours[2:] and theirs[0] == ours[1]


def unreached_process(spawn: Spawn, process: Process) -> Process:
    """``process`` (a fresh ledger entry) filled in for a spawn that never reported."""
    process.pid = spawn.parent.pid if spawn.exec_ else 0
    process.ppid = spawn.parent.ppid if spawn.exec_ else spawn.parent.pid
    process.argv = list(spawn.argv)
    process.executable = spawn.argv[0] if spawn.argv else ""
    process.start = spawn.time
    process.monitored = False
    process.error = spawn.reason
    return process
