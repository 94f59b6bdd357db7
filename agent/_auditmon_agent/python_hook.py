"""The pure-Python audit hook, its queue and its counters: the agent's hook where the C
extension is not in use (``AUDITMON_AGENT=python``, or not built for this interpreter).

The hook runs inside the target on every audit event, so it does the least it can: one
dict look-up for the cached filter decision, a sequence number, a bounds check, a
summary of the arguments and one ``deque.append``.  A writer thread (``transport``)
drains the queue with ``take``; the hook never waits for it.  When the queue is full the
event is counted as dropped (the count travels in-band).  Nothing here may raise into
the target.
"""

import _thread
import time

from .config import INT64_MIN, UINT64_MAX
from .constants import FLUSH, PRELOAD, RECORD, STACK

# Events per batch: four times what the Python hook can queue in a switch interval, so
# that a writer that waits for the GIL more than once a turn still keeps up, and at most
# about 8 ms of msgpack encoding with the GIL held (16 384 dropped twice as many).
BATCH = 32768


class PythonHook(object):
    """The pure-Python hook (``hook``), its queue and its counters.

    The hook is a closure: its cells cost it no more than module globals, and less than
    attributes.  ``restart`` and ``limit`` point it at new counters or a new bound."""

    def __init__(self, agent, strlen, cap):
        from _collections import deque

        from .summarize import Summarizer

        self.queue = deque()
        self.summarizer = Summarizer(strlen=strlen)
        self.hook, self._point_at = _make_hook(agent, self.queue, self.summarizer, strlen)
        self.cap = cap
        self.restart()

    def restart(self):
        """An empty queue and numbering from 1 (a forked child is a new process)."""
        import itertools

        self.queue.clear()
        self.seq_counter = itertools.count(1)
        self.drop_counter = itertools.count(1)
        self._point_at(self.seq_counter.__next__, self.drop_counter.__next__, self.cap)

    def limit(self, cap):
        """Queue at most ``cap`` events (0: drop every one)."""
        self.cap = cap
        self._point_at(self.seq_counter.__next__, self.drop_counter.__next__, cap)

    def counted(self):
        return _peek(self.seq_counter)

    def dropped(self):
        return _peek(self.drop_counter)

    def take(self, first_seq, pack):
        """``Agent.take`` for this queue, encoded by ``pack``."""
        # Under a target that keeps the GIL busy the writer gets it back once per switch
        # interval (5 ms): a batch must hold what the hook queues meanwhile (2 048
        # dropped three events in four of a tight loop), yet bound how long encoding it
        # holds the GIL (see BATCH).  starmap calls popleft in C.
        from itertools import repeat, starmap

        queue = self.queue
        events = list(starmap(queue.popleft, repeat((), min(len(queue), BATCH))))
        if not events:
            return 0, 0, b""
        data = pack(events)
        # seqs are unique, so the smallest event is the one with the first seq
        first = min(events)[0] if first_seq else 0
        return len(events), first, data[_array_header_size(len(events)) :]


def _make_hook(agent, queue, summarizer, strlen):
    """The Python hook over ``agent``'s quiet threads and decisions and this queue, and
    the function that points it at new counters and a new bound."""
    get_ident = _thread.get_ident
    now = time.time
    quiet = agent.quiet
    decisions = agent.decisions
    append = queue.append
    int64_min = INT64_MIN
    uint64_max = UINT64_MAX
    next_seq = next_drop = None
    cap = 0

    def hook(event, args):
        try:  # all of it: nothing may escape into the target, at teardown either
            tid = get_ident()
            if tid in quiet:
                return
            try:
                how = decisions[event]  # a subscript costs less than dict.get
            except KeyError:
                how = None
            if how == RECORD:  # the usual case, kept to the fewest steps
                seq = next_seq()
                if len(queue) >= cap:
                    next_drop()
                    return
                summary = args  # plain values only are kept as they are: Summarizer.args'
                for value in args:  # check, inlined, as a call costs more than it
                    t = type(value)
                    if t is str:
                        if len(value) <= strlen:
                            continue
                    elif t is int:
                        if int64_min <= value <= uint64_max:
                            continue
                    elif value is None or t is bool or t is float:
                        continue
                    summary = summarizer.copy_args(args)
                    break
                append((seq, now(), tid, event, summary, None))
                return
            special(event, args, tid, how)
        except Exception:
            try:
                next_drop()
            except Exception:
                pass

    def special(event, args, tid, how):
        """The hook for an event not yet decided, ignored, or wanting more than recording."""
        if how is None:
            how = agent.decide(event)
        if how & PRELOAD:
            agent.preload(tid)
        if not how & RECORD:
            return
        seq = next_seq()
        if len(queue) >= cap:
            next_drop()
            return
        stack = agent.stack(tid, 3) if how & STACK else None
        append((seq, now(), tid, event, summarizer.args(args), stack))
        if how & FLUSH:
            agent.flush_now(tid, event)

    def point_at(seq, drop, bound):
        nonlocal next_seq, next_drop, cap
        next_seq, next_drop, cap = seq, drop, bound

    return hook, point_at


def _peek(counter):
    # repr is "count(N)": N is the next value, so N - 1 have been handed out.
    text = repr(counter)
    return int(text[text.index("(") + 1 : -1]) - 1


def _array_header_size(n):
    return 1 if n < 16 else 3 if n < 0x10000 else 5
