"""The C fast path and the pure-Python agent put the same bytes on the wire."""

from __future__ import annotations

import hashlib
import math
import pathlib
import socket
import sys

import msgpack
import pytest
from helpers import AGENT_DIR, WORKLOADS, agent_env, clean_env, events_of, read_jsonl, run_recorded
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(AGENT_DIR))
from _auditmon_agent import constants  # noqa: E402
from _auditmon_agent import native as native_side  # noqa: E402
from _auditmon_agent.summarize import Summarizer  # noqa: E402
from _auditmon_agent.wire import packb  # noqa: E402

try:
    import _auditmon_native as _native
except ImportError:  # reported by the first test, not skipped
    _native = None
sys.path.remove(str(AGENT_DIR))


def make_agent(summarizer: Summarizer, decisions=None, limit=1 << 20, flush=None, decide=None):
    decisions = {} if decisions is None else decisions
    return native_side.make_native_agent(
        _native,
        summarizer,
        decisions,
        decide or (lambda name: decisions.setdefault(name, 1)),
        lambda tid: [["f.py", 1, "f"]],
        flush or (lambda tid, name: None),
        limit,
    )


def test_the_extension_was_built_for_this_interpreter():
    assert _native is not None, "pip install did not build _auditmon_native"


def test_the_extension_was_built_from_the_source_as_it_is():
    """A rebuild that fails (the build is optional) leaves the previous extension in
    place: every other test would then run an old agent."""
    digest = hashlib.sha256()  # setup.py's sources_digest: every part, in name order
    for part in sorted(p for p in (AGENT_DIR / "native").iterdir() if p.suffix in (".c", ".h")):
        digest.update(part.name.encode() + b"\0" + part.read_bytes() + b"\0")
    source = digest.hexdigest()
    built = getattr(_native, "SOURCE_SHA256", None)
    assert built == source, "the extension is stale: pip install -e . did not rebuild it"


class Odd:
    def __repr__(self):
        raise RuntimeError("repr called")


class Str(str):
    pass


class Int(int):
    pass


plain = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.binary(max_size=40)
)
python_values = st.recursive(
    plain,
    lambda children: (
        st.lists(children, max_size=40)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=5) | st.integers(-5, 5), children, max_size=6)
    ),
    max_leaves=120,
)


@pytest.mark.parametrize("strlen", [1024, 8])
@settings(max_examples=300, deadline=None)
@given(args=st.lists(python_values, max_size=6))
def test_same_bytes_on_generated_arguments(strlen, args):
    summarizer = Summarizer(strlen=strlen)
    agent = make_agent(summarizer)
    assert agent.encode_args(tuple(args)) == packb(summarizer.args(tuple(args)))


@pytest.mark.parametrize("strlen", [2, 8, 12, 13, 100, 250, 300, 70_000])
def test_same_bytes_for_cut_values_across_the_ext_header_sizes(strlen):
    """A cut value is an ext payload ``[kept, length]``: its header (fixext 16, ext 8, 16
    or 32) depends on the payload's size, which the C encoder writes into place last."""
    summarizer = Summarizer(strlen=strlen)
    agent = make_agent(summarizer)
    for args in (
        ("é" * (strlen + 1),),
        (b"\x00" * (strlen + 1), "x" * (strlen + 70_000)),
        ("a" * (strlen + 2), [b"b" * (strlen * 3 + 1)], 1),
    ):
        assert agent.encode_args(args) == packb(summarizer.args(args))


class Meta(type):
    pass


class WithMeta(metaclass=Meta):
    pass


class MyPath(pathlib.PurePosixPath):
    pass


class MySocket(socket.socket):
    pass


class Float(float):
    pass


def odd_arguments():
    looped = [1, "two"]
    looped.append(looped)
    deep = []
    node = deep
    for _ in range(10):
        node.append([])
        node = node[0]
    wide = [list(range(40)) for _ in range(40)]
    sock = socket.socket()
    my_sock = MySocket(socket.AF_UNIX)
    yield (object(), WithMeta(), MyPath("/x"), my_sock, ValueError("v"), Float(1.5), Meta)
    yield (Odd(), looped, "x" * 1_000_000, b"\x00" * 5000, deep, wide)
    yield (Str("sub"), Int(5), True, 2**64, -(2**63) - 1, math.inf, -0.0)
    yield ({"k": [1, 2], (1, 2): "tuple key"}, pathlib.PurePosixPath("/etc"), sock, len, Odd)
    yield (odd_arguments.__code__, sys, [Odd(), {"a": Odd()}], ("\udcff surrogate",))
    yield (tuple(range(100)), [[[[[1]]]]], bytearray(b"abc"), "日本" * 600)
    yield ("json", None, list(sys.path), list(sys.meta_path), list(sys.path_hooks))
    yield (int, type, Odd, socket.socket, odd_arguments, print, [len, make_agent, Str])
    yield (sys._getframe(), make_agent.__code__, compile("x", "<s>", "eval"), [sys._getframe(1)])
    sock.close()
    my_sock.close()


@pytest.mark.parametrize("args", list(odd_arguments()), ids=lambda a: type(a[0]).__name__)
def test_same_bytes_on_odd_arguments(args):
    summarizer = Summarizer()
    agent = make_agent(summarizer)
    expected = packb(summarizer.args(args))
    assert agent.encode_args(args) == expected
    assert agent.encode_args(args) == expected  # again, from the cached descriptions
    assert packb(summarizer.args(args)) == expected  # and the Python side's remembered ones


def test_the_hook_numbers_buffers_and_drops():
    summarizer = Summarizer()
    decisions = {"skip.me": 0, "with.stack": 1 | 2}
    agent = make_agent(summarizer, decisions=decisions, limit=400)
    agent("a.b", (1, "x"))
    agent("skip.me", (1,))
    agent("with.stack", ())
    count, first, data = agent.take()
    assert (count, first, agent.counted(), agent.dropped()) == (2, 1, 2, 0)
    events = list(msgpack.Unpacker(__import__("io").BytesIO(data), raw=False))
    assert [e[0] for e in events] == [1, 2]
    assert events[0][3:] == ["a.b", [1, "x"], None, "MainThread"]  # the thread's first
    assert events[1][3:] == ["with.stack", [], [["f.py", 1, "f"]]]
    for i in range(50):  # more than 400 bytes: the rest is dropped and counted
        agent("a.b", ("y" * 30, i))
    count, first, data = agent.take()
    assert agent.dropped() > 0 and count + agent.dropped() == 50
    assert agent.counted() == 52


def test_the_hook_never_raises_into_the_caller():
    summarizer = Summarizer()

    def broken_decide(name):
        raise ValueError("broken")

    agent = make_agent(summarizer)
    agent2 = make_agent(summarizer, decide=broken_decide, limit=1000)
    assert agent2("x", (1,)) is None
    assert agent("x", "not a tuple") is None


SHOW_PYTHON_SIDE = "import sys; print('_auditmon_agent.core' in sys.modules)"


@pytest.mark.system
@pytest.mark.parametrize(
    ("options", "settings", "python_side", "agent"),
    [
        ((), {}, False, "native"),  # plain run mode: started in C, no Python side at all
        (("--events", "*"), {}, True, "native"),  # globs: the Python side starts it
        ((), {"AUDITMON_AGENT": "python"}, True, "python"),  # the pure-Python hook, asked for
    ],
    ids=["default", "python-side", "forced-python"],
)
def test_a_real_run_reports_the_agent_that_ran_it(tmp_path, options, settings, python_side, agent):
    """Built, the native hook is what a target runs under the default settings, whether
    the extension starts the agent itself or the Python side (core) starts it; only
    AUDITMON_AGENT=python gets the pure-Python hook.  The recording says which ran."""
    assert _native is not None, "pip install did not build _auditmon_native"
    record = tmp_path / "rec.jsonl"
    result = run_recorded(
        record,
        sys.executable,
        "-c",
        SHOW_PYTHON_SIDE,
        options=options,
        env=clean_env(**settings),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{python_side}\n"
    (process,) = [r for r in read_jsonl(record) if r["type"] == "process"]
    assert process["agent"] == agent


def test_run_mode_started_in_c_has_the_python_sides_limits_and_decisions():
    """Plain run mode starts in the extension, with its own copy of what the Python side
    would have set up: the summary limits, the buffer per event, and the decisions made
    when no globs are given (flush before exec and teardown, preload before a hook)."""
    from _auditmon_agent import config

    assert (_native.SUMMARY_DEPTH, _native.SUMMARY_WIDTH, _native.SUMMARY_BUDGET) == (
        constants.SUMMARY_DEPTH,
        constants.SUMMARY_WIDTH,
        constants.SUMMARY_BUDGET,
    )
    assert _native.BYTES_PER_EVENT == constants.BYTES_PER_EVENT
    decisions = {}
    python_decide = config.make_decider(config.Config({"AUDITMON_MODE": "run"}), decisions)
    names = [
        *constants.FLUSH_EVENTS,
        constants.HOOK_ADDED,
        "open",
        "import",
        "os.exe",
        "os.execv",
        "",
    ]
    try:
        assert [_native.decide(n) for n in names] == [python_decide(n) for n in names]
        assert {_native.decide(n) for n in constants.FLUSH_EVENTS} == {
            constants.RECORD | constants.FLUSH
        }
        assert _native.decide(constants.HOOK_ADDED) == constants.RECORD | constants.PRELOAD
    finally:
        decisions.clear()  # the Python decider memoised into its dict


def test_an_event_raised_while_another_is_encoded_stays_whole():
    """The Python summariser may run code that raises events (or let threads switch)."""
    summarizer = Summarizer()
    holder = {}

    def fallback(value, level, budget):
        holder["agent"]("nested.event", (7,))  # an audit event raised mid-encoding
        return summarizer.value(value, level, budget)

    agent_with_fallback = native_side.make_native_agent(
        _native, summarizer, {}, lambda name: 1, None, None, 1 << 20, fallback=fallback
    )
    holder["agent"] = agent_with_fallback
    agent_with_fallback("outer.event", ({"odd": Odd()}, "after"))  # dicts go to Python
    count, _, data = agent_with_fallback.take()
    events = list(msgpack.Unpacker(__import__("io").BytesIO(data), raw=False))
    assert count == 2
    assert [e[3] for e in events] == ["nested.event", "outer.event"]
    assert events[1][4][1] == "after"


def test_cached_descriptions_follow_renamed_classes_and_functions():
    """Classes, their instances and functions are described once and cached, by weak
    reference: a renamed class or function is described anew."""

    class Finder:
        def find(self):
            pass

    def hook():
        pass

    summarizer = Summarizer()
    agent = make_agent(summarizer)
    finder = Finder()

    def both_paths_agree():
        args = (Finder, finder, hook, finder.find, [Finder, finder, hook])
        assert agent.encode_args(args) == packb(summarizer.args(args))
        return msgpack.unpackb(agent.encode_args(args), raw=False)

    first = both_paths_agree()
    assert both_paths_agree() == first  # now from the cache
    Finder.__qualname__ = "Renamed"
    Finder.__module__ = "elsewhere"
    hook.__qualname__ = "renamed_hook"
    renamed = both_paths_agree()
    assert renamed != first
    assert msgpack.ExtType(2, b"class elsewhere.Renamed") in renamed
    assert msgpack.ExtType(2, b"elsewhere.Renamed object") in renamed
    assert msgpack.ExtType(2, b"function test_native.renamed_hook") in renamed


def test_the_cache_keeps_nothing_alive():
    import gc
    import weakref

    class Temporary:
        pass

    agent = make_agent(Summarizer())
    agent.encode_args((Temporary, Temporary()))
    gone = weakref.ref(Temporary)
    del Temporary
    gc.collect()
    assert gone() is None


@pytest.mark.system
@pytest.mark.parametrize("kind", ["native", "python"])
def test_tracers_and_profilers_never_see_the_agent(tmp_path, kind):
    """CPython keeps tracers out of Python audit hooks; the C-level hook does the same
    for the Python code it calls (the summariser of odd values)."""
    record = tmp_path / "rec.jsonl"
    done = run_recorded(
        record,
        sys.executable,
        str(WORKLOADS / "traced.py"),
        str(AGENT_DIR),
        env=agent_env(kind),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    events = [e for e in events_of(read_jsonl(record)) if e["event"] == "traced.event"]
    assert len(events) == 3
    assert events[0]["args"][1] == {"$object": "Plain object"}
