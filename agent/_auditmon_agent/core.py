"""The audit hook and the per-process state it feeds.

The hook runs inside the target on every audit event, so it does the least it can: one
dict look-up for the cached filter decision, a sequence number, a bounds check, a
summary of the arguments and one ``deque.append``.  A writer thread (``transport``)
drains the queue; the hook never waits for it.  When the queue is full the event is
counted as dropped (the count travels in-band).  Nothing here may raise into the target.
"""

import _thread
import atexit
import itertools
import os
import sys
import time
from collections import deque

from . import transport
from .summarize import Summarizer

RECORD = 1  # send the event
STACK = 2  # capture its Python stack
FLUSH = 4  # flush synchronously right after it (the process is about to vanish)

# Events after which the process image is gone: exec replaces it, and the interpreter
# teardown events are the last a hook can see (where module state still works; on
# CPython 3.11 it no longer does there, and atexit is the last flush).
FLUSH_EVENTS = (
    "os.exec",
    "cpython.PyInterpreterState_Clear",
    "cpython._PySys_ClearAuditHooks",
)

_get_ident = _thread.get_ident
_time = time.time

_queue = deque()
_cap = 0
_seq_counter = itertools.count(1)
_next_seq = _seq_counter.__next__
_drop_counter = itertools.count(1)
_next_drop = _drop_counter.__next__
_quiet = set()  # threads whose events are the agent's own
_decisions = {}  # event name -> RECORD|STACK|FLUSH bits, or 0 to ignore
_decide = None
_summarize = None
_config = None
_writer = None
_pid = 0
_start_time = 0.0
_installed = False
_MAX_DECISIONS = 10000


def _hook(event, args):
    tid = _get_ident()
    if tid in _quiet:
        return
    try:
        how = _decisions.get(event)
        if how is None:
            how = _decide(event)
        if not how:
            return
        seq = _next_seq()
        if len(_queue) >= _cap:
            _next_drop()
            return
        _queue.append(
            (seq, _time(), tid, event, _summarize(args), _stack(tid) if how & STACK else None)
        )
        if how & FLUSH:
            _flush_now(tid, event)
    except Exception:
        try:
            _next_drop()
        except Exception:
            pass


def _stack(tid):
    """The caller's frames (file, line, function), innermost first, without recursing."""
    _quiet.add(tid)
    try:
        frame = sys._getframe(2)
        depth = _config.stack_depth
        frames = []
        while frame is not None and len(frames) < depth:
            code = frame.f_code
            frames.append((code.co_filename, frame.f_lineno, code.co_name))
            frame = frame.f_back
        return frames
    except Exception:
        return None
    finally:
        _quiet.discard(tid)


def _make_decider(config):
    """A function event name -> decision bits, memoised in ``_decisions``."""
    from fnmatch import fnmatchcase

    events, exclude, stack = config.events, config.exclude, config.stack

    def decide(event):
        how = 0
        if (not events or any(fnmatchcase(event, g) for g in events)) and not any(
            fnmatchcase(event, g) for g in exclude
        ):
            how = RECORD
            if stack and any(fnmatchcase(event, g) for g in stack):
                how |= STACK
            if event in FLUSH_EVENTS:
                how |= FLUSH
        if len(_decisions) < _MAX_DECISIONS:
            _decisions[event] = how
        return how

    return decide


def counted():
    """How many events this process has numbered so far (sent or dropped)."""
    return _peek(_seq_counter)


def dropped():
    """How many events were dropped so far."""
    return _peek(_drop_counter)


def _peek(counter):
    # repr is "count(N)": N is the next value, so N - 1 have been handed out.
    text = repr(counter)
    return int(text[text.index("(") + 1 : -1]) - 1


def queue():
    return _queue


def quiet():
    return _quiet


def identity():
    """This process's hello fields."""
    argv = list(getattr(sys, "orig_argv", None) or sys.argv or [])
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = None
    return {
        "pid": _pid,
        "ppid": os.getppid(),
        "argv": [a if type(a) is str else str(a) for a in argv],
        "executable": sys.executable or "",
        "cwd": cwd,
        "python": "%s %d.%d.%d" % ((sys.implementation.name,) + tuple(sys.version_info[:3])),
        "start": _start_time,
        "agent": "python",
    }


def start(config):
    """Install the hook and start the writer; called once, from sitecustomize."""
    global _config, _summarize, _decide, _cap, _pid, _start_time, _installed
    if _installed:
        return
    _config = config
    _summarize = Summarizer(strlen=config.strlen).args
    _decide = _make_decider(config)
    _cap = config.queue_size
    _pid = os.getpid()
    _start_time = time.time()
    _start_writer()
    atexit.register(_at_exit)
    os.register_at_fork(after_in_child=_after_fork_in_child)
    sys.addaudithook(_hook)
    _installed = True


def _start_writer():
    global _writer
    tid = _get_ident()
    _quiet.add(tid)  # starting a thread raises events: they are ours
    try:
        writer_class = transport.AttachWriter if _config.mode == "attach" else transport.RunWriter
        _writer = writer_class(sys.modules[__name__], _config)
        _writer.start()
    finally:
        _quiet.discard(tid)


def _after_fork_in_child():
    """A forked child is a new process: new identity, empty queue, its own connection."""
    global _seq_counter, _next_seq, _drop_counter, _next_drop, _pid, _start_time, _quiet
    if not _installed:
        return
    try:
        _queue.clear()
        _seq_counter = itertools.count(1)
        _next_seq = _seq_counter.__next__
        _drop_counter = itertools.count(1)
        _next_drop = _drop_counter.__next__
        _quiet = set()
        _pid = os.getpid()
        _start_time = time.time()
        if _writer is not None:
            _writer.forget_after_fork()
        _start_writer()
        # multiprocessing's fork children end with os._exit() after threading's
        # shutdown, never running atexit: flush there too.
        threading = sys.modules.get("threading")
        register = getattr(threading, "_register_atexit", None)
        if register is not None:
            register(_at_exit)
    except Exception:
        _debug("fork")
        disable()


def _at_exit():
    """Normal exit (or multiprocessing's child shutdown): flush all, say goodbye."""
    tid = _get_ident()
    _quiet.add(tid)
    try:
        if _writer is not None and _writer.pid == _pid:
            _writer.stop()
    except Exception:
        _debug("exit")
    finally:
        _quiet.discard(tid)


def _flush_now(tid, event):
    """Send what is queued before exec or interpreter teardown takes the writer away."""
    _quiet.add(tid)
    try:
        if _writer is not None and _writer.pid == _pid:
            _writer.flush_from_caller(final=event != "os.exec")
    except Exception:
        _debug("flush")
    finally:
        _quiet.discard(tid)


def disable():
    """Stop recording for good in this process (auditmon's own processes call this)."""
    global _decide, _cap
    _decide = _never
    _decisions.clear()
    _cap = 0
    if _writer is not None:
        _writer.abandon()


def _never(event):
    return 0


def _debug(where):
    if _config is not None and _config.debug:
        import traceback

        sys.stderr.write("auditmon agent: error in %s\n" % where)
        traceback.print_exc()
