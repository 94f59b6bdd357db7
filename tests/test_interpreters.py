"""The agent on other CPythons (3.8 to 3.13): the pure-Python hook where no native build fits,
and the native one built for each (auditmon builds it for the interpreter it installs on)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import (
    AGENT_DIR,
    ROOT,
    all_messages,
    clean_env,
    events_of,
    other_cpython_or_skip,
    read_jsonl,
    run_recorded,
    wait_for,
)

from auditmon import protocol

sys.path.insert(0, str(ROOT))
from tools.cext import c_compiler, compile_extension  # noqa: E402

sys.path.remove(str(ROOT))

pytestmark = pytest.mark.system

#: The other CPythons the agent is run on (3.8: the oldest it supports; 3.11 is ours).
OTHER_MINORS = ["3.8", "3.10", "3.12", "3.13", "3.14"]

WORKLOAD = (
    "import os, subprocess, sys\n"
    "sys.audit('interp.check', sys.version_info[:2], 'x' * 2000)\n"
    "subprocess.run([sys.executable, '-c', 'import sys; sys.audit(\"interp.child\")'])\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    sys.audit('interp.forked')\n"
    "    sys.exit(0)\n"  # (os._exit would skip the flush: a documented limit)
    "os.waitpid(pid, 0)\n"
)


@pytest.mark.parametrize("minor", OTHER_MINORS)
def test_the_agent_runs_on_other_interpreters(tmp_path, minor):
    python = other_cpython_or_skip(minor)
    record = tmp_path / "rec.jsonl"
    result = run_recorded(record, python, "-c", WORKLOAD, timeout=60)
    assert result.returncode == 0, result.stderr
    records = read_jsonl(record)
    names = [e["event"] for e in events_of(records)]
    assert {"interp.check", "interp.child", "interp.forked"} <= set(names)
    (check,) = [e for e in events_of(records) if e["event"] == "interp.check"]
    assert check["args"][1] == {"$cut": "x" * 1024, "length": 2000}
    processes = [r for r in records if r["type"] == "process"]
    assert len(processes) == 3
    assert {p["agent"] for p in processes} <= {"python", "native"}
    assert not [r for r in records if r["type"] == "dropped"]


NATIVE_WORKLOAD = (
    "import os, sys\n"
    "started_in_c = '_auditmon_agent' not in sys.modules\n"
    "sys.audit('native.plain', 1, 'two', None, 2.5)\n"
    "sys.audit('native.odd', {'k': [1, 2]}, 2**100, bytearray(b'x'))\n"  # adopted here
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    sys.audit('native.child', 7)\n"
    "    sys.exit(0)\n"
    "os.waitpid(pid, 0)\n"
    "print(started_in_c)\n"
)


def build_native(python: str, directory: Path) -> Path:
    """The agent, with its extension compiled for ``python``, in ``directory``."""
    agent = directory / "agent"
    shutil.copytree(AGENT_DIR, agent, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    compile_extension(
        python,
        agent / "native" / "module.c",
        agent,
        "_auditmon_native",
        ["-fwrapv", "-Wall", "-Werror"],
    )
    return agent


def messages_of_two_processes(server: socket.socket, target: subprocess.Popen) -> list[list]:
    """Everything the parent and its forked child send, one list per connection."""
    connections = []
    server.settimeout(0.2)

    def both_connected() -> bool:
        try:
            connections.append(server.accept()[0])
        except TimeoutError:
            # connections made before the target ended are still queued: none will come
            assert target.poll() is None, f"the target ended ({target.returncode}) unheard"
        return len(connections) >= 2

    # accept() itself waits (0.2 s at a time): no sleep between tries
    wait_for(
        both_connected,
        30,
        "the parent's and the forked child's connections",
        interval=0,
        state=lambda: f"{len(connections)} connection(s)",
    )
    return [all_messages(conn) for conn in connections]


@pytest.mark.parametrize("minor", [m for m in OTHER_MINORS if m != "3.8"])
def test_the_native_agent_builds_and_starts_in_c_on_other_interpreters(tmp_path, minor):
    """auditmon installs on 3.9+, building the extension for the installing interpreter:
    there run mode starts in C, adopts its Python side on an odd value, and follows a
    fork.  Built here for each other CPython found, and run for real."""
    python = other_cpython_or_skip(minor)
    if c_compiler() is None:
        pytest.skip("no C compiler on this machine")
    agent = build_native(python, tmp_path)
    path = tmp_path / "monitor.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(4)
    env = clean_env(PYTHONPATH=str(agent), AUDITMON_MODE="run", AUDITMON_SOCKET=str(path))
    target = subprocess.Popen(
        [python, "-W", "ignore::DeprecationWarning", "-c", NATIVE_WORKLOAD],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        streams = messages_of_two_processes(server, target)
        out, err = target.communicate(timeout=30)
    finally:
        server.close()
        if target.poll() is None:
            target.kill()
    assert target.returncode == 0 and err == "", err
    assert out == "True\n"  # run mode started in C
    seen = {}
    for messages in streams:
        kind, hello = messages[0]
        assert kind == protocol.HELLO and hello["agent"] == "native"
        assert hello["python"].startswith(f"cpython {minor}.")
        events = [e for k, body in messages if k == protocol.EVENTS for e in body]
        assert messages[-1][0] == protocol.GOODBYE
        assert messages[-1][1]["last_seq"] == len(events)
        seen.update({e[3]: e[4] for e in events if e[3].startswith("native.")})
    assert seen["native.plain"] == (1, "two", None, 2.5)
    assert seen["native.odd"] == ({"k": (1, 2)}, 2**100, b"x")
    assert seen["native.child"] == (7,)
