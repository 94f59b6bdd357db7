"""Run inside lldb (``lldb --batch -p PID -o 'command script import lldb_inject.py'``),
never imported by auditmon: gdb_inject.py's work where there is no gdb.

lldb does not let a script write ``orig_rax``, which a thread interrupted in a system
call needs put back for the call to go on as if nothing happened: so lldb borrows a
thread only at the entry of an allocator or of PyErr_CheckSignals (injection_steps's
ENTRY_POINTS), never one blocked in a system call; a process whose threads all sleep
there gets no safe point (the monitor says gdb would reach it).  At the entry it dlopens
the injection library and calls ``auditmon_inject``, as gdb_inject.py does.  Other
signals reach the process as they would have; SIGURG, which the timer sends to end the
wait, is kept from it.  Inputs and the outcome: injection_steps.py's.
"""

import os
import signal
import sys
import time

import lldb  # type: ignore[import-not-found]  # lldb's own module

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from injection_steps import ENTRY_POINTS, Caller, inject, say, wake_at  # noqa: E402


class LldbCaller(Caller):
    """injection_steps.Caller through lldb, on ``thread``."""

    # The general registers a call changes, restored after it (gdb_inject.py's, less
    # orig_rax, which lldb does not show).
    SAVED = "rax rbx rcx rdx rsi rdi rbp rsp r8 r9 r10 r11 r12 r13 r14 r15 rip rflags".split()

    def __init__(self, process, thread):
        self.process, self.thread = process, thread
        self.save()
        # The fault of a call's return to 0 is ours, never the process's.
        signals = process.GetUnixSignals()
        signals.SetShouldStop(signal.SIGSEGV, True)
        signals.SetShouldSuppress(signal.SIGSEGV, True)

    def register(self, name):
        return self.thread.GetFrameAtIndex(0).FindRegister(name).GetValueAsUnsigned()

    def set_register(self, name, value):
        error = lldb.SBError()
        value &= 0xFFFFFFFFFFFFFFFF
        self.thread.GetFrameAtIndex(0).FindRegister(name).SetValueFromCString(str(value), error)
        if error.Fail():
            raise RuntimeError(f"cannot set {name}: {error.GetCString()}")

    def write(self, address, data):
        error = lldb.SBError()
        self.process.WriteMemory(address, data, error)
        if error.Fail():
            raise RuntimeError(f"cannot write the process's memory: {error.GetCString()}")

    def resume(self):
        self.process.SetSelectedThread(self.thread)
        self.process.Continue()
        return self.process.GetState() == lldb.eStateStopped


def address_finder(target):
    def address_of(name):
        found = target.FindFunctions(name)
        for i in range(found.GetSize()):
            symbol = found.GetContextAtIndex(i).GetSymbol()
            address = symbol.GetStartAddress().GetLoadAddress(target)
            if symbol.IsValid() and address not in (0, lldb.LLDB_INVALID_ADDRESS):
                return address
        return 0

    return address_of


def wait_for_an_entry(target, process, patience):
    """Breakpoints at the entry points, and continue until one is hit (its thread) or
    the patience is over (False); None where the process ended."""
    points = [target.BreakpointCreateByName(name) for name in ENTRY_POINTS]
    pid = process.GetProcessID()
    deadline = time.monotonic() + patience
    hit = []
    wake_at(deadline, pid, hit)
    try:
        while time.monotonic() < deadline:
            process.Continue()
            if process.GetState() != lldb.eStateStopped:
                return None
            for thread in process:
                if thread.GetStopReason() == lldb.eStopReasonBreakpoint:
                    hit.append(thread)
                    return thread
        return False
    finally:
        hit.append(None)
        for point in points:
            target.BreakpointDelete(point.GetID())


def main(debugger):
    debugger.SetAsync(False)
    target = debugger.GetSelectedTarget()
    process = target.GetProcess()
    if not process.IsValid() or process.GetState() != lldb.eStateStopped:
        say("error", "lldb could not attach")
        return
    signals = process.GetUnixSignals()
    for index in range(signals.GetNumSignals()):
        number = signals.GetSignalAtIndex(index)
        if number in (signal.SIGSTOP, signal.SIGTRAP):  # lldb's own: left to it
            continue
        kept = number in (signal.SIGURG, signal.SIGINT)
        signals.SetShouldStop(number, kept)
        signals.SetShouldNotify(number, kept)
        signals.SetShouldSuppress(number, kept)
    if "x86_64" not in target.GetTriple():
        say("error", f"lldb's way in is for x86-64 only, not {target.GetTriple()}")
        return
    address_of = address_finder(target)
    if not address_of("PyGILState_Ensure"):
        say("error", "not a CPython: it has no PyGILState_Ensure")
        return
    patience = float(os.environ["AUDITMON_INJECT_PATIENCE"])
    thread = wait_for_an_entry(target, process, patience)
    if thread is None:
        say("exited")
    elif thread:
        inject(LldbCaller(process, thread), address_of)
    else:
        say("timeout", f"no safe point came within {patience:g} s")


def __lldb_init_module(debugger, _names):
    process = None
    try:
        process = debugger.GetSelectedTarget().GetProcess()
        main(debugger)
    except Exception as error:  # one line for the monitor, whatever went wrong here
        say("error", f"{type(error).__name__}: {error}")
    finally:
        if process is not None and process.IsValid() and process.GetState() == lldb.eStateStopped:
            process.Detach()
