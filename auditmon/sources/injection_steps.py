"""What gdb_inject.py and lldb_inject.py share, run inside the debugger's own Python
(each puts this directory on its path): where a stopped thread may be borrowed, and the
calls that load the injection library and start its thread.  No debugger's API here: a
script hands ``inject`` its way of calling a function of the stopped thread.

Inputs come in the environment (``AUDITMON_INJECT_*``); the outcome is one line on
stdout, ``AUDITMON-INJECT: injected|timeout|exited|error <why>``.
"""

import os
import signal
import threading
import time

# Functions at whose entry no lock of the C library or of Python is held by the thread:
# where a debugger waits with breakpoints when no thread is blocked at a safe place.
ENTRY_POINTS = (
    "PyErr_CheckSignals",
    "PyMem_Malloc",
    "PyMem_Calloc",
    "PyMem_Realloc",
    "PyMem_Free",
    "malloc",
    "calloc",
    "realloc",
    "free",
)
# x86-64: the registers that pass a call's first six arguments.
ARGUMENTS = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")


def say(state, why=""):
    print(f"AUDITMON-INJECT: {state} {why}", flush=True)


def inject(caller, address_of):
    """dlopen the library and call auditmon_inject on the stopped thread, through
    ``caller`` (``text(str)`` puts a C string in the thread's memory and gives its
    address, ``call(address, *arguments)`` calls a function and gives what it returned,
    ``restore()`` puts every register back); ``address_of(name)``: a function's address,
    0 where there is none."""
    dlopen = address_of("dlopen") or address_of("__libc_dlopen_mode")
    dlsym = address_of("dlsym") or address_of("__libc_dlsym")
    if not dlopen or not dlsym:
        say("error", "the process has no dlopen to load the injection library with")
        return
    try:
        handle = caller.call(dlopen, caller.text(os.environ["AUDITMON_INJECT_LIBRARY"]), 2)
        if handle == 0:
            say("error", "the injection library could not be loaded into the process")
            return
        entry = caller.call(dlsym, handle, caller.text("auditmon_inject"))
        if entry == 0:
            say("error", "the injection library has no auditmon_inject")
            return
        started = caller.call(
            entry,
            caller.text(os.environ["AUDITMON_INJECT_AGENT_DIR"]),
            caller.text(os.environ["AUDITMON_INJECT_SETTINGS"]),
            caller.text(os.environ["AUDITMON_INJECT_OUTCOME"]),
            int(float(os.environ["AUDITMON_INJECT_PATIENCE"]) * 1000),
        )
        if started & 0xFFFFFFFF != 0:
            say("error", "the injection thread could not be started")
            return
        say("injected")
    finally:
        caller.restore()


class Caller:
    """Calls functions of a stopped thread by hand: the arguments in registers, text
    below its stack (past the red zone), a return address of 0, continue until the
    fault at 0; then every register back as it was.  A debugger's script subclasses it
    with ``register``, ``set_register``, ``write(address, data)`` and ``resume()``
    (False where the process ended), then calls ``save``."""

    SAVED = ()  # the general registers a call changes, restored after it
    BEFORE_CALL = {}  # registers set for each call besides its arguments

    def save(self):
        self.saved = {name: self.register(name) for name in self.SAVED}
        self.top = (self.saved["rsp"] - 1024) & ~15  # below the red zone and then some

    def text(self, value):
        data = value.encode("utf-8", "surrogateescape") + b"\0"
        self.top = (self.top - len(data)) & ~15
        self.write(self.top, data)
        return self.top

    def call(self, address, *arguments):
        frame = ((self.top - 64) & ~15) - 8  # as right after a call: rsp % 16 == 8
        self.write(frame, b"\0" * 8)  # the return address: 0
        self.set_register("rsp", frame)
        for name, value in zip(ARGUMENTS, arguments):
            self.set_register(name, value)
        for name, value in self.BEFORE_CALL.items():
            self.set_register(name, value)
        self.set_register("rax", 0)
        self.set_register("rip", address)
        if not self.resume():
            raise RuntimeError("the process ended during the call")
        if self.register("rip") != 0:
            raise RuntimeError("the call stopped before it returned")
        return self.register("rax")

    def restore(self):
        for name in self.SAVED:
            self.set_register(name, self.saved[name])


def wake_at(deadline, pid, hit):
    """At ``deadline`` (time.monotonic), unless ``hit`` has something in it by then, send
    SIGURG to ``pid``: the stop that ends a debugger's wait for a breakpoint (the
    debugger keeps the signal from the process)."""

    def wake():
        while time.monotonic() < deadline and not hit:
            time.sleep(0.05)
        if not hit:
            try:
                os.kill(pid, signal.SIGURG)
            except OSError:
                pass

    threading.Thread(target=wake, daemon=True).start()
