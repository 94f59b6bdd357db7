"""The pure-Python audit hook, its queue and its counters: the agent's hook where the C
extension is not in use (``AUDITMON_AGENT=python``, or not built for this interpreter).

The hook runs inside the target on every audit event, so it does the least it can: one
dict look-up for the cached filter decision, a sequence number, a bounds check, a
summary of the arguments and one ``deque.append`` (and a thread-local attribute read:
a thread's first event has its thread's name looked up).  In attach mode a writer
thread (``attach``) drains the queue with ``take``; the hook never waits for it.  In
run mode the event is encoded at once into the shared-memory ring (``ring``): by
msgpack (``_packed_ring_hook``), or where it is missing by the hook itself
(``_ring_hook``), each in place of ``_hook``'s code.  When the queue
(or ring) is full the event is counted as dropped.  Nothing here may raise into the
target.
"""

import _thread
import time
from sys import maxsize as _maxsize
from sys import modules as _modules

from .config import INT64_MIN, UINT64_MAX
from .constants import FLUSH, PRELOAD, RECORD, STACK

# Events per batch: four times what the Python hook can queue in a switch interval, so
# that a writer that waits for the GIL more than once a turn still keeps up, and a bound on
# how long msgpack's encoding holds the GIL (half as many dropped more events).
BATCH = 32768

_get_ident = _thread.get_ident
_time = time.time
_FunctionType = type(lambda: None)

# The state the hook's code reads, as globals: each PythonHook runs that code with a
# namespace of its own, a copy of this module's with its own state in place of these
# placeholders, which are never set (they keep the code below readable and checkable).
# A global costs the hook less than a closure's cell or an attribute.
_quiet = _decisions = _queue = _append = _summarizer = _special = _first_of_thread = None
_next_seq = _next_drop = _seen = None
_cap = _strlen = 0
# Run mode's ring (ring.Ring.attach sets them): its data and its header's words, the
# event encoder, the C helper's writer (or None), the bytes written, how far an
# inline write may go and where the head is in the data (ring.py's limits), and the
# write for the other cases.
_ring = _words = _pack = _ring_write = _write_event = None
_head = _offset = _fast_until = 0


def _hook(event, args):
    try:  # all of it: nothing may escape into the target, at teardown either
        tid = _get_ident()
        if tid in _quiet:
            return
        try:
            how = _decisions[event]  # a subscript costs less than dict.get
        except KeyError:
            how = None
        if how == RECORD:  # the usual case, kept to the fewest steps
            seq = _next_seq()
            if _ring is None and len(_queue) >= _cap:  # a ring bounds itself
                _next_drop()
                return
            summary = args  # plain values only are kept as they are: Summarizer.args'
            for value in args:  # check, inlined, as a call costs more than it
                t = type(value)
                if t is str:
                    if len(value) <= _strlen:
                        continue
                elif t is int:
                    if INT64_MIN <= value <= UINT64_MAX:
                        continue
                elif value is None or t is bool or t is float:
                    continue
                summary = _summarizer.copy_args(args)
                break
            try:
                _seen.named  # noqa: B018  (set once this thread's name was looked for)
            except AttributeError:
                queued = _first_of_thread((seq, _time(), tid, event, summary, None))
                _append(queued)
                return
            queued = (seq, _time(), tid, event, summary, None)
            # _append read after the calls (a thread may switch at one): a fork's end may
            # have pointed it from the queue back to the ring meanwhile (a ring's: ring.py)
            _append(queued)
            return
        _special(event, args, tid, how)
    except Exception:
        try:
            _next_drop()
        except Exception:
            pass


# What _ring_hook reads besides: the general hook and the way for what it does not
# encode itself (PythonHook.use_ring sets them), the pure encoder's parts and caches
# (wire.make_event_packers' ``inline``).
_general = _ring_event = _event_head16 = _event_head32 = _event_heads = None
_event_strs = _event_str = _u8_item = _u16_item = _u32_item = _FIXARRAY = _FIXINT = None


def _ring_hook(event, args):
    """The hook in run mode where msgpack is missing, in place of ``_hook``: the usual
    event (recorded, a thread's name already sent, a 16- or 32-bit seq, plain arguments
    of the kinds below, a cached name) is encoded here, to the bytes msgpack would
    give, with no call but struct's, and checked for plain values as it goes; any other
    goes to ``_special`` or ``_general`` (``_hook``) or, once numbered, to
    ``_ring_event``."""
    global _head
    try:  # all of it: nothing may escape into the target, at teardown either
        tid = _get_ident()
        if tid in _quiet:
            return
        try:
            how = _decisions[event]
        except KeyError:
            how = None
        if how != RECORD:
            return _special(event, args, tid, how)
        if _ring is None:  # just before a fork
            return _general(event, args)
        try:
            _seen.named  # noqa: B018  (set once this thread's name was looked for)
        except AttributeError:
            return _general(event, args)
        seq = _next_seq()
        if 0xFFFF < seq <= 0xFFFFFFFF:
            data = _event_head32(0x96, 0xCE, seq, 0xCB, _time())
        elif 0xFF < seq <= 0xFFFF:
            data = _event_head16(0x96, 0xCD, seq, 0xCB, _time())
        else:
            return _ring_event(seq, tid, event, args)
        try:
            data += _event_heads[tid][event]
        except KeyError:
            return _ring_event(seq, tid, event, args)
        if len(args) > 15:
            return _ring_event(seq, tid, event, args)
        data += _FIXARRAY[len(args)]
        for value in args:  # Summarizer.args' check for plain values, and their bytes
            t = type(value)
            if t is str:
                if len(value) <= _strlen:
                    try:
                        data += _event_strs[value]
                    except KeyError:
                        data += _event_str(value)
                    continue
            elif t is int:
                if 0 <= value <= 0xFFFFFFFF:
                    if value < 0x80:
                        data += _FIXINT[value]
                    elif value <= 0xFF:
                        data += _u8_item(0xCC, value)
                    elif value <= 0xFFFF:
                        data += _u16_item(0xCD, value)
                    else:
                        data += _u32_item(0xCE, value)
                    continue
            elif value is None:
                data += b"\xc0"
                continue
            elif t is bool:
                data += b"\xc3" if value else b"\xc2"
                continue
            return _ring_event(seq, tid, event, args)
        data += b"\xc0"  # no stack
        if _write_event is not None:  # the C helper's (this write is both hooks', inline)
            if _write_event(data):
                return
        else:
            n = len(data)
            head = _head  # to its store, no call (ring.Ring.attach says why)
            end = head + n
            if end <= _fast_until:
                _ring[head + _offset : end + _offset] = data
                _words[2] = _head = end  # the word at RING_HEAD_AT (a test checks)
                return
        _ring_write(seq, data)
    except Exception:
        try:
            _next_drop()
        except Exception:
            pass


def _packed_ring_hook(event, args):
    """The hook in run mode where msgpack is there, in place of ``_hook``: the usual
    event (recorded, a thread's name already sent, plain arguments) packed by msgpack
    straight into the ring, with ``_hook``'s checks for the queue left out and no
    bounds check on ints (msgpack refuses one past 64 bits, which then goes the
    careful way, ``_ring_event``, as does a lone surrogate); any other goes to
    ``_special`` or ``_general`` (``_hook``)."""
    global _head
    try:  # all of it: nothing may escape into the target, at teardown either
        tid = _get_ident()
        if tid in _quiet:
            return
        try:
            how = _decisions[event]
        except KeyError:
            how = None
        if how != RECORD:
            return _special(event, args, tid, how)
        if _ring is None:  # just before a fork
            return _general(event, args)
        try:
            _seen.named  # noqa: B018  (set once this thread's name was looked for)
        except AttributeError:
            return _general(event, args)
        seq = _next_seq()
        summary = args  # Summarizer.args' check for plain values, inlined
        for value in args:
            t = type(value)
            if t is str:
                if len(value) <= _strlen:
                    continue
            elif t is int or value is None or t is bool or t is float:
                continue
            summary = _summarizer.copy_args(args)
            break
        try:
            data = _pack((seq, _time(), tid, event, summary, None))
        except Exception:
            return _ring_event(seq, tid, event, args)
        if _write_event is not None:  # the C helper's (this write is both hooks', inline)
            if _write_event(data):
                return
        else:
            n = len(data)
            head = _head  # to its store, no call (ring.Ring.attach says why)
            end = head + n
            if end <= _fast_until:
                _ring[head + _offset : end + _offset] = data
                _words[2] = _head = end  # the word at RING_HEAD_AT (a test checks)
                return
        _ring_write(seq, data)
    except Exception:
        try:
            _next_drop()
        except Exception:
            pass


# The hook's globals that point it at a ring (ring.Ring.attach sets them).
RING_NAMES = ("_ring", "_append", "_next_drop")


def _paused_hook(event, args):
    """The hook of an injected agent that no monitor watches any more: nothing."""


# The hooks' code, read once at import, before any hook is added: reading a function's
# code (and setting it) raises an audit event.
_HOOK_CODE = _hook.__code__
_RING_HOOK_CODE = _ring_hook.__code__
_PACKED_RING_HOOK_CODE = _packed_ring_hook.__code__
_PAUSED_CODE = _paused_hook.__code__


class PythonHook(object):
    """The pure-Python hook (``hook``), its queue and its counters.

    ``restart`` and ``limit`` point the hook at new counters or a new bound: they change
    its namespace, which it reads on every event."""

    def __init__(self, agent, strlen, cap):
        from _collections import deque

        from .summarize import Summarizer

        self.agent = agent
        self.queue = deque()
        self.summarizer = Summarizer(strlen=strlen)
        self.cap = cap
        self._starmap = self._repeat = None  # itertools', for take(): loaded at its first call
        self.names = dict(globals())
        self.names.update(
            _quiet=agent.quiet,
            _decisions=agent.decisions,
            _queue=self.queue,
            _summarizer=self.summarizer,
            _special=self.special,
            _first_of_thread=self.first_of_thread,
            _strlen=strlen,
        )
        self.named = {}  # thread ident -> the name sent for it (restart sets main_tid)
        self.ring = None  # run mode's shared-memory ring, where events go (else the queue)
        # The hook added once and for all; use_ring and restart swap its code.
        self.hook = _FunctionType(_HOOK_CODE, self.names, "hook")
        self.code = _HOOK_CODE
        self.names.update(
            _general=_FunctionType(_HOOK_CODE, self.names, "hook"),
            _ring_event=self.ring_event,
        )
        self.restart()

    def restart(self):
        """An empty queue and numbering from 1 (a forked child is a new process, whose
        events go to the queue until it has a ring of its own: the parent's is not its)."""
        self.queue.clear()
        self.ring = None
        self.use_code(_HOOK_CODE)
        self.main_tid = _get_ident()  # the agent starts on the main thread (or a fork's)
        self.forget_threads()
        self.seq_counter = _counter()
        self.drop_counter = _counter()
        self.names.update(
            _next_seq=self.seq_counter.__next__,
            _next_drop=self.drop_counter.__next__,
            _append=self.queue.append,
            _ring=None,
            _cap=self.cap,
        )

    def use_ring(self, ring, packers, wake_socket, gone):
        """Run mode: from now on each event is encoded into ``ring`` as it is raised
        (``packers``: wire.make_event_packers'); what was queued so far (the events
        the preload library kept) goes now.  ``wake_socket()``: the socket to wake the
        monitor on; ``gone()``: the monitor is gone."""
        fast, careful, inline = packers
        ring.counters(self.counted(), self.dropped())
        ring.attach(self.names, self.drop_counter.__next__, fast, careful, wake_socket, gone)
        self.ring = ring
        self.ring_names = {name: self.names[name] for name in RING_NAMES}
        self.into_ring()
        if inline is not None:  # the pure encoder: the hook encodes the usual event itself
            self.names.update(inline)
            self.use_code(_RING_HOOK_CODE)
        else:
            self.use_code(_PACKED_RING_HOOK_CODE)

    def pause(self, paused):
        """While ``paused``, the hook does nothing at all (attach.py says when)."""
        if paused and self.code is not _PAUSED_CODE:
            self.resume_code = self.code
            self.use_code(_PAUSED_CODE)
        elif not paused and self.code is _PAUSED_CODE:
            self.use_code(self.resume_code)

    def use_code(self, code):
        """Run the hook's events through ``code`` from now on.  Setting a function's
        code raises an audit event, the agent's own: hushed."""
        if self.code is code:
            return
        tid = _get_ident()
        quiet = self.agent.quiet
        hushed = tid in quiet
        quiet.add(tid)
        try:
            self.hook.__code__ = code
            self.code = code
        finally:
            if not hushed:
                quiet.discard(tid)

    def ring_event(self, seq, tid, event, args):
        """``_ring_hook``'s way for an event it numbered but did not encode: summarised
        and encoded the general way (which caches its name for the hook)."""
        queued = (seq, _time(), tid, event, self.summarizer.args(args), None)
        self.names["_append"](queued)  # (looked up after the calls, as in _hook)

    def into_ring(self):
        """Queued events into the ring, in order: taken one at a time, so that one another
        thread queues meanwhile (a switch between two) is taken too, never cleared."""
        queue = self.queue
        queued = []
        while queue:
            queued.append(queue.popleft())
        if queued:
            self.ring.append_all(queued)

    def before_fork(self):
        """Just before a fork: events go to the queue until ``after_fork_in_parent``, so
        that the child, whose copy of the ring's mapping is its parent's ring, never
        writes into it before it has one of its own."""
        if self.ring is not None:
            self.names.update(
                _ring=None, _append=self.queue.append, _next_drop=self.drop_counter.__next__
            )

    def after_fork_in_parent(self):
        if self.ring is not None:
            self.names.update(self.ring_names)
            self.into_ring()

    def forget_threads(self):
        """Look for each thread's name again, with its next event (a forked child, a new
        monitor): a new thread-local object, unset in every thread."""
        self.names["_seen"] = self.seen = _thread._local()
        self.named.clear()

    def first_of_thread(self, event):
        """``event`` (an event tuple), its thread's first since ``forget_threads``, as
        the hook queues it: with the thread's ``threading`` name as a seventh field if
        the monitor has not been sent that name for its ident (an ident is reused by a
        new thread once an old one has ended); "" where a thread of no name reuses a
        named one's ident.  A dict look-up and an attribute read: no code of the
        target's runs.  The C hook's thread_name_to_send does the same: change both."""
        self.seen.named = True
        tid = event[2]
        threading = _modules.get("threading")
        active = getattr(threading, "_active", None)
        thread = active.get(tid) if type(active) is dict else None
        if thread is not None:
            name = getattr(thread, "_name", None)
        elif tid == self.main_tid and threading is None:
            name = "MainThread"  # what threading will call it
        else:
            name = None
        if type(name) is not str or name == "":
            if self.named.pop(tid, None) is None:
                return event
            name = ""  # no longer the named thread's events
        elif self.named.get(tid) == name:
            return event
        else:
            self.named[tid] = name
        return event + (name,)

    def limit(self, cap):
        """Queue at most ``cap`` events (0: drop every one)."""
        self.cap = cap
        self.names["_cap"] = cap

    def special(self, event, args, tid, how):
        """The hook for an event not yet decided, ignored, or wanting more than recording."""
        agent = self.agent
        if how is None:
            how = agent.decide(event)
        if how & PRELOAD:
            agent.preload(tid)
        if not how & RECORD:
            return
        names = self.names
        seq = names["_next_seq"]()
        if len(self.queue) >= self.cap:
            names["_next_drop"]()
            return
        stack = agent.stack(tid, 3) if how & STACK else None
        queued = (seq, _time(), tid, event, self.summarizer.args(args), stack)
        if not hasattr(self.seen, "named"):
            queued = self.first_of_thread(queued)
        names["_append"](queued)
        if how & FLUSH:
            agent.flush_now(tid, event)

    def record_early(self, events, dropped):
        """Queue the events raised before the agent started, ``(name, args, time,
        thread)`` each, as the hook would have (their stacks are gone; the flushes for
        exec and teardown can't apply), and count ``dropped`` more that were raised but
        not kept: numbered, and dropped.  The C hook's record_early does the same."""
        decisions, decide = self.agent.decisions, self.agent.decide
        next_seq, next_drop = self.names["_next_seq"], self.names["_next_drop"]
        append = self.names["_append"]
        seen = {}  # (Summarizer.args': the events' arguments are all alive till the end)
        for name, args, when, tid in events:
            how = decisions.get(name)
            if how is None:
                how = decide(name)
            if not how & RECORD:
                continue
            seq = next_seq()
            if len(self.queue) >= self.cap:
                next_drop()
                continue
            queued = (seq, when, tid, name, self.summarizer.args(args, seen), None)
            if not hasattr(self.seen, "named"):
                queued = self.first_of_thread(queued)
            append(queued)
        for _ in range(dropped):
            next_seq()
            next_drop()

    def counted(self):
        return _peek(self.seq_counter)

    def dropped(self):
        return _peek(self.drop_counter)

    def take(self, first_seq, pack):
        """``Agent.take`` for this queue, encoded by ``pack``."""
        # Under a target that keeps the GIL busy the writer gets it back once per switch
        # interval (5 ms): a batch must hold what the hook queues meanwhile (smaller
        # batches dropped most events of a tight loop), yet bound how long encoding it
        # holds the GIL (see BATCH).  starmap calls popleft in C.
        queue = self.queue
        if not queue:  # (run mode's ring leaves it empty)
            return 0, 0, b""
        if self._starmap is None:
            itertools = self.agent.own_import("itertools")
            self._starmap, self._repeat = itertools.starmap, itertools.repeat
        events = list(self._starmap(queue.popleft, self._repeat((), min(len(queue), BATCH))))
        if not events:
            return 0, 0, b""
        data = pack(events)
        # seqs are unique, so the smallest event is the one with the first seq
        first = min(events)[0] if first_seq else 0
        return len(events), first, data[_array_header_size(len(events)) :]


def _counter():
    """Numbers from 1, each by a C call (``__next__``), as itertools.count gives them: an
    iterator over a range, as a process that imports nothing else loads no itertools for
    it.  (The range ends past any count a process reaches.)"""
    return iter(range(1, _maxsize))


def _peek(counter):
    """How many numbers ``counter`` (``_counter``'s) has handed out, without taking one."""
    return _maxsize - 1 - counter.__length_hint__()


def _array_header_size(n):
    return 1 if n < 16 else 3 if n < 0x10000 else 5
