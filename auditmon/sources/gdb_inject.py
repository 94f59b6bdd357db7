"""Run inside gdb (``gdb -p PID -batch -x gdb_inject.py``), never imported by auditmon:
bring auditmon's agent into the process gdb attached to, at a safe point, and leave.

A safe point is a thread that holds no lock the injection needs: one blocked in a
system call that takes none (sleep, select, poll, epoll, read, accept, wait; x86-64),
else the entry of an allocator or of PyErr_CheckSignals, where gdb waits with
breakpoints.  There it dlopens the injection library (agent/inject/inject.c) and calls
``auditmon_inject``, which only starts a thread and returns; Python runs on that thread,
never on the interrupted one.  Where no safe point comes within the patience given, the
process is left as it was.  Other signals reach the process as they would have; SIGURG,
which the timer sends to end the wait, is kept from it.

Inputs and the outcome: injection_steps.py's.
"""

import os
import sys
import time

import gdb  # type: ignore[import-not-found]  # gdb's own module

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from injection_steps import ENTRY_POINTS, Caller, inject, say, wake_at  # noqa: E402

# x86-64 system calls a thread can be blocked in while holding no lock of the C library
# or of Python (the GIL is released around each of them): read, poll, select, nanosleep,
# accept, recvfrom, wait4, clock_nanosleep, epoll_wait, pselect6, ppoll, epoll_pwait,
# accept4, epoll_pwait2; and futex where the thread waits for a Python lock, the GIL,
# a condition or another thread (WAITS), not for a lock of the C library.
SAFE_SYSCALLS = {0, 7, 23, 35, 43, 45, 61, 230, 232, 270, 271, 281, 288, 441}
FUTEX = 202
WAITS = ("sem_", "pthread_cond_", "pthread_join", "PyThread_acquire_lock", "take_gil")
# Frames that may hold a lock the injection takes (the allocator's, the loader's).
UNSAFE_FRAMES = ("__lll_lock_wait", "malloc", "free", "calloc", "realloc", "_dl_", "dlopen")


def evaluate(expression):
    return gdb.parse_and_eval(expression)


def register(name):
    return int(evaluate("$" + name))


def set_register(name, value):
    gdb.execute(f"set ${name} = {value}")


class GdbCaller(Caller):
    """injection_steps.Caller through gdb, on the selected thread."""

    # The general registers a call changes, restored after it.  Only these are written:
    # gdb writes a register set back only where one of its registers changed, and the
    # extended (vector) state is never touched (gdb's own inferior calls write it, which
    # some kernels refuse).  What the callee may clobber beyond them, the vector
    # registers, is dead at a function's entry and across a system call wrapper by the
    # calling convention.
    SAVED = (
        "rax rbx rcx rdx rsi rdi rbp rsp r8 r9 r10 r11 r12 r13 r14 r15 rip eflags orig_rax"
    ).split()
    BEFORE_CALL = {"orig_rax": -1}  # no system call restart on the way

    def __init__(self):
        self.inferior = gdb.selected_inferior()
        self.save()
        # The fault of a call's return to 0 is ours, never the process's: from here on
        # (this thread is let go right after the calls) no SIGSEGV goes through.
        gdb.execute("handle SIGSEGV stop print nopass")

    register = staticmethod(register)
    set_register = staticmethod(set_register)

    def write(self, address, data):
        self.inferior.write_memory(address, data)

    def resume(self):
        gdb.execute("continue")
        return self.inferior.pid != 0


def address_of(name):
    try:
        return int(evaluate(f"(long)&{name}"))
    except gdb.error:
        return 0


def blocked_thread():
    """A thread stopped inside a system call that holds no lock, if there is one."""
    if "x86-64" not in gdb.execute("show architecture", to_string=True):
        return None
    for thread in gdb.selected_inferior().threads():
        thread.switch()
        try:
            number = int(evaluate("$orig_rax"))
            pc = int(evaluate("$pc"))
            before = bytes(gdb.selected_inferior().read_memory(pc - 2, 2))
        except (gdb.error, gdb.MemoryError):
            continue
        if before != b"\x0f\x05" or (number not in SAFE_SYSCALLS and number != FUTEX):
            continue
        names = frame_names()
        if any(part in name for name in names for part in UNSAFE_FRAMES):
            continue
        if number == FUTEX and not any(w in name for name in names for w in WAITS):
            continue
        return thread
    return None


def frame_names(limit=24):
    """The function names of the selected thread's innermost frames."""
    names = []
    try:
        frame = gdb.newest_frame()
        while frame is not None and len(names) < limit:
            names.append(frame.name() or "")
            frame = frame.older()
    except gdb.error:
        pass
    return names


def wait_for_an_entry(patience):
    """Breakpoints at the entry points, and continue until one is hit (True) or the
    patience is over (False)."""
    points = []
    for name in ENTRY_POINTS:
        try:
            points.append(gdb.Breakpoint(name, internal=True))
        except gdb.error:
            continue
    hit = []

    def stopped(event):
        if isinstance(event, gdb.BreakpointEvent):
            hit.append(event)

    gdb.events.stop.connect(stopped)
    pid = gdb.selected_inferior().pid
    deadline = time.monotonic() + patience
    wake_at(deadline, pid, hit)
    try:
        while not hit and time.monotonic() < deadline:
            gdb.execute("continue")
            if gdb.selected_inferior().pid == 0:
                return None
    finally:
        gdb.events.stop.disconnect(stopped)
        for point in points:
            point.delete()
    return bool(hit)


def main():
    gdb.execute("set pagination off")
    gdb.execute("set confirm off")
    gdb.execute("set unwindonsignal on")
    gdb.execute("handle all nostop noprint pass")
    gdb.execute("handle SIGURG stop print nopass")
    gdb.execute("handle SIGINT stop print nopass")
    try:
        evaluate("(void*)PyGILState_Ensure")
    except gdb.error:
        say("error", "not a CPython: it has no PyGILState_Ensure")
        return
    patience = float(os.environ["AUDITMON_INJECT_PATIENCE"])
    thread = blocked_thread()
    if thread is not None:
        thread.switch()
        inject(GdbCaller(), address_of)
        return
    reached = wait_for_an_entry(patience)
    if reached is None:
        say("exited")
    elif reached:
        inject(GdbCaller(), address_of)
    else:
        say("timeout", f"no safe point came within {patience:g} s")


try:
    main()
except Exception as error:  # one line for the monitor, whatever went wrong here
    say("error", f"{type(error).__name__}: {error}")
finally:
    try:
        if gdb.selected_inferior().pid:
            gdb.execute("detach")
    except gdb.error:
        pass
