"""The pure-Python agent's C helper (agent/helper/helper.c, ``_auditmon_helper.abi3.so``):
built once against the stable ABI, it loads in every CPython 3.8+ and there maps the
agent's ring without keeping a descriptor, writes an event into it as the ring's
protocol says (up to where the agent lets it), and moves the agent's socket out of the
target's way.  Run for real under each interpreter found (this venv's, Debian's
python3, pyenv's 3.8 to 3.13)."""

from __future__ import annotations

import hashlib
import json
import resource
import subprocess
import sys
import textwrap

import pytest
from helpers import AGENT_DIR, ROOT, constrained, interpreter_or_skip

from auditmon.protocol import agent_constants

pytestmark = pytest.mark.system

HELPER = AGENT_DIR / f"{agent_constants.HELPER}.abi3.so"
HEADER, HEAD_AT = agent_constants.RING_HEADER, agent_constants.RING_HEAD_AT

LOAD = textwrap.dedent(
    """
    import fcntl, json, os, resource, sys
    from importlib.machinery import ExtensionFileLoader
    from importlib.util import module_from_spec, spec_from_file_location
    loader = ExtensionFileLoader("NAME", sys.argv[1])
    helper = module_from_spec(spec_from_file_location("NAME", sys.argv[1], loader=loader))
    loader.exec_module(helper)
    def fds():  # the open descriptors among the first 1024, found without opening one
        def is_open(fd):
            try:
                return fcntl.fcntl(fd, fcntl.F_GETFD) >= 0
            except OSError:
                return False
        return [fd for fd in range(1024) if is_open(fd)]
    def refused(call, *args):
        try:
            call(*args)
        except (TypeError, ValueError, OverflowError) as error:
            return type(error).__name__
        return None
    """
).replace("NAME", agent_constants.HELPER)

RING = LOAD + textwrap.dedent(
    """
    header, head_at, data = HEADER, HEAD_AT, 8192
    odd = [refused(helper.map_ring, size) for size in (header + 1000, header, 100, -1, "x")]
    before = fds()
    fd, ring, write, until = helper.map_ring(header + data)
    new = sorted(set(fds()) - set(before))
    head = lambda: ring.cast("Q")[head_at // 8]
    steps = [write(b"first")]  # the agent has not said how far: declined
    until.cast("Q")[0] = 64
    steps += [write(b"abc"), write(b"defg"), head()]
    steps += [write(b"x" * 100), head()]  # past 64: declined, nothing written
    steps += [refused(write, bytearray(b"no")), refused(write, "no"), head()]
    print(json.dumps({
        "odd": odd, "new": new, "fd": fd, "steps": steps,
        "name": os.readlink("/proc/self/fd/%d" % fd),
        "cloexec": bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC),
        "size": os.fstat(fd).st_size, "sizes": [len(ring), len(until)],
        "written": bytes(ring[header:header + 10]).decode(),
        "shared": os.pread(fd, 7, header).decode(),  # the memfd's own pages
    }))
    """
).replace("HEADER", str(HEADER)).replace("HEAD_AT", str(HEAD_AT))

MOVE = LOAD + textwrap.dedent(
    """
    fd = os.open(os.devnull, os.O_RDONLY)
    odd = [refused(helper.move_fd, v) for v in (-1, 2**40, 2**70, "3")]
    moved, hidden = helper.move_fd(fd)
    print(json.dumps({
        "odd": odd, "fd": fd, "moved": moved, "hidden": hidden,
        "same": os.path.samestat(os.fstat(fd), os.fstat(moved)),
        "cloexec": bool(fcntl.fcntl(moved, fcntl.F_GETFD) & fcntl.FD_CLOEXEC),
        "soft": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
    }))
    """
)

INTERPRETERS = ["venv", "debian", "3.8", "3.9", "3.10", "3.12", "3.13"]

# setup.py's HELPER_PARTS: what the helper is built from
PARTS = ["agent/helper/helper.c", "agent/native/constants.h", "agent/native/placement.h"]


def run(command: list[str], **kwargs) -> dict:
    assert HELPER.is_file(), f"{HELPER} was not built (pip install -e . builds it)"
    result = subprocess.run(
        [*command, str(HELPER)], capture_output=True, text=True, timeout=60, **kwargs
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_the_helper_was_built_from_the_source_as_it_is():
    """A rebuild that fails (the build is optional) leaves the previous helper in place:
    every test of the pure-Python agent would then run an old one."""
    digest = hashlib.sha256()  # setup.py's sources_digest(HELPER_PARTS)
    for part in PARTS:
        digest.update(part.encode() + b"\0" + (ROOT / part).read_bytes() + b"\0")
    seen = run([sys.executable, "-c", LOAD + "print(json.dumps(helper.SOURCE_SHA256))"])
    assert seen == digest.hexdigest(), "the helper is stale: pip install -e . did not rebuild it"


@pytest.mark.parametrize("which", INTERPRETERS)
def test_the_helper_maps_a_ring_and_writes_as_its_protocol_says(which):
    seen = run([interpreter_or_skip(which), "-c", RING])
    # a size that is not a header and a power of two of data: refused, nothing mapped
    assert seen["odd"] == ["ValueError"] * 4 + ["TypeError"], seen
    # the memfd, close-on-exec, is the one descriptor it opened: the mapping keeps none
    assert seen["new"] == [seen["fd"]] and seen["cloexec"], seen
    assert seen["name"].startswith("/memfd:auditmon-ring"), seen
    assert seen["size"] == seen["sizes"][0] == HEADER + 8192 and seen["sizes"][1] == 8
    assert seen["steps"] == [
        False,  # until 0: the agent's Python side writes
        True,
        True,
        7,  # the head: the bytes written, stored after them
        False,
        7,
        "TypeError",
        "TypeError",
        7,
    ], seen
    assert seen["written"].startswith("abcdefg") and seen["shared"] == "abcdefg"


@pytest.mark.parametrize("limit", ["room above", "constrained"])
def test_the_helper_moves_a_descriptor_out_of_the_way(limit):
    """A close-on-exec copy at or above the soft limit where there is room above it (or,
    where it may not be raised, under it), the descriptor itself left open, and whether
    the copy is out of sight (native/placement.h's rule, the native agent's too)."""
    command = [sys.executable, "-c", MOVE]
    lowered = {}
    if limit == "constrained":
        command = constrained(command)
    else:
        soft, hard = 1024, resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if hard != resource.RLIM_INFINITY and hard < soft + agent_constants.FD_ROOM:
            pytest.skip(f"the hard descriptor limit ({hard}) leaves no room above {soft}")
        lowered["preexec_fn"] = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    seen = run(command, **lowered)
    assert seen["odd"] == ["ValueError", "ValueError", "OverflowError", "TypeError"], seen
    assert seen["same"] and seen["cloexec"], seen
    assert seen["hidden"] == (seen["moved"] >= seen["soft"])
    if limit == "constrained":
        assert not seen["hidden"] and seen["fd"] < seen["moved"] < seen["soft"], seen
    else:
        room = range(1024, 1024 + agent_constants.FD_ROOM)
        assert seen["hidden"] and seen["soft"] == 1024 and seen["moved"] in room, seen
