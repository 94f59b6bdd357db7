"""Run mode's link to the monitor: what the target may never notice about it.

Both agents write each event into a shared-memory ring as it is raised (the monitor
reads it; the socket carries the hello, the goodbye and wake-ups), with no thread of
their own.  Real targets, real sockets, real rings (tests/helpers.AgentStream reads
them as the monitor does).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

import pytest
from helpers import AGENT_DIR, AgentStream, agent_env, all_messages, wait_for

from auditmon import protocol

pytestmark = pytest.mark.system

# Counting a process's threads reads /proc/self/task.
needs_proc = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="no /proc (not Linux)")


def sent_events(messages) -> list:
    """The events in an agent's messages, in the order they came."""
    return [e for kind, body in messages if kind == protocol.EVENTS for e in body]


def listener(tmp_path):
    path = tmp_path / "monitor.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    server.settimeout(10)
    return server, path


def target_env(kind, path, **extra):
    return agent_env(
        kind, AUDITMON_MODE="run", AUDITMON_SOCKET=str(path), PYTHONPATH=str(AGENT_DIR), **extra
    )


def start_target(kind, path, script, capture=True, popen=None, **extra):
    """A target running ``script`` under the ``kind`` agent, streaming to ``path``."""
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    return subprocess.Popen(
        [sys.executable, "-c", script],
        env=target_env(kind, path, **extra),
        **(pipes if capture else {}),
        **(popen or {}),
    )


def messages_until(conn, wanted, timeout=30.0):
    """Decode what the agent sends until an event named ``wanted`` arrives."""
    stream = AgentStream(conn)
    seen = []

    def arrived() -> bool:
        got = stream.read(0.2)
        seen.extend(got)
        if any(kind == protocol.EVENTS and any(e[3] == wanted for e in body) for kind, body in got):
            return True
        assert not stream.closed, (
            f"the agent hung up before {wanted!r}; got kinds {[k for k, _ in seen]}"
        )
        return False

    # recv() itself waits (0.2 s at a time): no sleep between reads
    wait_for(
        arrived,
        timeout,
        f"the event {wanted!r}",
        interval=0,
        state=lambda: f"message kinds so far: {[k for k, _ in seen]}",
    )
    return seen


def run_to_the_end(tmp_path, script, cwd_gone=False, **extra):
    """Run a native-agent target to its end: (every message it sent, its stdout).
    ``cwd_gone``: its working directory is removed before it starts."""
    server, path = listener(Path(tempfile.mkdtemp(dir=tmp_path)))
    popen = {}
    if cwd_gone:
        gone = tempfile.mkdtemp(dir=tmp_path)
        popen = {"cwd": gone, "preexec_fn": lambda: os.rmdir(gone)}
    target = start_target("native", path, script, popen=popen, AUDITMON_DEBUG="1", **extra)
    try:
        messages = all_messages(server.accept()[0])
        out, err = target.communicate(timeout=30)
    finally:
        server.close()
        if target.poll() is None:
            target.kill()
            target.wait()
    assert target.returncode == 0 and err == "", err
    return messages, out


SHOW_AGENT = "import sys; print(sorted(m for m in sys.modules if m.startswith('_auditmon')))\n"


def started_in_c(out):
    loaded = eval(out.splitlines()[0])  # the printed list of the agent's modules
    assert "_auditmon_native" in loaded
    return "_auditmon_agent" not in loaded


@pytest.mark.parametrize("cwd_gone", [False, True])
def test_run_mode_started_in_c_says_hello_as_the_python_side_does(tmp_path, cwd_gone):
    """The hello run mode's C start builds is the one the Python side builds, field for
    field and in the same order, in a working directory that is gone too; a glob (here
    one that matches nothing) makes the Python side start the same native agent."""
    script = SHOW_AGENT + "import sys; sys.audit('link.mark', 1)\n"
    c_messages, c_out = run_to_the_end(tmp_path, script, cwd_gone)
    py_messages, py_out = run_to_the_end(
        tmp_path, script, cwd_gone, AUDITMON_EXCLUDE="no.such.event"
    )
    assert started_in_c(c_out) and not started_in_c(py_out)
    (c_kind, c_hello), (py_kind, py_hello) = c_messages[0], py_messages[0]
    assert c_kind == py_kind == protocol.HELLO
    assert list(c_hello) == list(py_hello)
    assert list(c_hello)[:9] == [
        "pid",
        "ppid",
        "argv",
        "executable",
        "cwd",
        "python",
        "start",
        "startup",
        "agent",
    ]
    for key in ("pid", "ppid", "start"):
        assert type(c_hello[key]) is type(py_hello[key]), key
        del c_hello[key], py_hello[key]
    assert c_hello == py_hello
    assert c_hello["agent"] == "native" and c_hello["mode"] == "run"
    assert (c_hello["cwd"] is None) == cwd_gone
    for messages in (c_messages, py_messages):
        kinds = [kind for kind, _ in messages]
        assert kinds[-1] == protocol.GOODBYE and protocol.DROPPED not in kinds
        events = sent_events(messages)
        assert [e[4] for e in events if e[3] == "link.mark"] == [(1,)]
        assert messages[-1][1]["last_seq"] == len(events)
        # the interpreter's teardown, after atexit's goodbye, is seen either way
        assert events[-1][3] == "cpython.PyInterpreterState_Clear"


BURST = "import sys\nfor i in range(20000): sys.audit('link.burst', i, 'x' * 40)\n"


@pytest.mark.parametrize(
    ("setting", "in_c"),
    [
        ({}, True),
        ({"AUDITMON_QUEUE": "4"}, True),  # a plain number: read in C
        ({"AUDITMON_QUEUE": " 4 "}, False),  # int() reads it; C leaves it to Python
        ({"AUDITMON_QUEUE": "4", "AUDITMON_EVENTS": "link.*"}, False),
    ],
)
def test_run_mode_settings_are_honoured_whichever_side_starts_it(tmp_path, setting, in_c):
    """The C start reads the environment only where it reads it exactly as the Python
    side does, and leaves anything else to the Python side: either way the settings hold
    (a 4-event buffer under a 20 000-event burst drops, and the drops are counted)."""
    messages, out = run_to_the_end(tmp_path, SHOW_AGENT + BURST, **setting)
    assert started_in_c(out) == in_c
    events = sent_events(messages)
    dropped = sum(body["count"] for kind, body in messages if kind == protocol.DROPPED)
    assert (dropped > 0) == ("AUDITMON_QUEUE" in setting)
    assert messages[-1][0] == protocol.GOODBYE
    assert messages[-1][1]["last_seq"] == len(events) + dropped
    if "AUDITMON_EVENTS" in setting:
        assert {e[3] for e in events} == {"link.burst"}
        assert len(events) + dropped == 20000
    else:
        assert {"exec", "link.burst"} <= {e[3] for e in events}


def test_events_arrive_while_the_target_never_lets_go_of_the_gil(tmp_path):
    """With a switch interval of 1000 s the busy target never gives the GIL up: a writer
    that needed it would send nothing until the loop ends; the ring needs no writer."""
    server, path = listener(tmp_path)
    script = (
        "import sys, time\n"
        "for i in range(100): sys.audit('link.warm-up', i)\n"
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


TASKS = "import os; print(len(os.listdir('/proc/self/task')))\n"


@needs_proc
def test_a_process_that_raises_few_events_starts_no_thread(tmp_path):
    """Most processes are short: they pay for no thread, and every event still arrives,
    then the goodbye."""
    messages, out = run_to_the_end(tmp_path, "import sys\nsys.audit('link.few', 1)\n" + TASKS)
    assert out == "1\n"  # the main thread only
    names = [e[3] for e in sent_events(messages)]
    assert "link.few" in names
    assert messages[-1][0] == protocol.GOODBYE
    assert messages[-1][1]["last_seq"] == len(names)


@needs_proc
def test_a_process_that_raises_many_events_starts_no_thread_either(tmp_path):
    """The old writer thread made every busy target multi-threaded (a DeprecationWarning
    at fork on 3.12+): the ring needs none."""
    script = "import sys\nfor i in range(500): sys.audit('link.many', i)\n" + TASKS
    messages, out = run_to_the_end(tmp_path, script)
    assert out == "1\n"  # the main thread only
    many = [e[4][0] for e in sent_events(messages) if e[3] == "link.many"]
    assert many == list(range(500))


def test_events_of_several_threads_are_numbered_once(tmp_path):
    """Threads raise events, each numbered once and written whole into the ring."""
    script = (
        "import sys, threading\n"
        "def raise_some(n):\n"
        "    for i in range(3): sys.audit('link.thread', n, i)\n"
        "threads = [threading.Thread(target=raise_some, args=(n,)) for n in range(4)]\n"
        "for t in threads: t.start()\n"
        "for t in threads: t.join()\n"
    )
    messages, _ = run_to_the_end(tmp_path, script)
    events = sent_events(messages)
    assert sorted(tuple(e[4]) for e in events if e[3] == "link.thread") == [
        (n, i) for n in range(4) for i in range(3)
    ]
    assert [e[0] for e in events] == list(range(1, len(events) + 1))
    assert messages[-1][0] == protocol.GOODBYE
    assert messages[-1][1]["last_seq"] == len(events)


@needs_proc
def test_a_process_that_cannot_have_a_thread_is_monitored_all_the_same(tmp_path):
    """Its address space capped below a thread's stack, the target could not have had
    the old writer thread (which left it unmonitored): the ring needs none."""
    script = (
        "import os, resource, sys\n"
        "for i in range(5): sys.audit('link.early', i)\n"
        "vm = int(open('/proc/self/status').read().split('VmSize:')[1].split()[0]) * 1024\n"
        "resource.setrlimit(resource.RLIMIT_AS, (vm + 48 * 1024, resource.RLIM_INFINITY))\n"
        "for i in range(30): sys.audit('link.late', i)\n"
        "print('done', len(os.listdir('/proc/self/task')))\n"
    )
    messages, out = run_to_the_end(tmp_path, script)
    assert out == "done 1\n"
    names = [e[3] for e in sent_events(messages)]
    assert names.count("link.early") == 5 and names.count("link.late") == 30
    assert messages[-1][0] == protocol.GOODBYE
    assert messages[-1][1]["last_seq"] == len(names)


TEARDOWN = (
    "import os, sys\n"
    "sys.audit('link.odd', {'k': 1})\n"  # a dict: the Python side adopts the agent
    "class Late:\n"
    "    audit = sys.audit\n"
    "    def __del__(self):\n"
    "        self.audit('link.teardown', 1)\n"
    "os._auditmon_test_late = Late()\n"
    "print('_auditmon_agent.core' in sys.modules)\n"
)


def test_after_adoption_a_new_event_at_teardown_is_still_recorded(tmp_path):
    """An object that ``os`` holds (cleared after the agent's own modules) raises an event
    of a new name as the interpreter tears modules down: deciding it must not need the
    Python side, whose globals are gone by then."""
    messages, out = run_to_the_end(tmp_path, TEARDOWN)
    assert out == "True\n"
    names = [e[3] for e in sent_events(messages)]
    assert "link.teardown" in names
    assert messages[-1][0] == protocol.GOODBYE
    assert messages[-1][1]["last_seq"] == len(names)


def test_with_globs_a_new_event_at_teardown_is_counted_as_dropped(tmp_path):
    """With --events the decision is the Python side's: an event of a new name raised
    after its module is gone can't be decided, so it is counted, not lost silently."""
    script = TEARDOWN.replace("sys.audit('link.odd', {'k': 1})\n", "")
    messages, out = run_to_the_end(tmp_path, script, AUDITMON_EVENTS="link.*")
    names = [e[3] for e in sent_events(messages)]
    dropped = sum(body["count"] for kind, body in messages if kind == protocol.DROPPED)
    assert "link.teardown" not in names and dropped == 1
    assert messages[-1][0] == protocol.GOODBYE
    assert messages[-1][1]["last_seq"] == len(names) + dropped


def test_the_first_events_arrive_while_the_process_waits(tmp_path):
    """No writer yet, and the target then sleeps: its events must not wait for its end."""
    server, path = listener(tmp_path)
    script = "import sys, time\nsys.audit('link.early', 1)\ntime.sleep(60)\n"
    target = start_target("native", path, script, capture=False)
    try:
        conn, _ = server.accept()
        messages_until(conn, "link.early")
        assert target.poll() is None
    finally:
        target.kill()
        target.wait()
        server.close()


FORKS = """
import os, sys
pid = os.fork()
if pid == 0:
    sys.audit('link.child', 1)
    print(sorted(m for m in sys.modules if m.startswith('_auditmon')), flush=True)
    os._exit(0)  # no flush at all: the hook sent its first events itself
os.waitpid(pid, 0)
sys.audit('link.parent', 1)
"""


def test_a_forked_child_starts_afresh_without_the_python_side(tmp_path):
    """A child of a process started in C gets its own identity and connection from the
    extension: it doesn't import the agent's Python package (milliseconds per fork)."""
    server, path = listener(tmp_path)
    target = start_target("native", path, FORKS)
    try:
        streams = [all_messages(server.accept()[0]) for _ in range(2)]
        out, err = target.communicate(timeout=30)
    finally:
        server.close()
    assert target.returncode == 0 and err == "", err
    assert out == "['_auditmon_native']\n"
    by_pid = {messages[0][1]["pid"]: messages for messages in streams}
    child = by_pid.pop(next(p for p in by_pid if p != target.pid))
    parent = by_pid[target.pid]
    assert child[0][0] == protocol.HELLO and child[0][1]["ppid"] == target.pid
    assert child[0][1]["events"] == 0 and child[0][1]["start"] > parent[0][1]["start"]
    names = [e[3] for e in sent_events(child)]
    assert names[0] == "link.child" and sent_events(child)[0][0] == 1
    parent_names = [e[3] for e in sent_events(parent)]
    assert "link.parent" in parent_names and "link.child" not in parent_names


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


@pytest.mark.parametrize("kind", ["native", "python"])
def test_an_agent_whose_monitor_is_gone_stops_recording(tmp_path, kind):
    """The ring fills once no one reads it, and the wake-up sent then finds the socket
    closed: the agent stops numbering events (each would only be dropped, at a cost).
    Here the monitor's mapping of the ring outlives its socket, to look."""
    server, path = listener(tmp_path)
    script = (
        "import sys\n"
        "sys.audit('link.first', 1)\n"
        "sys.stdin.readline()\n"
        "for n in range(300_000): sys.audit('link.more', n, 'x' * 100)\n"
        "print('done')\n"
    )
    target = start_target(kind, path, script, popen={"stdin": subprocess.PIPE})
    stream = AgentStream(server.accept()[0])
    wait_for(lambda: any(k == protocol.EVENTS for k, _ in stream.read(0.2)))
    stream.conn.close()  # the monitor is gone; its mapping stays, to look at
    server.close()
    out, err = target.communicate("go\n", timeout=60)
    assert target.returncode == 0 and out == "done\n", err
    dropped, head = (
        int.from_bytes(stream.ring.map[at : at + 8], sys.byteorder)
        for at in (RING.RING_DROPPED_AT, RING.RING_HEAD_AT)
    )
    # 300 000 events of 130 bytes or so are five 8 MiB rings: recording on would have
    # dropped most; it stopped at the wake-up, when the ring was half full
    assert head > 0 and dropped < 1000, (head, dropped)
    stream.ring.close()


RING = protocol.agent_constants


def has_msgpack() -> bool:
    return importlib.util.find_spec("msgpack") is not None


def modules_added_at_start(tmp_path, kind, imports=""):
    """The modules a target that imports ``imports`` has under the ``kind`` agent and not
    without it: what the agent loads at start-up (every process pays for it).  With no
    ``kind``: what ``imports`` adds, without any agent."""
    show = f"import sys{imports}; print(' '.join(sorted(sys.modules)))"
    plain = subprocess.run(
        [sys.executable, "-c", show if kind else "import sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if kind is None:
        added = subprocess.run(
            [sys.executable, "-c", show], capture_output=True, text=True, check=True
        ).stdout.split()
        return set(added) - set(plain)
    server, path = listener(tmp_path)
    target = start_target(kind, path, show)
    conn, _ = server.accept()
    out, _ = target.communicate(timeout=30)
    conn.close()
    server.close()
    return set(out.split()) - set(plain)


def test_native_run_start_up_loads_nothing_of_the_python_agent(tmp_path):
    """Plain run mode starts in the extension, leaving the agent's Python package,
    ``_socket`` and ``threading`` unloaded; describing the import system's finders
    (every import event) needs none."""
    added = modules_added_at_start(tmp_path, "native", ", json, email.parser")
    assert "_auditmon_native" in added  # the agent did start
    unwanted = {
        "_socket",
        "socket",
        "threading",
        "_auditmon_agent",  # plain run mode starts in C: no Python package at all
        "_auditmon_agent.config",
        "_auditmon_agent.core",
        "_auditmon_agent.transport",
        "_auditmon_agent.attach",
        "_auditmon_agent.wire",
        "_auditmon_agent.summarize",
    }
    assert added & unwanted == set()
    # nothing at all beyond the extension, the bootstrap and the exit handlers' module:
    # the target's own imports are its own, not already done by the agent
    assert added <= {"_auditmon_native", "sitecustomize", "atexit"}, added


def test_python_run_start_up_loads_the_agent_and_c_modules_only(tmp_path):
    """The pure-Python agent's start-up, in a target that imports nothing itself: its
    own package but attach mode's writer, of the standard library only the C modules it
    needs (``_socket``, not ``socket``; ``_struct``, not ``struct``, whose import every
    process would pay; ``fcntl`` and ``resource``, to place its socket's descriptor where
    the preload library does not do it;
    ``mmap``, to map its ring),
    and the encoder it sends with: msgpack where the target has it, with what msgpack
    imports (loaded at start, not on the writer thread, whose opening of their files
    would race the target's own open() for the low descriptor numbers)."""
    added = modules_added_at_start(tmp_path, "python")
    assert "_auditmon_agent.core" in added  # the Python agent did start
    assert "_auditmon_agent.attach" not in added
    package = {m for m in added if m.split(".")[0] == "_auditmon_agent"}
    encoder = modules_added_at_start(tmp_path, None, ", msgpack") if has_msgpack() else set()
    own = {"sitecustomize", "atexit", "_socket", "_struct", "fcntl", "resource", "mmap"}
    assert added - package - encoder <= own, added


def wiped_at_teardown(stderr: str) -> set[str]:
    """The modules ``python -v`` reports wiping one by one at teardown: those something
    still held once ``sys.modules`` was cleared."""
    marker = "# cleanup[3] wiping "
    return {line[len(marker) :] for line in stderr.splitlines() if line.startswith(marker)}


def test_native_run_keeps_no_module_alive_to_the_teardown(tmp_path):
    """Whatever the started agent holds lives to the end, and the interpreter's teardown
    wipes each module still held by hand (holding sitecustomize's globals kept ``os`` and
    four more: 0.4 M instructions at every exit).  Only the extension itself may be.  In
    a bare venv: this one's site-packages hold enough of their own to hide it."""
    venv.create(tmp_path / "bare", with_pip=False)
    python = str(tmp_path / "bare" / "bin" / "python")
    server, path = listener(tmp_path)
    plain = subprocess.run(
        [python, "-v", "-c", "pass"], capture_output=True, text=True, check=True
    ).stderr
    target = subprocess.Popen(
        [python, "-v", "-c", "import sys; sys.audit('link.mark', 1)"],
        env=target_env("native", path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    conn, _ = server.accept()
    messages = all_messages(conn)
    _, err = target.communicate(timeout=30)
    server.close()
    assert "link.mark" in [e[3] for e in sent_events(messages)]  # the agent did run
    assert wiped_at_teardown(plain)  # python -v does report the wiping
    assert wiped_at_teardown(err) - wiped_at_teardown(plain) == {"_auditmon_native"}


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


CLOCK_SCRIPT = """
import json, sys, time
reads = [time.time()]
for i in range(20000):
    sys.audit('clock.dense', i)
    reads.append(time.time())
time.sleep(0.05)
reads.append(time.time())
sys.audit('clock.after_pause')
reads.append(time.time())
with open(READS, 'w') as file:  # too much for a pipe nobody reads yet
    json.dump(reads, file)
"""

#: The native agent's counter window: 2 048 ticks, 2 µs at 1 GHz (an invariant TSC runs
#: faster), within which an event takes the time of the one before.
COUNTER_WINDOW = 2e-6


def times_that_must_differ(reads: list[float], window: float) -> int:
    """How many distinct times events must have if each event ``i`` is timed between
    ``reads[i] - window`` and ``reads[i + 1]``: those whose earliest possible time is
    after the latest possible time of the last one counted."""
    count, latest = 0, float("-inf")
    for before, after in zip(reads, reads[1:]):
        if before - window > latest:
            count, latest = count + 1, after
    return count


def test_event_times_are_the_clocks_to_within_microseconds(tmp_path, agent_kind):
    """The native agent reads the clock only once the time-stamp counter has moved on
    by about a microsecond, so a dense stream of events shares reads.  The target reads
    the clock itself before and after every event, and each event's time must lie
    between its two reads, less the counter's window: so times only go forward, a
    pause is never carried over, and the dense stream has as many distinct times as the
    target's own reads say it must.  Only the order of the reads counts, never how far
    apart they are: a slow or busy machine spreads them out and changes nothing."""
    server, path = listener(tmp_path)
    reads_file = tmp_path / "reads.json"
    target = start_target(agent_kind, path, CLOCK_SCRIPT.replace("READS", repr(str(reads_file))))
    try:
        messages = all_messages(server.accept()[0])
        out, err = target.communicate(timeout=30)
    finally:
        server.close()
    assert target.returncode == 0 and err == "", err
    reads = json.loads(reads_file.read_text())
    events = sent_events(messages)
    dense = [e[1] for e in events if e[3] == "clock.dense"]
    after = [e[1] for e in events if e[3] == "clock.after_pause"]
    assert len(dense) == 20000 and len(after) == 1
    assert len(reads) == len(dense) + 3
    # A double holds an epoch time to a quarter of a microsecond, and the agent and
    # time.time() round a clock read each their own way: allow two of those steps.
    rounding = 2 * math.ulp(reads[-1])
    window = COUNTER_WINDOW + rounding
    assert dense == sorted(dense)
    late = [
        (i, reads[i], time, reads[i + 1])
        for i, time in enumerate(dense)
        if not reads[i] - window <= time <= reads[i + 1] + rounding
    ]
    assert late == [], f"{len(late)} event(s) timed outside their reads, e.g. {late[:3]}"
    t1, t2, t3 = reads[-3:]  # after the dense stream, after the pause, after its event
    assert dense[-1] <= t1 + rounding <= t2 + rounding
    assert t2 - window <= after[0] <= t3 + rounding  # not the time from before the pause
    must_differ = times_that_must_differ(reads[: len(dense) + 1], window)
    assert must_differ > 1, "the target's reads fit in one window: the test would prove nothing"
    assert len(set(dense)) >= must_differ
