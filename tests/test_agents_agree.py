"""Logic the agent keeps twice on purpose, in C (plain run mode starts in the extension
without importing the Python package) and in Python: both agents must behave alike.

* is this auditmon itself? (``auditmon_itself`` in native/start.c, ``is_auditmon_itself``
  in ``_auditmon_agent/__init__.py``)
* where the agent's package is loaded from (``load_package`` in native/adopt.c,
  ``_load_package`` in sitecustomize.py)
* a forked child starting afresh (``restart_in_child`` in native/adopt.c, the core's
  fork handler)
"""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from helpers import AGENT_DIR, agent_env, all_messages

from auditmon import protocol

pytestmark = pytest.mark.system  # real targets under both agents

# native: started in C and never adopted; adopted: a dict argument makes the extension
# hand over to the Python core first; python: the pure-Python agent.
KINDS = ["native", "adopted", "python"]
ADOPT = "import sys\nsys.audit('agree.adopt', {'a': 1})\n"


def listener(tmp_path):
    path = tmp_path / "monitor.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    server.settimeout(10)
    return server, path


def run_target(kind, path, argv, extra_path=None, **popen):
    """``argv`` run by this interpreter under the ``kind`` agent, streaming to ``path``."""
    pythonpath = str(AGENT_DIR) + (f":{extra_path}" if extra_path else "")
    env = agent_env(
        "python" if kind == "python" else "native",
        AUDITMON_MODE="run",
        AUDITMON_SOCKET=str(path),
        PYTHONPATH=pythonpath,
    )
    return subprocess.Popen(
        argv,
        executable=sys.executable,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        cwd=path.parent,  # not the checkout, where -m would find the real auditmon
        **popen,
    )


def sent_events(messages):
    return [e for kind, body in messages if kind == protocol.EVENTS for e in body]


PROBE = (
    "import sys\n"
    "sys.audit('agree.probe', 1)\n"
    "native = sys.modules.get('_auditmon_native')\n"
    "print(native is not None and native.agent() is not None,"
    " '_auditmon_agent.core' in sys.modules)\n"
)


def auditmon_package(tmp_path, name):
    """A package ``name`` whose ``probe`` module runs PROBE (``python -m name.probe``)."""
    package = tmp_path / "site" / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "probe.py").write_text(PROBE)
    return tmp_path / "site"


@pytest.mark.parametrize("kind", ["native", "python"])
@pytest.mark.parametrize(
    "command, monitored",
    [
        (["auditmon", "-c", PROBE], False),  # argv[0] named auditmon
        (["/some/where/auditmon", "-c", PROBE], False),
        ([sys.executable, "-m", "auditmon.probe"], False),
        ([sys.executable, "-m", "auditmonitor.probe"], True),  # only the name's prefix
        (["auditmonitor", "-c", PROBE], True),
    ],
    ids=["argv0", "argv0-path", "-m-auditmon", "-m-other", "argv0-other"],
)
def test_neither_agent_monitors_auditmon_itself(tmp_path, kind, command, monitored):
    server, path = listener(tmp_path)
    site = None
    if "-m" in command:
        site = auditmon_package(tmp_path, command[-1].split(".")[0])
    target = run_target(kind, path, command, extra_path=site)
    try:
        out, _ = target.communicate(timeout=30)
        assert target.returncode == 0
        server.settimeout(0.5 if not monitored else 10)
        try:
            conn, _ = server.accept()
        except TimeoutError:
            conn = None
    finally:
        server.close()
    if not monitored:
        assert conn is None, "the agent connected from auditmon itself"
        assert out.split() == ["False", "False"]
        return
    assert conn is not None
    messages = all_messages(conn)
    assert messages[0][0] == protocol.HELLO
    assert "agree.probe" in [e[3] for e in sent_events(messages)]


DECOY = "raise SystemExit('the decoy _auditmon_agent was imported')\n"


@pytest.mark.parametrize("kind", ["adopted", "python"])
def test_both_loaders_take_the_package_from_the_agent_directory(tmp_path, kind):
    """The agent's directory is off sys.path once the target runs; a package of the same
    name elsewhere on the path is not the agent's."""
    decoy = tmp_path / "decoy" / "_auditmon_agent"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text(DECOY)
    server, path = listener(tmp_path)
    script = ADOPT + "import sys; print(sys.modules['_auditmon_agent'].__file__)\n"
    target = run_target(kind, path, [sys.executable, "-c", script], extra_path=decoy.parent)
    try:
        messages = all_messages(server.accept()[0])
        out, _ = target.communicate(timeout=30)
    finally:
        server.close()
    assert target.returncode == 0
    assert out.strip() == str(AGENT_DIR / "_auditmon_agent" / "__init__.py")
    assert "agree.adopt" in [e[3] for e in sent_events(messages)]


FORKS = """
import os, sys
sys.audit('agree.parent', 1)
pid = os.fork()
if pid == 0:
    sys.audit('agree.child', 1)
    sys.exit(0)
os.waitpid(pid, 0)
sys.audit('agree.after', 1)
"""


@pytest.mark.parametrize("kind", KINDS)
def test_a_forked_child_starts_afresh_under_every_agent(tmp_path, kind):
    """Its own connection and hello (its pid, the parent as ppid), numbering from 1 and
    none of the parent's events; the parent's stream goes on without the child's."""
    server, path = listener(tmp_path)
    script = (ADOPT if kind == "adopted" else "") + FORKS
    target = run_target(kind, path, [sys.executable, "-c", script])
    try:
        streams = [all_messages(server.accept()[0]) for _ in range(2)]
        target.communicate(timeout=30)
    finally:
        server.close()
    assert target.returncode == 0
    by_pid = {messages[0][1]["pid"]: messages for messages in streams}
    parent = by_pid.pop(target.pid)
    (child,) = by_pid.values()
    hello = child[0]
    assert hello[0] == protocol.HELLO and hello[1]["ppid"] == target.pid
    assert hello[1]["events"] == 0 and hello[1]["start"] >= parent[0][1]["start"]
    child_events = sent_events(child)
    assert [e[3] for e in child_events if e[3].startswith("agree.")] == ["agree.child"]
    assert child_events[0][0] == 1
    assert [e[0] for e in child_events] == list(range(1, len(child_events) + 1))
    parent_names = [e[3] for e in sent_events(parent)]
    assert "agree.parent" in parent_names and "agree.after" in parent_names
    assert "agree.child" not in parent_names
