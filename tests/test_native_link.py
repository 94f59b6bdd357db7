"""Run mode's link to the monitor: what the target may never notice about it.

The native agent connects and sends from a thread of the extension's own that never
takes the GIL; the pure-Python agent from a Python thread.  Real targets, real sockets.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
from conftest import AGENT_DIR, agent_env

from auditmon import protocol


def listener(tmp_path):
    path = tmp_path / "monitor.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    server.settimeout(10)
    return server, path


def target_env(kind, path):
    return agent_env(
        kind, AUDITMON_MODE="run", AUDITMON_SOCKET=str(path), PYTHONPATH=str(AGENT_DIR)
    )


def start_target(kind, path, script, capture=True):
    """A target running ``script`` under the ``kind`` agent, streaming to ``path``."""
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    return subprocess.Popen(
        [sys.executable, "-c", script], env=target_env(kind, path), **(pipes if capture else {})
    )


def messages_until(conn, wanted, timeout=10.0):
    """Decode what the agent sends until an event named ``wanted`` arrives."""
    unpacker = protocol.make_unpacker()
    conn.settimeout(0.2)
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            data = conn.recv(1 << 16)
        except TimeoutError:
            continue
        if not data:
            break
        unpacker.feed(data)
        for kind, body in unpacker:
            seen.append((kind, body))
            if kind == protocol.EVENTS and any(e[3] == wanted for e in body):
                return seen
    raise AssertionError(f"{wanted!r} never arrived; got kinds {[k for k, _ in seen]}")


def test_the_native_writer_sends_while_the_target_never_lets_go_of_the_gil(tmp_path):
    """With a switch interval of 1000 s the busy target never gives the GIL up: a writer
    that needed it would send nothing until the loop ends."""
    server, path = listener(tmp_path)
    script = (
        "import sys, time\n"
        "sys.audit('link.before', 1)\n"
        "sys.setswitchinterval(1000)\n"
        "end = time.monotonic() + 60\n"
        "while time.monotonic() < end: pass\n"
    )
    target = start_target("native", path, script, capture=False)
    try:
        conn, _ = server.accept()
        seen = messages_until(conn, "link.before")
        assert seen[0][0] == protocol.HELLO and seen[0][1]["agent"] == "native"
        assert target.poll() is None  # it arrived while the target was still busy
    finally:
        target.kill()
        target.wait()
        server.close()


@pytest.mark.parametrize("kind", ["native", "python"])
def test_the_target_carries_on_when_the_monitor_goes_away(tmp_path, kind):
    server, path = listener(tmp_path)
    script = (
        "import sys, time\n"
        "sys.audit('link.first', 1)\n"
        "end = time.monotonic() + 1.5\n"
        "n = 0\n"
        "while time.monotonic() < end:\n"
        "    sys.audit('link.more', n, 'x' * 100)\n"
        "    n += 1\n"
        "print('done', n > 0)\n"
    )
    target = start_target(kind, path, script)
    conn, _ = server.accept()
    messages_until(conn, "link.first")
    conn.close()  # the monitor is gone while the target raises thousands of events
    server.close()
    out, err = target.communicate(timeout=30)
    assert target.returncode == 0, err
    assert out == "done True\n"
    assert err == ""


def test_native_run_start_up_loads_no_socket_module_nor_the_python_transport(tmp_path):
    """What the agent imports at start-up, every process pays for: the native run path
    leaves the Python writer, the protocol module and ``_socket`` unloaded; describing
    the import system's finders (every import event) leaves the summariser unloaded."""
    server, path = listener(tmp_path)
    show = "import sys, json, email.parser; print(' '.join(sorted(sys.modules)))"
    plain = subprocess.run(
        [sys.executable, "-c", show], capture_output=True, text=True, check=True
    ).stdout.split()
    target = start_target("native", path, show)
    conn, _ = server.accept()
    out, _ = target.communicate(timeout=30)
    conn.close()
    server.close()
    added = set(out.split()) - set(plain)
    assert "_auditmon_agent._native" in added  # the agent did start
    unwanted = {
        "_socket",
        "socket",
        "threading",
        "_auditmon_agent.transport",
        "_auditmon_agent.wire",
        "_auditmon_agent.summarize",
    }
    assert added & unwanted == set()


@pytest.mark.parametrize("kind", ["native", "python"])
def test_a_hook_the_target_adds_never_sees_the_agent_load_anything(tmp_path, kind):
    """The agent imports its summariser and encoder lazily; when the target adds an audit
    hook of its own, the agent loads them first, so that hook never sees those imports."""
    server, path = listener(tmp_path)
    script = (
        "import socket, sys, time\n"
        "seen = []\n"
        "sys.addaudithook(lambda event, args: seen.append(event))\n"
        "s = socket.socket(socket.AF_UNIX)\n"  # described by the Python summariser
        "sys.audit('link.odd', s, {1: [s]}, type('D', (dict,), {})(a=1))\n"
        "time.sleep(0.1)\n"  # the Python writer's first send, and its encoder
        "s.close()\n"
        "print(' '.join(e for e in seen if e != 'time.sleep'))\n"  # an event on 3.12+
    )
    target = start_target(kind, path, script)
    conn, _ = server.accept()
    messages_until(conn, "link.odd")
    out, err = target.communicate(timeout=30)
    conn.close()
    server.close()
    assert target.returncode == 0, err
    assert out.split() == ["socket.__new__", "link.odd"]
