"""The audit hook and the per-process state it feeds.

The hook runs inside the target on every audit event, so it does the least it can: one
dict look-up for the cached filter decision, a sequence number, a bounds check, a
summary of the arguments and one ``deque.append``.  A writer thread (``transport``)
drains the queue; the hook never waits for it.  When the queue is full the event is
counted as dropped (the count travels in-band).  Nothing here may raise into the target.

Where the C extension ``_auditmon_native`` was built for this interpreter, it is the
hook instead: the same decisions, numbering and summaries, encoded straight into a
buffer (the bytes on the wire are the same); in run mode it also holds the connection
and sends from a thread of its own.  ``AUDITMON_AGENT=python`` forces the Python hook.

Start-up is paid by every process, so what only one path needs is imported by that
path.  Plain run mode with the C hook starts in the extension without this module,
which ``adopt``s that agent when one of its helpers is first needed; the native paths
load neither ``transport`` nor ``wire`` nor ``_socket``.
"""

import _thread
import atexit
import os
import sys
import time

from . import config as _settings
from .constants import (
    BYTES_PER_EVENT,
    FLUSH,
    FLUSH_EVENTS,
    HOOK_ADDED,
    MAX_DECISIONS,
    PRELOAD,
    RECORD,
    STACK,
    SUMMARY_BUDGET,
    SUMMARY_DEPTH,
    SUMMARY_WIDTH,
    WIRE_HELLO,
    WIRE_VERSION,
)

_get_ident = _thread.get_ident
_time = time.time

_cap = 0
# The Python hook's queue and counters (the native hook keeps its own).
_queue = _seq_counter = _next_seq = _drop_counter = _next_drop = None
_starmap = _repeat = None


def _new_python_state():
    global _queue, _seq_counter, _next_seq, _drop_counter, _next_drop, _starmap, _repeat
    import itertools
    from _collections import deque

    _starmap, _repeat = itertools.starmap, itertools.repeat  # for take()

    _queue = deque()
    _seq_counter = itertools.count(1)
    _next_seq = _seq_counter.__next__
    _drop_counter = itertools.count(1)
    _next_drop = _drop_counter.__next__


# Threads whose events are the agent's own: a plain set, which the hook tests on every
# event (a subclass is slower to test); ``hush`` and ``unhush`` mirror it into the C hook.
_quiet = set()
_decisions = {}  # event name -> RECORD|STACK|FLUSH bits, or 0 to ignore
_decide = None
_summarizer = None
# The summariser's plain-value limits, as module globals for the hook's inlined check:
# a global costs it less than ``_config.strlen`` or ``_settings.INT64_MIN``.
_strlen = 0
_INT64_MIN = _settings.INT64_MIN
_UINT64_MAX = _settings.UINT64_MAX
_config = None
_writer = None
_pid = 0
_start_time = 0.0
_installed = False
_native = None  # the C hook, when in use
# Events per batch: four times what the Python hook can queue in a switch interval, so
# that a writer that waits for the GIL more than once a turn still keeps up, and at most
# about 8 ms of msgpack encoding with the GIL held (16 384 dropped twice as many).
_BATCH = 32768
_pack = None


def _hook(event, args):
    try:  # all of it: at teardown this module's globals are None, and nothing may escape
        tid = _get_ident()
        if tid in _quiet:
            return
        try:
            how = _decisions[event]  # a subscript costs less than dict.get
        except KeyError:
            how = None
        if how == RECORD:  # the usual case, kept to the fewest steps
            seq = _next_seq()
            if len(_queue) >= _cap:
                _next_drop()
                return
            summary = args  # plain values only are kept as they are: Summarizer.args'
            for value in args:  # check, inlined, as a call costs more than it
                t = type(value)
                if t is str:
                    if len(value) <= _strlen:
                        continue
                elif t is int:
                    if _INT64_MIN <= value <= _UINT64_MAX:
                        continue
                elif value is None or t is bool or t is float:
                    continue
                summary = _summarizer.copy_args(args)
                break
            _queue.append((seq, _time(), tid, event, summary, None))
            return
        _hook_special(event, args, tid, how)
    except Exception:
        try:
            _next_drop()
        except Exception:
            pass


def _hook_special(event, args, tid, how):
    """The hook for an event not yet decided, ignored, or wanting more than recording."""
    if how is None:
        how = _decide(event)
    if how & PRELOAD:
        _preload(tid)
    if not how & RECORD:
        return
    seq = _next_seq()
    if len(_queue) >= _cap:
        _next_drop()
        return
    stack = _stack(tid, 3) if how & STACK else None
    _queue.append((seq, _time(), tid, event, _summarizer.args(args), stack))
    if how & FLUSH:
        _flush_now(tid, event)


def _stack(tid, skip=2):
    """The caller's frames (file, line, function), innermost first, without recursing.

    Frame 0 is this function, 1 the hook (or ``_native_stack``), 2 the event's raiser
    (``skip`` frames up: 3 from ``_hook_special``).
    """
    hush(tid)
    try:
        frame = sys._getframe(skip)
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
        unhush(tid)


def _native_stack(tid):
    return _stack(tid)


def _decide_now(event):
    """The native hook's way to the current decider (``disable`` swaps it)."""
    return _decide(event)


def _make_decider(config):
    """A function event name -> decision bits, memoised in ``_decisions``."""
    events, exclude, stack = config.events, config.exclude, config.stack

    def decide(event):
        how = RECORD | (FLUSH if event in FLUSH_EVENTS else 0)
        if event == HOOK_ADDED:
            how |= PRELOAD
        if len(_decisions) < MAX_DECISIONS:
            _decisions[event] = how
        return how

    if not (events or exclude or stack):
        return decide  # no globs: no fnmatch (and no re) to import at start-up

    from fnmatch import fnmatchcase

    def decide_with_globs(event):
        how = 0
        if (not events or any(fnmatchcase(event, g) for g in events)) and not any(
            fnmatchcase(event, g) for g in exclude
        ):
            how = RECORD
            if stack and any(fnmatchcase(event, g) for g in stack):
                how |= STACK
            if event in FLUSH_EVENTS:
                how |= FLUSH
        if event == HOOK_ADDED:
            how |= PRELOAD
        if len(_decisions) < MAX_DECISIONS:
            _decisions[event] = how
        return how

    return decide_with_globs


def counted():
    """How many events this process has numbered so far (sent or dropped)."""
    if _native is not None:
        return _native.counted()
    return _peek(_seq_counter)


def dropped():
    """How many events were dropped so far."""
    if _native is not None:
        return _native.dropped()
    return _peek(_drop_counter)


def _peek(counter):
    # repr is "count(N)": N is the next value, so N - 1 have been handed out.
    text = repr(counter)
    return int(text[text.index("(") + 1 : -1]) - 1


def take(first_seq=True):
    """The queued events, encoded: ``(count, first_seq, bytes)``.

    The bytes are the msgpack of each event ``[seq, time, thread, name, args, stack]``
    one after another: a batch message is an array header and these.  Only attach mode's
    ring needs ``first_seq``: asked not to, the Python hook's queue spares a comparison
    per event and gives 0 (the native hook keeps it anyway, at no cost).
    """
    if _native is not None:
        return _native.take()
    # Under a target that keeps the GIL busy the writer gets it back once per switch
    # interval (5 ms): a batch must hold what the hook queues meanwhile (2 048 dropped
    # three events in four of a tight loop), yet bound how long encoding it holds the
    # GIL (see _BATCH).  starmap calls popleft in C.
    popleft = _queue.popleft
    events = list(_starmap(popleft, _repeat((), min(len(_queue), _BATCH))))
    if not events:
        return 0, 0, b""
    data = _python_pack()(events)
    # seqs are unique, so the smallest event is the one with the first seq
    first = min(events)[0] if first_seq else 0
    return len(events), first, data[_array_header_size(len(events)) :]


def native():
    """The C hook in use, or None."""
    return _native


def pending():
    """Events waiting to be taken."""
    return _native.pending() if _native is not None else len(_queue)


def _array_header_size(n):
    return 1 if n < 16 else 3 if n < 0x10000 else 5


def hush(tid):
    """Make a thread's events the agent's own, in the native hook too."""
    _quiet.add(tid)
    if _native is not None:
        _native.quiet_add(tid)


def unhush(tid):
    """Undo ``hush``."""
    _quiet.discard(tid)
    if _native is not None:
        _native.quiet_discard(tid)


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
        "agent": "native" if _native is not None else "python",
    }


def start(config):
    """Install the hook and start the writer; called once, from sitecustomize."""
    global _installed, _native
    if _installed:
        return
    _settle(config, time.time())
    if config.native:
        _native = _load_native(config)
    if _native is None:
        _python_hook_state(config)
    _start_writer()
    atexit.register(_at_exit)
    os.register_at_fork(after_in_child=_after_fork_in_child)
    if _native is None or not _native.install():
        sys.addaudithook(_native if _native is not None else _hook)
    _installed = True


def _python_hook_state(config):
    """What the Python hook needs beyond ``_settle``: its summariser and an empty queue."""
    global _summarizer, _strlen
    from .summarize import Summarizer

    _summarizer = Summarizer(strlen=config.strlen)
    _strlen = config.strlen
    _new_python_state()


def _settle(config, start_time):
    """The state both ways in set up: the settings, the decider and this identity."""
    global _config, _decide, _cap, _pid, _start_time
    _config = config
    _decide = _make_decider(config)
    for event in FLUSH_EVENTS:  # decided now: at teardown no Python may run to decide them
        _decide(event)
    _cap = config.queue_size
    _pid = os.getpid()
    _start_time = start_time


def _load_native(config):
    try:
        import _auditmon_native as native
    except ImportError:
        return None
    return make_native_agent(
        native,
        _DeferredSummarizer(config.strlen),
        _decisions,
        _decide_now,
        _native_stack,
        _flush_now,
        config.queue_size * BYTES_PER_EVENT,
    )


class _DeferredSummarizer(object):
    """The summariser's limits at once, the summariser itself only when the native hook
    first hands it a value (most processes never do): start-up does not import it."""

    def __init__(self, strlen):
        self.strlen = strlen
        self.depth = SUMMARY_DEPTH
        self.width = SUMMARY_WIDTH
        self.budget = SUMMARY_BUDGET
        self.loaded = None

    def value(self, value, level, budget):
        if self.loaded is None:
            self.loaded = _summarize_module().Summarizer(
                self.strlen, self.depth, self.width, self.budget
            )
        return self.loaded.value(value, level, budget)


def _own_import(name):
    """A module the agent loads when it first needs it, from wherever it is (the hook
    included): the events its import raises are the agent's own, so the thread is quiet
    meanwhile (and stays quiet if it already was)."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    tid = _get_ident()
    was_quiet = tid in _quiet
    hush(tid)
    try:
        __import__(name)
        return sys.modules[name]
    finally:
        if not was_quiet:
            unhush(tid)


def _summarize_module():
    return _own_import(__package__ + ".summarize")


def _wire_types():
    """The protocol's value classes, for the native encoder when it first meets one."""
    wire = _own_import(__package__ + ".wire")
    return wire.Cut, wire.Described, wire.BigInt


def _python_pack():
    """The Python writer's encoder (msgpack's, if importable): made on first use."""
    global _pack
    if _pack is None:
        _pack = _own_import(__package__ + ".wire").make_events_packer()
    return _pack


def _preload(tid):
    """Import everything the agent would otherwise import later, on first need: an audit
    hook the target is adding would see those imports' events; it is not added yet."""
    hush(tid)
    try:
        _summarize_module()  # the native hook's fallback (it imports wire too)
        if _native is None:
            _python_pack()
        if _config is not None and _config.mode == "attach":
            _own_import("select")  # the attach writer's
    except Exception:
        _debug("preload")
    finally:
        unhush(tid)


def adopt(agent, start_time):
    """Take over the C hook that run mode started without this module (``start_run`` in
    ``_auditmon_native``): the state ``start`` would have left, and this module's helpers
    for the agent from now on.  The extension installed the hook and its own exit and
    fork handlers (which call this module's once it has adopted).  Without globs the
    extension keeps deciding by itself: a decision then never needs this module, whose
    globals the interpreter's teardown may already have cleared."""
    global _native, _writer, _installed
    if _installed:
        return
    _settle(_settings.Config(), start_time)
    _native = agent
    _writer = _NativeLink(_config)
    summarizer = _DeferredSummarizer(_config.strlen)
    extension = sys.modules.get("_auditmon_native")
    plain = extension is not None and not (_config.events or _config.exclude or _config.stack)
    agent.set_helpers(
        decisions=_decisions,
        decide=extension.decide if plain else _decide_now,
        fallback=summarizer.value,
        stack=_native_stack,
        flush=_flush_now,
        preload=_preload,
        wire_types=_wire_types,
    )
    _installed = True


def make_native_agent(
    native, summarizer, decisions, decide, stack, flush, limit, fallback=None, preload=None
):
    """The C hook, with the Python summariser's limits and fallbacks."""
    return native.Agent(
        decisions=decisions,
        decide=decide,
        fallback=fallback or summarizer.value,
        stack=stack,
        flush=flush,
        preload=preload or _preload,
        wire_types=_wire_types,
        type_module=type.__dict__["__module__"].__get__,
        type_qualname=type.__dict__["__qualname__"].__get__,
        limit=limit,
        strlen=summarizer.strlen,
        depth=summarizer.depth,
        width=summarizer.width,
        budget=summarizer.budget,
    )


class _NativeLink(object):
    """Run mode with the C hook: the extension connects, sends (the first events from the
    hook, then from a thread of its own that never takes the GIL) and flushes at exit;
    this supplies the hello."""

    def __init__(self, config):
        self.config = config
        self.pid = _pid

    def start(self):
        fields = identity()
        fields["v"] = WIRE_VERSION
        fields["mode"] = self.config.mode
        fields["events"] = _native.counted()
        hello = _native.pack([WIRE_HELLO, fields])
        config = self.config
        _native.connect(config.socket_path, hello, config.interval, config.flush_timeout)

    def stop(self):
        _native.finish(False)

    def flush_from_caller(self, final):
        _native.finish(final)

    def abandon(self):
        _native.abandon()

    def forget_after_fork(self):
        pass  # the extension's own fork handler closed the parent's connection


def _start_writer():
    global _writer
    tid = _get_ident()
    hush(tid)  # connecting and starting a thread raise events: they are ours
    try:
        if _config.mode == "run" and _native is not None:
            _writer = _NativeLink(_config)
        else:
            if _config.mode == "attach":
                from .attach import AttachWriter as writer_class
            else:
                from .transport import RunWriter as writer_class
            _writer = writer_class(sys.modules[__name__], _config)
        _writer.start()
    finally:
        unhush(tid)


def _after_fork_in_child():
    """A forked child is a new process: new identity, empty queue, its own connection."""
    global _pid, _start_time, _quiet
    if not _installed:
        return
    try:
        if _native is not None:
            _native.reset()
        else:
            _new_python_state()
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
    hush(tid)
    try:
        if _writer is not None and _writer.pid == _pid:
            _writer.stop()
    except Exception:
        _debug("exit")
    finally:
        unhush(tid)


def _flush_now(tid, event):
    """Send what is queued before exec or interpreter teardown takes the writer away."""
    hush(tid)
    try:
        if _writer is not None and _writer.pid == _pid:
            _writer.flush_from_caller(final=event != "os.exec")
    except Exception:
        _debug("flush")
    finally:
        unhush(tid)


def disable():
    """Stop recording for good in this process (auditmon's own processes call this)."""
    global _decide, _cap
    _decide = _never
    _decisions.clear()
    _cap = 0
    if _native is not None:
        _native.set_limit(0)
        _native.forget()
    if _writer is not None:
        _writer.abandon()


def _never(event):
    return 0


def _debug(where):
    if _config is not None and _config.debug:
        import traceback

        sys.stderr.write("auditmon agent: error in %s\n" % where)
        traceback.print_exc()
