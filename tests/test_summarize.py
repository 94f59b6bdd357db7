"""The agent's argument summaries: bounded, marked when cut, and never running user code."""

from __future__ import annotations

import gc
import pathlib
import socket
import sys
import weakref

import pytest
from helpers import AGENT_DIR

sys.path.insert(0, str(AGENT_DIR))
from _auditmon_agent.summarize import Summarizer  # noqa: E402
from _auditmon_agent.wire import BigInt, Cut, Described  # noqa: E402

sys.path.remove(str(AGENT_DIR))


class Trap:
    """Every way Python could run this object's code counts as a call."""

    calls = 0

    def _trip(self, *args, **kwargs):
        type(self).calls += 1
        raise RuntimeError("user code ran")

    __repr__ = __str__ = __eq__ = __hash__ = __len__ = __iter__ = __fspath__ = _trip
    __getattr__ = __bool__ = __index__ = __int__ = __format__ = _trip


class TrapMeta(type):
    def __getattribute__(cls, name):
        Trap.calls += 1
        raise RuntimeError("metaclass code ran")


class TrapClass(metaclass=TrapMeta):
    pass


class TrapStr(str):
    __str__ = __repr__ = __getitem__ = __len__ = Trap._trip


class TrapInt(int):
    __index__ = __int__ = __repr__ = Trap._trip


class TrapList(list):
    __iter__ = __len__ = __getitem__ = Trap._trip


@pytest.fixture
def summarize():
    Trap.calls = 0
    yield Summarizer(strlen=16).args
    assert Trap.calls == 0, "the summary ran user code"


def test_plain_values_pass_through(summarize):
    assert summarize((None, True, 0, -5, 2**64 - 1, 1.5, "abc", b"\x00\xff")) == [
        None,
        True,
        0,
        -5,
        2**64 - 1,
        1.5,
        "abc",
        b"\x00\xff",
    ]


def test_long_values_are_cut_and_marked(summarize):
    long_text = "x" * 1_000_000
    out = summarize((long_text, b"y" * 40, 2**64, -(2**63) - 1))
    assert out[0] == Cut("x" * 16, 1_000_000)
    assert out[1] == Cut(b"y" * 16, 40)
    assert out[2] == BigInt(2**64) and out[3] == BigInt(-(2**63) - 1)


def test_containers_are_bounded_in_depth_width_and_size(summarize):
    looped = [1]
    looped.append(looped)
    out = summarize((looped, list(range(100)), {"k": (1, "v")}))
    depth = 0
    node = out[0]
    while isinstance(node, list):
        node, depth = node[1], depth + 1
    assert isinstance(node, Described) and node.text == "list of 2 items"
    assert depth == 4
    assert out[1] == Cut(list(range(32)), 100)
    assert out[2] == {"k": [1, "v"]}
    wide = [[list(range(32)) for _ in range(32)] for _ in range(32)]
    summary = Summarizer(strlen=16, budget=256).args((wide,))[0]
    assert _nodes(summary) <= 300


def _nodes(value):
    if isinstance(value, Cut):
        return _nodes(value.value)
    if isinstance(value, (list, tuple)):
        return 1 + sum(_nodes(v) for v in value)
    if isinstance(value, dict):
        return 1 + sum(_nodes(v) for v in value.values())
    return 1


def test_user_objects_are_described_without_their_code(summarize):
    def function():
        pass

    out = summarize(
        (
            Trap(),
            TrapClass,
            TrapStr("hello"),
            TrapInt(7),
            TrapList([1, 2]),
            function,
            function.__code__,
            sys,
            len,
        )
    )
    assert out[0] == Described("test_summarize.Trap object")
    assert out[1].text.startswith("class test_summarize.TrapClass")
    assert out[2] == "hello"
    assert out[3] == 7
    assert out[4] == Described("test_summarize.TrapList object")
    assert out[5].text.endswith(
        "test_user_objects_are_described_without_their_code.<locals>.function"
    )
    assert out[6].text.startswith("code function at ") and "test_summarize.py" in out[6].text
    assert out[7] == Described("module sys")
    assert out[8] == Described("built-in function len")


def test_sockets_and_paths(summarize):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        out = summarize((sock, pathlib.PurePosixPath("/etc/passwd")))
    assert out[0].text.startswith("socket AF_INET SOCK_STREAM fd=")
    assert out[1] == "/etc/passwd"


def test_overridden_fspath_is_not_called(summarize):
    class Sneaky(pathlib.PurePosixPath):
        __fspath__ = Trap._trip

    out = summarize((Sneaky("/x"),))
    assert isinstance(out[0], Described)


def test_dict_keys_that_are_unhashable_after_summary(summarize):
    out = summarize(({(1, 2): "tuple key"},))
    assert list(out[0].values()) == ["tuple key"]


def test_instances_of_builtin_types_are_described_once_per_type(summarize):
    """A frame, a generator, a traceback (the interpreter's own types): the same text
    for every instance, made once."""

    def gen():
        yield 1

    def traceback():
        try:
            raise ValueError
        except ValueError as error:
            return error.__traceback__

    first = summarize((sys._getframe(), gen(), traceback(), [gen()]))
    again = summarize((sys._getframe(), gen(), traceback(), [gen()]))
    assert first == [
        Described("frame"),
        Described("generator object"),
        Described("traceback object"),
        [Described("generator object")],
    ]
    assert all(a is b for a, b in zip(first[:3], again[:3]))
    assert again[3][0] is first[1]


def test_describing_a_program_s_classes_keeps_none_of_them_alive(summarize):
    """Only types the interpreter itself defines are remembered: a class the program made
    goes away with its last instance, as it would without the agent."""

    def method(self):
        pass

    cls = type("Passing", (), {"method": method})
    text = summarize((cls(), [cls()], cls, cls.method, cls().method))
    described = Described("test_summarize.Passing object")
    assert text[:3] == [described, [described], Described("class test_summarize.Passing")]
    assert text[3].text.startswith("function test_summarize.test_describing_a_program")
    assert text[4].text.startswith("method test_summarize.test_describing_a_program")
    gone = weakref.ref(cls)
    del cls, text
    gc.collect()
    assert gone() is None


def test_a_remembered_description_follows_renaming(summarize):
    """Classes, functions and instances are described once and then recalled, as long as
    what the description was made from (module, qualname) is unchanged."""

    class Renamed:
        pass

    def function():
        pass

    first = summarize((Renamed, Renamed(), function))
    assert summarize((Renamed, Renamed(), function)) == first
    Renamed.__qualname__ = "Other"
    Renamed.__module__ = "elsewhere"
    function.__qualname__ = "renamed"
    assert summarize((Renamed, Renamed(), function)) == [
        Described("class elsewhere.Other"),
        Described("elsewhere.Other object"),
        Described("function test_summarize.renamed"),
    ]


def test_a_batch_summarises_lists_of_the_very_same_items_once():
    """The start's events (kept by the preload library, all alive until summarised)
    share a ``seen`` dict: an argument list holding the very items of one summarised
    before in the batch gets that summary again (every import event carries sys.path,
    sys.meta_path and sys.path_hooks, copied), and every summary is what it is alone."""
    Trap.calls = 0  # (counted when pytest looked through this module)
    summarizer = Summarizer(strlen=16)
    trap = Trap()
    path = ["/usr/lib/python3", "/a/path/longer/than/sixteen", ""]
    meta = [TrapClass, trap, len, Summarizer, [1, "nested"]]
    batch = [(f"module{i}", None, list(path), list(meta), (trap, 7)) for i in range(4)]
    batch.append(("other", None, list(path[:2]) + ["/else"], list(meta), [trap, 7]))
    batch.append(("wide", list(range(40)), list(range(40))))  # past the width: not kept
    seen = {}
    shared = [summarizer.args(args, seen) for args in batch]
    assert shared == [summarizer.args(args) for args in batch]
    assert Trap.calls == 0
    first, last = shared[0], shared[4]
    for summary in shared[1:4]:
        assert summary[2] is first[2] and summary[3] is first[3] and summary[4] is first[4]
    assert last[2] is not first[2] and last[2] == ["/usr/lib/python3", first[2][1], "/else"]
    assert last[3] is first[3]
    assert last[4] is not first[4]  # a list of the items a tuple held: told apart
    assert len(seen) == 5


def test_a_batch_s_list_of_other_items_of_the_same_shape_gets_its_own_summary():
    """Kept by its items' identities, not by its length or its items' types."""

    class Finder:
        pass

    class Other:
        pass

    summarizer = Summarizer()
    seen = {}
    one = summarizer.args(("a", [Finder]), seen)
    two = summarizer.args(("b", [Other]), seen)
    assert one[1][0].text.endswith("<locals>.Finder")
    assert two[1][0].text.endswith("<locals>.Other")
