"""The debugger's way of bringing the agent into a running process (inject.py's, before
Python 3.14 or where the process's main thread is blocked): gdb where it is installed,
else lldb.  Each runs a script of ours in its own Python (gdb_inject.py, lldb_inject.py,
sharing injection_steps.py) that stops the process at a safe point, loads the injection
library (agent/inject/inject.c), starts its thread, and leaves.  gdb can borrow a thread
blocked in a system call; lldb only one at the entry of an allocator, which a process
whose threads all sleep never reaches.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
from pathlib import Path

from auditmon.agentpath import agent_dir
from auditmon.protocol import agent_constants as _agent

_HERE = Path(__file__).parent
GDB_REMEDY = "gdb (Debian and Ubuntu: apt install gdb; Fedora: dnf install gdb)"
# Debian's lldb 14 looks for its Python module where its package did not put it.
_LLDB_MODULES = "/usr/lib/llvm-*/lib/python3*/dist-packages"


class DebuggerError(Exception):
    """The debugger could not bring the agent in; the message says why."""


def injection_library() -> Path | None:
    """The injection library beside the agent; None where it was not built."""
    library = agent_dir() / _agent.INJECT_LIBRARY
    return library if library.is_file() else None


def debugger() -> str | None:
    """The debugger there is: "gdb", "lldb", or None."""
    for name in ("gdb", "lldb"):
        if shutil.which(name) is not None:
            return name
    return None


def debugger_missing() -> str | None:
    """Why the debugger's way in can't be taken here, or None."""
    if debugger() is None:
        return f"attaching to a process started without auditmon needs {GDB_REMEDY} or lldb"
    if injection_library() is None:
        return (
            "the injection library was not built (no C compiler at install time); "
            "reinstall auditmon where one is present"
        )
    return None


def use_debugger(pid: int, settings: dict[str, str], outcome: Path, patience: float) -> str:
    """Have a debugger start the agent in ``pid`` (its outcome then comes to
    ``outcome``): the debugger's name.  DebuggerError where it could not."""
    name, library = debugger(), injection_library()
    if name is None or library is None:
        raise DebuggerError(debugger_missing() or "")
    env = {
        **os.environ,
        "AUDITMON_INJECT_LIBRARY": str(library),
        "AUDITMON_INJECT_AGENT_DIR": str(agent_dir()),
        "AUDITMON_INJECT_SETTINGS": "".join(f"{k}={v}\n" for k, v in settings.items()),
        "AUDITMON_INJECT_OUTCOME": str(outcome),
        "AUDITMON_INJECT_PATIENCE": str(patience),
    }
    if name == "gdb":
        command = ["gdb", "-p", str(pid), "-batch", "-nx", "-x", str(_HERE / "gdb_inject.py")]
    else:
        script = _HERE / "lldb_inject.py"
        command = ["lldb", "--batch", "--no-lldbinit", "-p", str(pid)]
        command += ["-o", f"command script import {script}"]
        env["PYTHONPATH"] = os.pathsep.join(_lldb_modules() + [env.get("PYTHONPATH", "")])
    said = _run(name, command, env, pid, patience)
    if said != "injected":
        if name == "lldb" and said.startswith("timeout"):
            said += f" (lldb waits for an allocator's entry; {GDB_REMEDY} also reaches a sleep)"
        raise DebuggerError(said)
    return name


def _lldb_modules() -> list[str]:
    return sorted(d for d in glob.glob(_LLDB_MODULES) if os.path.isfile(f"{d}/lldb/__init__.py"))


def _run(name: str, command: list[str], env: dict[str, str], pid: int, patience: float) -> str:
    """The debugger's verdict: ``injected``, or why not."""
    try:
        result = subprocess.run(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=patience + 60,
            start_new_session=True,  # a Ctrl-C at the monitor is not the debugger's
        )
    except subprocess.TimeoutExpired:
        # run() has killed the debugger and the kernel detaches it; a stop it may have
        # left goes (the process was running: a stopped one is refused before).
        try:
            os.kill(pid, signal.SIGCONT)
        except OSError:
            pass
        return f"{name} did not finish"
    for line in result.stdout.splitlines():
        if line.startswith("AUDITMON-INJECT: "):
            state, _, why = line[len("AUDITMON-INJECT: ") :].partition(" ")
            return state if state == "injected" else f"{state}: {why.strip()}".rstrip(": ")
    last = (result.stderr.strip().splitlines() or ["no output"])[-1]
    return f"{name} could not attach ({last})"
