"""The pure-Python hook's own fast path and its writer's draining, called directly.

The hook inlines the summariser's first step (plain values are kept as they are), so it
must agree with ``Summarizer.args`` at every boundary; and the writer takes at each turn
all that a busy target's hook queues in a switch interval (the writer gets the GIL back
once per interval), but no more than a bounded batch.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import msgpack
import pytest
from helpers import AGENT_DIR

sys.path.insert(0, str(AGENT_DIR))
from _auditmon_agent import core  # noqa: E402
from _auditmon_agent.config import Config  # noqa: E402
from _auditmon_agent.constants import RECORD  # noqa: E402
from _auditmon_agent.python_hook import BATCH  # noqa: E402
from _auditmon_agent.summarize import Summarizer  # noqa: E402
from _auditmon_agent.wire import make_packer  # noqa: E402

sys.path.remove(str(AGENT_DIR))

STRLEN = 16
EVENT = "test.event"


class Str(str):
    pass


class Int(int):
    pass


BOUNDARIES = [
    (),
    ("a" * STRLEN, 0),
    ("a" * (STRLEN + 1),),
    (-(2**63), 2**64 - 1),
    (-(2**63) - 1,),
    (2**64,),
    (None, True, False, 1.5),
    (Str("subclass"),),
    (Int(3),),
    ("ok", b"bytes"),
    ("ok", ["a", "list"]),
    ("ok", object()),
]


@pytest.fixture
def python_hook():
    """A fresh agent's Python hook as ``start`` sets it up, with its queue and ``take``."""
    agent = core.Agent()
    agent.settle(Config({"AUDITMON_STRLEN": str(STRLEN), "AUDITMON_QUEUE": str(1 << 20)}), 0.0)
    agent.decisions[EVENT] = RECORD
    hook = agent.use_python_hook()
    return SimpleNamespace(
        _hook=hook.hook, _queue=hook.queue, _BATCH=BATCH, take=agent.take, agent=agent
    )


@pytest.mark.parametrize("args", BOUNDARIES, ids=repr)
def test_the_hooks_fast_path_agrees_with_the_summariser(python_hook, args):
    pack = make_packer()[0]
    python_hook._hook(EVENT, args)
    assert len(python_hook._queue) == 1
    seq, _, _, name, summary, stack, *thread = python_hook._queue[0]
    assert (seq, name, stack, thread) == (1, EVENT, None, ["MainThread"])  # its first
    assert pack(summary) == pack(Summarizer(strlen=STRLEN).args(args))


def test_plain_arguments_are_queued_without_a_copy(python_hook):
    args = ("path", 3, None)
    python_hook._hook(EVENT, args)
    assert python_hook._queue[0][4] is args


def test_the_writer_takes_a_whole_switch_intervals_worth_at_each_turn(python_hook):
    total = python_hook._BATCH + 1000
    for i in range(total):
        python_hook._hook(EVENT, (i, "abc"))
    count, first_seq, data = python_hook.take()
    assert (count, first_seq) == (python_hook._BATCH, 1)
    events = msgpack.unpackb(b"\xdd" + count.to_bytes(4, "big") + data)
    assert [e[0] for e in events] == list(range(1, count + 1))
    assert [e[4] for e in events[:2]] == [[0, "abc"], [1, "abc"]]
    assert python_hook.take()[:2] == (1000, count + 1)
    assert len(python_hook._queue) == 0


def test_the_counters_say_how_many_were_numbered_and_dropped(python_hook):
    """The hello's and the ring's counts: read without taking a number."""
    agent = python_hook.agent
    assert (agent.counted(), agent.dropped()) == (0, 0)
    for i in range(5):
        python_hook._hook(EVENT, (i,))
    agent.python_hook.limit(0)  # full: numbered, then dropped
    for i in range(3):
        python_hook._hook(EVENT, (i,))
    assert (agent.counted(), agent.dropped()) == (8, 3)
    assert (agent.counted(), agent.dropped()) == (8, 3)
    assert len(python_hook._queue) == 5


def test_without_first_seq_the_writer_takes_the_same_bytes(python_hook):
    """Run mode's writer keeps no ring, so it does not ask for the batch's first seq; the
    events it takes are the same bytes."""
    for i in range(10):
        python_hook._hook(EVENT, (i, "abc"))
    events = list(python_hook._queue)
    count, first_seq, data = python_hook.take(first_seq=False)
    assert (count, first_seq) == (10, 0)
    python_hook._queue.extend(events)
    assert python_hook.take() == (10, 1, data)


def test_the_hooks_literal_for_the_rings_head_is_the_layouts():
    """The Python hook stores the ring's head as ``_words[2]`` (a literal: a global
    look-up per event costs it): the layout must keep HEAD there."""
    import inspect

    from _auditmon_agent import python_hook

    from auditmon.protocol import agent_constants

    assert agent_constants.RING_HEAD_AT == 2 * 8
    for hook in (python_hook._packed_ring_hook, python_hook._ring_hook):
        assert "_words[2] = _head = end" in inspect.getsource(hook)
