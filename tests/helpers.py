"""Plain helpers shared by the tests: run auditmon and workloads as real processes, read
recordings, wait for what another thread or process does, and find interpreters.

Fixtures live in ``conftest.py``; everything here is an ordinary function or constant, so
a test imports it by name (``from helpers import auditmon``).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ROOT / "tests" / "workloads"
AGENT_DIR = ROOT / "agent"
NOBODY = 65534
"""The uid of tests that need another user ("nobody")."""

T = TypeVar("T")


# -- processes and recordings ------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """Our environment without any agent settings a developer's shell may carry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITMON_")}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def agent_env(kind: str, **extra: str) -> dict[str, str]:
    """``clean_env`` choosing the agent implementation (AUDITMON_AGENT)."""
    return clean_env(AUDITMON_AGENT=kind, **extra)


def auditmon_command(*args: str) -> list[str]:
    """The command line that runs the auditmon CLI with ``args``."""
    return [sys.executable, "-m", "auditmon", *args]


def auditmon(*args: str, timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess:
    """Run the auditmon CLI as a real process and capture its output."""
    kwargs.setdefault("env", clean_env())
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run(auditmon_command(*args), timeout=timeout, **kwargs)


def auditmon_in(runtime_dir: Path | str, *args: str, **kwargs: Any) -> subprocess.CompletedProcess:
    """``auditmon(*args)`` with the attach runtime directory ``runtime_dir``."""
    return auditmon(*args, env=clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir)), **kwargs)


def run_recorded(
    record: Path, *command: str, options: tuple[str, ...] = (), **kwargs: Any
) -> subprocess.CompletedProcess:
    """``auditmon run --headless --record RECORD [OPTIONS] -- COMMAND``."""
    return auditmon(
        "run", "--headless", "--record", str(record), *options, "--", *command, **kwargs
    )


def without_compiled_parts(directory: Path, *command: str) -> tuple[str, ...]:
    """``command`` under a copy of the agent (made in ``directory``) without its compiled
    parts, as installed where nothing could be compiled: no extension, no C helper, no
    preload library (LD_PRELOAD unset); PYTHONPATH brings the copy in."""
    agent = directory / "agent-without-c"
    if not agent.exists():
        shutil.copytree(AGENT_DIR, agent, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    return ("env", "-u", "LD_PRELOAD", f"PYTHONPATH={agent}", *command)


def local_index_options() -> tuple[str, ...] | str:
    """pip options that take build requirements (setuptools, wheel) from this machine's
    own package index, pip's configured ``file://`` index URLs that hold setuptools: the
    tests never reach out of the machine.  A str saying why where there is none."""
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True
    ).stdout
    urls = [u for u in re.findall(r"file://[^\s'\"]+", listing)]
    local = [u for u in dict.fromkeys(urls) if Path(u[len("file://") :], "setuptools").is_dir()]
    if not local:
        return "pip has no local (file://) package index holding setuptools here"
    options = ("--index-url", local[0])
    for url in local[1:]:
        options += ("--extra-index-url", url)
    return options


def local_index_options_or_skip() -> tuple[str, ...]:
    options = local_index_options()
    if isinstance(options, str):
        pytest.skip(options)
    return options


def attach_env(runtime_dir: Path | str) -> dict[str, str]:
    """The environment `auditmon env --format json` gives, in a private runtime dir."""
    result = auditmon("env", "--format", "json")
    assert result.returncode == 0, result.stderr
    return clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir), **json.loads(result.stdout))


def agent_door(runtime_dir: Path | str, pid: int) -> Path | None:
    """Where ``pid``'s attach-mode agent is found: its listener ``<pid>.sock``, or a lone
    agent's mark ``<pid>.lone`` (a symlink to nothing); None before it started."""
    for suffix in (".sock", ".lone"):
        path = Path(runtime_dir) / f"{pid}{suffix}"
        if os.path.lexists(path):
            return path
    return None


def agent_connection(runtime_dir: Path | str, pid: int, timeout: float = 5.0) -> socket.socket:
    """A connection to ``pid``'s attach-mode agent, nothing sent: to its listener, or the
    one a lone agent makes when called (the monitor's own ``sources.calling``)."""
    from auditmon.sources.calling import call_in

    door = agent_door(runtime_dir, pid)
    assert door is not None, f"process {pid} has no agent in {runtime_dir}"
    if door.suffix == ".lone":
        return call_in(Path(runtime_dir), pid, timeout)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(str(door))
    return sock


LIMIT = 1024
"""The descriptor limit of ``constrained`` commands."""


def constrained(command: list[str], as_root: bool = True) -> list[str]:
    """``command`` with soft = hard RLIMIT_NOFILE and no way to raise it: the agent's
    sockets can't go out of the target's sight (as for a user in many containers).
    Skips where that can't be had here.  ``as_root=False``: for a command run as
    another user (``user=``), whom the limit alone holds."""
    prefix = _constraint()
    if isinstance(prefix, str):
        pytest.skip(prefix)
    if not as_root:
        prefix = prefix[prefix.index("prlimit") :]
    return [*prefix, *command]


@functools.cache
def _constraint() -> list[str] | str:
    """The prefix that makes a command ``constrained``, or why there is none."""
    if shutil.which("prlimit") is None:
        return "prlimit (util-linux) is not installed"
    prefix = ["prlimit", f"--nofile={LIMIT}:{LIMIT}"]
    if os.geteuid() == 0:
        if shutil.which("capsh") is None:
            return "capsh (libcap2-bin) is not installed: root could raise the limit"
        prefix = ["capsh", "--drop=cap_sys_resource", "--", "-c", 'exec "$0" "$@"', *prefix]
    code = (
        "import resource as r\n"
        f"try: r.setrlimit(r.RLIMIT_NOFILE, ({LIMIT + 64}, {LIMIT + 64}))\n"
        "except (OSError, ValueError): print('held')\n"
    )
    result = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True)
    if result.stdout.strip() != "held":
        return f"the descriptor limit could still be raised here: {result.stderr}"
    return prefix


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON Lines recording, in order."""
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def events_of(records: list[dict], pid: int | None = None) -> list[dict]:
    """The event records, of one process if ``pid`` is given."""
    return [r for r in records if r["type"] == "event" and (pid is None or r["pid"] == pid)]


class AgentStream:
    """What one agent sends on ``conn``, as protocol messages: the socket's, and, where
    its hello brought a shared-memory ring (run mode), the events read from the ring
    (the monitor's own ``auditmon.ingest.ring.Ring``) as EVENTS batches, after a
    DROPPED report where the ring's drop count grew, read before each socket message is
    taken, so they come where they were raised.  Wake-ups are left out.  A stand-in
    for the monitor's ingest, for agent tests."""

    def __init__(self, conn) -> None:
        from auditmon import protocol

        self.conn = conn
        self.unpacker = protocol.make_unpacker()
        self.ring = None
        self.fds: list[int] = []
        self.dropped = 0
        self.closed = False
        self.timed_out = False  # the last read waited its whole timeout for nothing

    def read(self, timeout: float) -> list:
        """The messages that arrive within ``timeout`` seconds (a socket read's wait);
        sets ``closed`` once the agent has hung up."""
        import socket

        from auditmon import protocol
        from auditmon.ingest.ring import Ring

        self.conn.settimeout(timeout)
        self.timed_out = False
        try:
            data, fds, _, _ = socket.recv_fds(self.conn, 1 << 16, 4)
        except TimeoutError:
            self.timed_out = True
            return self.from_ring()
        self.fds += fds
        if not data:
            self.closed = True
            return self.from_ring()
        self.unpacker.feed(data)
        messages = []
        for message in self.unpacker:
            if message is None:
                continue
            messages += self.from_ring()  # the ring's events come before what follows
            messages.append(message)
            kind, body = message
            if kind == protocol.HELLO:  # the ring's descriptor came with it, if any
                if body.get("ring") and self.fds:
                    self.ring = Ring(self.fds.pop(0), body["ring"])
                for fd in self.fds:
                    os.close(fd)
                self.fds = []
        return messages + self.from_ring()

    def from_ring(self) -> list:
        from auditmon import protocol

        ring = self.ring
        if ring is None:
            return []
        messages = []
        dropped = ring.dropped  # once: the agent may be counting on
        if dropped > self.dropped:
            messages.append((protocol.DROPPED, {"count": dropped - self.dropped}))
            self.dropped = dropped
        data = ring.take(ring.size)
        if data:
            unpacker = protocol.make_unpacker()
            unpacker.feed(data)
            messages.append((protocol.EVENTS, tuple(unpacker)))
        return messages

    def close(self) -> None:
        self.conn.close()
        if self.ring is not None:
            self.ring.close()


def all_messages(conn) -> list:
    """Every protocol message an agent sends on ``conn``, until it closes (see
    ``AgentStream``)."""
    stream = AgentStream(conn)
    messages: list = []
    # Not a poll: it reads until the agent hangs up (recv gives b"") or 30 s of silence
    # (a read of wake-ups alone, the ring just read, gives nothing and is no silence).
    while not stream.closed:
        got = stream.read(30)
        if not got and stream.timed_out:
            break
        messages += got
    stream.close()
    return messages


def copy_readable_by_all(source: Path, into: Path) -> Path:
    """A copy of ``source`` (a file or a directory) in ``into`` that every user can read
    (and run, where we can): for a process the test starts as another user."""
    copy = into / source.name
    if source.is_dir():
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        shutil.copy2(source, copy)
    for item in [copy, *copy.rglob("*")]:
        mode = item.stat().st_mode | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
        if item.is_dir() or mode & stat.S_IXUSR:
            mode |= stat.S_IXGRP | stat.S_IXOTH
        item.chmod(mode)
    return copy


# -- waiting -----------------------------------------------------------------------------
# A timeout here is a bound on liveness, never a measurement: the wait fails only when
# the awaited thing does not happen at all, however slow or loaded the machine is.


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 30.0,
    message: str | None = None,
    *,
    interval: float = 0.02,
    state: Callable[[], object] | None = None,
    between: Callable[[], object] | None = None,
) -> T:
    """Call ``predicate`` until it returns something truthy, and return that.

    Between calls it sleeps ``interval`` seconds, or calls ``between`` instead (e.g. to
    let an ingest loop read its sockets).  On timeout it fails saying what was awaited
    (``message``, else the predicate's source) and what was last seen (``state()``,
    else the predicate's last value).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(timed_out(predicate, timeout, message, state, value))
        if between is None:
            time.sleep(interval)
        else:
            between()


async def wait_until(
    predicate: Callable[[], T],
    timeout: float = 30.0,
    message: str | None = None,
    *,
    interval: float = 0.05,
    state: Callable[[], object] | None = None,
) -> T:
    """``wait_for`` for async tests (Textual's Pilot): it sleeps with asyncio, so the
    app's event loop goes on processing messages meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(timed_out(predicate, timeout, message, state, value))
        await asyncio.sleep(interval)


def timed_out(
    predicate: Callable[[], object],
    timeout: float,
    message: str | None,
    state: Callable[[], object] | None,
    last: object,
) -> str:
    """What a wait that timed out says: what it waited for and what it saw last."""
    awaited = message or describe(predicate)
    seen = state() if state is not None else last
    shown = seen if isinstance(seen, str) else repr(seen)
    return f"timed out after {timeout:g} s waiting for {awaited}; last seen:\n{shown}"


def describe(function: Callable[..., object]) -> str:
    """A function's source (a lambda's line), else its name."""
    try:
        return inspect.getsource(function).strip()
    except (OSError, TypeError):
        return getattr(function, "__qualname__", repr(function))


# -- interpreters ------------------------------------------------------------------------

PROBE = (
    "import importlib.util, json, sys\n"
    "site = sys.modules.get('sitecustomize')\n"
    "print(json.dumps({\n"
    "    'executable': sys.executable,\n"
    "    'implementation': sys.implementation.name,\n"
    "    'version': '%d.%d' % sys.version_info[:2],\n"
    "    'venv': sys.prefix != sys.base_prefix or hasattr(sys, 'real_prefix'),\n"
    "    'msgpack': importlib.util.find_spec('msgpack') is not None,\n"
    "    'sitecustomize': getattr(site, '__file__', None),\n"
    "}))\n"
)


@dataclass(frozen=True)
class Interpreter:
    """What an interpreter says about itself when run as the tests run it."""

    executable: str
    """``sys.executable``: the interpreter itself (a pyenv shim's target, say)."""
    implementation: str
    version: str
    """``"3.11"``."""
    venv: bool
    msgpack: bool
    """Whether it can import msgpack with our environment's PYTHONPATH removed."""
    sitecustomize: str | None
    """Its own ``sitecustomize`` module's file (Debian's python3 has one), if any."""


@functools.cache
def probe(path: str) -> Interpreter | str:
    """Run ``path`` once and ask it what it is; or say why it could not be asked."""
    if not os.path.exists(path):
        return "not there"
    if not os.access(path, os.X_OK):
        return "not executable"
    try:
        result = subprocess.run(
            [path, "-c", PROBE], capture_output=True, text=True, timeout=60, env=clean_env()
        )
    except OSError as error:
        return f"cannot run: {error}"
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return f"fails to start ({last})"
    return Interpreter(**json.loads(result.stdout))


def facts_of(python: str) -> Interpreter:
    """What an interpreter found by the searches below says about itself."""
    facts = probe(python)
    assert isinstance(facts, Interpreter), f"{python}: {facts}"
    return facts


def executables_on_path(name: str) -> list[str]:
    """Every ``name`` on PATH, in PATH order (``shutil.which`` gives only the first)."""
    found = []
    for directory in os.get_exec_path():
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            found.append(candidate)
    return found


def unique(paths: Iterable[str]) -> list[str]:
    """``paths`` in their order, each once."""
    return list(dict.fromkeys(paths))


@dataclass(frozen=True)
class Search:
    """The result of looking for an interpreter: one, or why none (for a skip)."""

    found: Interpreter | None
    looked: tuple[str, ...]
    """``"/path (why not)"`` for each candidate turned down, and each place found empty."""

    def why_not(self, wanted: str) -> str:
        """The reason for a skip: what was wanted, and where it was looked for."""
        return f"no {wanted} on this machine; looked at: " + "; ".join(self.looked)


def first_suitable(
    candidates: Iterable[str], why_unsuitable: Callable[[Interpreter], str | None]
) -> Search:
    """The first candidate that runs and that ``why_unsuitable`` has nothing against."""
    looked = []
    for path in unique(candidates):
        facts = probe(path)
        problem = facts if isinstance(facts, str) else why_unsuitable(facts)
        if problem is None:
            return Search(facts, tuple(looked))
        looked.append(f"{path} ({problem})")
    return Search(None, tuple(looked) or ("no candidate at all",))


def outside_venv_without_msgpack(facts: Interpreter) -> str | None:
    """Why ``facts`` cannot stand for a bare system interpreter, if it cannot."""
    if facts.implementation != "cpython":
        return f"{facts.implementation}, not CPython"
    if facts.venv:
        return "a virtual environment"
    if facts.msgpack:
        return "has msgpack"
    return None


@functools.cache
def system_python() -> Search:
    """A CPython outside any venv that cannot import msgpack (Debian's own python3 is
    one): targets run under it prove that the agent needs nothing installed."""
    candidates = [
        "/usr/bin/python3",
        "/usr/local/bin/python3",
        *executables_on_path("python3"),
    ]
    return first_suitable(candidates, outside_venv_without_msgpack)


def system_python_or_skip() -> str:
    """``system_python()``'s executable, or a skip that says where it was looked for."""
    search = system_python()
    if search.found is None:
        pytest.skip(search.why_not("CPython 3 outside a venv without msgpack"))
    return search.found.executable


@functools.cache
def pyenv_roots() -> tuple[str, ...]:
    """Where pyenv keeps its versions: $PYENV_ROOT, `pyenv root`, ~/.pyenv."""
    roots = [os.environ.get("PYENV_ROOT", "")]
    pyenv = shutil.which("pyenv")
    if pyenv:
        try:
            answer = subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=30)
            roots.append(answer.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    roots.append(os.path.expanduser("~/.pyenv"))
    return tuple(unique(r for r in roots if r))


def version_key(path: str) -> tuple[int, ...]:
    """Order pyenv's version directories by number (3.10.13 after 3.10.9)."""
    match = re.search(r"/versions/(\d+(?:\.\d+)*)", path)
    return tuple(int(n) for n in match.group(1).split(".")) if match else ()


def pyenv_pythons(minor: str) -> list[str]:
    """pyenv's builds of CPython ``minor``, newest first."""
    found = []
    for root in pyenv_roots():
        found += (Path(root) / "versions").glob(f"{minor}.*/bin/python{minor}")
    return sorted(map(str, found), key=version_key, reverse=True)


@functools.cache
def other_cpython(minor: str) -> Search:
    """A CPython ``minor`` ("3.8"): pyenv's, else ``python3.X`` on PATH or in /usr/bin
    or /usr/local/bin."""

    def is_that_version(facts: Interpreter) -> str | None:
        if facts.implementation != "cpython":
            return f"{facts.implementation}, not CPython"
        if facts.version != minor:
            return f"is {facts.version}"
        return None

    candidates = [
        *pyenv_pythons(minor),
        *executables_on_path(f"python{minor}"),
        f"/usr/bin/python{minor}",
        f"/usr/local/bin/python{minor}",
    ]
    search = first_suitable(candidates, is_that_version)
    if search.found is not None:
        return search
    empty = []
    if not pyenv_pythons(minor):
        globs = [f"{root}/versions/{minor}.*/bin/python{minor}" for root in pyenv_roots()]
        empty.append(f"pyenv's {' and '.join(globs) or 'versions (no pyenv root)'} (none)")
    if not executables_on_path(f"python{minor}"):
        empty.append(f"python{minor} on PATH (none)")
    return Search(None, (*empty, *search.looked))


def other_cpython_or_skip(minor: str) -> str:
    """``other_cpython(minor)``'s executable, or a skip that says where it was looked for."""
    search = other_cpython(minor)
    if search.found is None:
        pytest.skip(search.why_not(f"CPython {minor}"))
    return search.found.executable


def interpreter_or_skip(which: str) -> str:
    """The interpreter a test names: "venv" (ours, with msgpack), "debian" (Debian's
    python3, without), or a CPython minor version ("3.8")."""
    if which == "venv":
        return sys.executable
    if which == "debian":
        return system_python_or_skip()
    return other_cpython_or_skip(which)


@functools.cache
def python_runnable_by(uid: int) -> Search:
    """An interpreter another user can start: ours may live in a directory only we can
    read (a venv or pyenv under /root)."""
    candidates = ["/usr/bin/python3", "/usr/local/bin/python3", *executables_on_path("python3")]
    looked = []
    for path in unique(candidates):
        facts = probe(path)
        if isinstance(facts, str):
            looked.append(f"{path} ({facts})")
            continue
        try:
            check = subprocess.run(
                [facts.executable, "-c", "pass"], user=uid, cwd="/", capture_output=True, text=True
            )
        except OSError as error:
            looked.append(f"{path} (uid {uid} cannot run it: {error})")
            continue
        if check.returncode == 0:
            return Search(facts, tuple(looked))
        last = (check.stderr.strip().splitlines() or ["no output"])[-1]
        looked.append(f"{path} (uid {uid} cannot run it: {last})")
    return Search(None, tuple(looked) or ("no candidate at all",))


def python_runnable_by_or_skip(uid: int) -> str:
    """``python_runnable_by(uid)``'s executable, or a skip that says what was tried."""
    search = python_runnable_by(uid)
    if search.found is None:
        pytest.skip(search.why_not(f"python3 that uid {uid} can run"))
    return search.found.executable


class Tmux:
    """A tmux server of the test's own; its one session is called "e2e"."""

    def __init__(self) -> None:
        self.socket = f"auditmon-test-{uuid.uuid4().hex[:8]}"

    def __call__(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        )
        return result.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "e2e")

    def wait_for(self, *texts: str, timeout: float = 30.0) -> str:
        """Until every one of ``texts`` is on the screen at once; that screen.  (A screen
        may be caught mid-redraw: a view's title before its rows.)"""

        def screen_with_texts() -> str:
            screen = self.screen()
            return screen if all(text in screen for text in texts) else ""

        return wait_for(
            screen_with_texts,
            timeout,
            " and ".join(map(repr, texts)) + " on the screen",
            interval=0.2,
            state=self.screen,
        )


class InjectableTarget:
    """workloads/injectable.py in ``mode`` under ``python`` (``options``: the
    interpreter's), in a plain environment (no agent; ``env``: more of it), for the
    tests that bring the agent into a running process."""

    def __init__(self, python: str, mode: str, tmp_path: Path, *options: str, **env: str):
        self.stop = tmp_path / f"stop-{mode}"
        self.process = subprocess.Popen(
            [python, *options, str(WORKLOADS / "injectable.py"), mode, str(self.stop)],
            env=clean_env(**env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline() == "ready\n"
        self.pid = self.process.pid

    def say(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def finish(self, how: str = "stop file") -> tuple[int, str, str]:
        """End it (``stop file``, ``signal``: SIGTERM, else that line on its stdin) and
        give its exit status, stdout and stderr."""
        import signal

        if how == "stop file":
            self.stop.touch()
        elif how == "signal":
            self.process.send_signal(signal.SIGTERM)
        else:
            self.say(how)
        out, err = self.process.communicate(timeout=60)
        return self.process.returncode, out, err

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
