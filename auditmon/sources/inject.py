"""Bringing the agent into a Python process that was started without it, so that
``auditmon attach PID`` works on any CPython 3.8+ process of this user.

On 3.14 and later the process's own interpreter is asked to run the agent's start at
its next safe point (``sys.remote_exec``: remote_exec.py), unless it turned remote
debugging off, which is then said.  Before 3.14, or where the process's main thread does
not get to it at once (asleep, or blocked in a call), a debugger does it, as memray's
attach does (debuggers.py: gdb, or lldb): it stops the target at a safe point, loads a
small library (agent/inject/inject.c) and calls it; the library starts a thread that
takes the GIL and starts the agent in attach mode (``_auditmon_bootstrap.inject``), and
the debugger leaves at once (gdb_inject.py says how it picks the point).  Either way
the agent then listens where ``auditmon env``'s agents listen, and attaching goes on as
for them.

Every reason it can't be done is found first, and said in one line with the remedy:
another user's process, another pid or mount namespace, ptrace forbidden, no debugger
where one is needed, not a CPython 3.8+, remote debugging turned off.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

import psutil

from auditmon.agentpath import agent_dir
from auditmon.protocol import agent_constants as _agent
from auditmon.sources import remote_exec
from auditmon.sources.attach import AttachError, own_process
from auditmon.sources.debuggers import (
    GDB_REMEDY,
    DebuggerError,
    debugger,
    debugger_missing,
    use_debugger,
)
from auditmon.sources.environment import MODE, runtime_dir

_LIBPYTHON = re.compile(r"libpython3\.(\d+)")
_PTRACE_SCOPE = Path("/proc/sys/kernel/yama/ptrace_scope")


def check_injectable(pid: int) -> bool:
    """Raise AttachError, with the remedy, where the agent can't be brought into ``pid``;
    else whether it may be asked to start it itself (``asks_itself``)."""
    process = own_process(pid)
    try:
        status = process.status()
    except psutil.NoSuchProcess:
        raise AttachError(f"no process with PID {pid}") from None
    for kind in ("pid", "mnt"):
        try:
            theirs = os.readlink(f"/proc/{pid}/ns/{kind}")
            ours = os.readlink(f"/proc/self/ns/{kind}")
        except OSError:
            continue
        if theirs != ours:
            raise AttachError(
                f"process {pid} runs in another {'pid' if kind == 'pid' else 'mount'} "
                "namespace (a container?); run auditmon inside it"
            )
    minor = python_minor(pid)
    why = _not_cpython(minor)
    if why is not None:
        raise AttachError(f"process {pid} {why}")
    if _is_auditmon(process):
        raise AttachError(f"process {pid} is auditmon itself, which is never monitored")
    if status in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP):
        raise AttachError(
            f"process {pid} is stopped (or under a debugger): resume it first "
            f"(kill -CONT {pid}), then attach"
        )
    scope = _ptrace_scope()
    if scope >= 3:
        raise AttachError(
            "ptrace is disabled on this machine (kernel.yama.ptrace_scope = 3, "
            "until the next boot): no debugger can attach"
        )
    if scope >= 1 and os.geteuid() != 0 and not _has_cap_sys_ptrace():
        raise AttachError(
            f"ptrace is restricted (kernel.yama.ptrace_scope = {scope}): run auditmon "
            "as root, give it CAP_SYS_PTRACE, or allow it with "
            "`sudo sysctl kernel.yama.ptrace_scope=0`"
        )
    itself = asks_itself(minor)
    if not itself:
        why = debugger_missing()
        if why is not None:
            raise AttachError(why)
    return itself


def not_cpython(pid: int) -> str | None:
    """Why ``pid`` is not a CPython 3.8+ process, or None where it is one: its
    executable is ``python3.X``, or it has ``libpython3.X`` mapped."""
    return _not_cpython(python_minor(pid))


def _not_cpython(minor: int | str | None) -> str | None:
    if type(minor) is str:
        return minor
    if minor is not None and minor < 8:
        return "runs a Python older than 3.8, which has no audit hooks"
    return None


def python_minor(pid: int) -> int | str | None:
    """The minor version of ``pid``'s Python 3 (None: a Python of no known version);
    a sentence where it is no Python or can't be looked at."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text(errors="replace")
        executable = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return "cannot be inspected (is it still running?)"
    versions = {int(m) for m in _LIBPYTHON.findall(maps)}
    named = re.fullmatch(r"python3?(?:\.(\d+))?", executable)
    if named and named.group(1):
        versions.add(int(named.group(1)))
    if not versions and not named:
        return f"is not a Python process ({executable})"
    return max(versions) if versions else None


def asks_itself(minor: int | str | None) -> bool:
    """Whether a Python of ``minor`` (python_minor's) may run ``sys.remote_exec``'s
    script: a 3.14+, or of no known version (its interpreter then says)."""
    return minor is None or (type(minor) is int and minor >= 14)


def python_processes(exclude: set[int]) -> list[psutil.Process]:
    """This user's other CPython 3.8+ processes, for ``auditmon ls --all``: those an
    attach would bring the agent into (``exclude``: the PIDs listed already)."""
    found = []
    for process in psutil.process_iter(["pid", "uids"]):
        try:
            if process.pid in exclude or process.pid == os.getpid():
                continue
            if process.info["uids"] is None or process.info["uids"].real != os.getuid():
                continue
        except psutil.Error:
            continue
        if not_cpython(process.pid) is None and not _is_auditmon(process):
            found.append(process)
    return found


def _is_auditmon(process: psutil.Process) -> bool:
    """auditmon's own processes (the agent's is_auditmon_itself rule)."""
    try:
        argv = process.cmdline()
    except psutil.Error:
        return False
    if argv and os.path.basename(argv[0]) == _agent.AUDITMON_COMMAND:
        return True
    return any(
        a == "-m" and b.split(".")[0] == _agent.AUDITMON_COMMAND for a, b in zip(argv, argv[1:])
    )


def _ptrace_scope() -> int:
    try:
        return int(_PTRACE_SCOPE.read_text().strip())
    except (OSError, ValueError):
        return 0


def _has_cap_sys_ptrace() -> bool:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) & (1 << 19))
    except (OSError, ValueError):
        pass
    return False


def inject(pid: int, settings: dict[str, str], patience: float = 10.0) -> str:
    """Start the agent in ``pid`` with ``settings`` (attach mode); its one-line outcome
    (``ok: …``), and the way in.  Raise AttachError where it could not be done; the
    process is then left as it was."""
    itself = check_injectable(pid)
    settings = {**settings, MODE: _agent.MODE_ATTACH}
    settings.setdefault(_agent.ENV_RUNTIME_DIR, str(runtime_dir()))
    settings.setdefault(_agent.ENV_LONE, "1")  # calls it where a listener would be seen
    with tempfile.TemporaryDirectory(prefix="auditmon-inject-") as scratch:
        outcome = Path(scratch) / "outcome"
        os.chmod(scratch, 0o700)
        way = _ask_itself(pid, settings, Path(scratch), outcome) if itself else None
        if way is None:
            try:
                way = use_debugger(pid, settings, outcome, patience)
            except DebuggerError as error:
                raise AttachError(
                    f"could not bring the agent into process {pid}: {error}"
                ) from None
        deadline = time.monotonic() + patience
        while not outcome.exists():
            if time.monotonic() > deadline:
                raise AttachError(
                    f"process {pid} did not let the agent start within {patience:g} s "
                    "(its main thread holds the GIL in a long call?); it was left as it was"
                )
            if not psutil.pid_exists(pid):
                raise AttachError(f"process {pid} ended while the agent was starting")
            time.sleep(0.02)
        text = outcome.read_text(errors="replace").strip()
    if not text.startswith("ok"):
        raise AttachError(f"the agent did not start in process {pid}: {text}")
    return f"{text}, by {way}"


def _ask_itself(pid: int, settings: dict[str, str], scratch: Path, outcome: Path) -> str | None:
    """``sys.remote_exec``'s way, where the process has it: "sys.remote_exec" once its
    main thread has taken it; None where a debugger is to do it."""
    directory = Path(settings[_agent.ENV_RUNTIME_DIR])
    try:
        pending = remote_exec.hand_over(pid, directory, scratch, settings, outcome, agent_dir())
    except remote_exec.RemoteDisabled:
        raise AttachError(
            f"process {pid} turned remote debugging off (PYTHON_DISABLE_REMOTE_DEBUG or "
            "-X disable-remote-debug): start it without, or under `auditmon run`"
        ) from None
    if type(pending) is str:
        if pending == "unsupported" or debugger_missing() is None:
            return None
        raise AttachError(f"process {pid} could not be asked to start the agent: {pending}")
    if remote_exec.wait_until_taken(pending):
        return "sys.remote_exec"
    why = debugger_missing()
    if why is not None:
        remedy = f"install {GDB_REMEDY}, which reaches it" if debugger() is None else why
        raise AttachError(
            f"process {pid}'s main thread did not run Python within {remote_exec.REACH:g} s "
            "(asleep, or blocked in a call?), and it was left as it was: attach again while "
            f"it runs, or {remedy}"
        )
    return None
