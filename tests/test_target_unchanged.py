"""The target is unchanged: its stdout, stderr, exit status and its own audit hooks behave
as without the agent.

``workloads/behaviour.py`` runs once directly and once under ``auditmon run``.  The
command's streams are auditmon's own (inherited), so auditmon's stdout must be the
direct run's stdout byte for byte, and its stderr must start with the direct run's
stderr byte for byte (auditmon's summary follows once the command has finished).
"""

from __future__ import annotations

import json
import signal
import subprocess

import pytest
from helpers import (
    AGENT_DIR,
    WORKLOADS,
    agent_env,
    clean_env,
    events_of,
    read_jsonl,
    run_recorded,
    without_compiled_parts,
)

pytestmark = pytest.mark.system

MODES = {"ok": 0, "exit": 3, "raise": 1, "sigterm": 128 + signal.SIGTERM}
BEHAVIOUR = WORKLOADS / "behaviour.py"


def direct(python, out, mode):
    out.mkdir()
    return subprocess.run(
        [python, str(BEHAVIOUR), str(out), mode], env=clean_env(), capture_output=True, timeout=30
    )


def monitored(python, out, mode, record, kind):
    out.mkdir()
    return run_recorded(
        record,
        python,
        str(BEHAVIOUR),
        str(out),
        mode,
        text=False,
        timeout=30,
        env=agent_env(kind),
    )


@pytest.mark.parametrize("mode", list(MODES))
def test_streams_status_and_hooks_are_as_without_the_agent(
    tmp_path, target_python, agent_kind, mode
):
    record = tmp_path / "rec.jsonl"
    plain = direct(target_python, tmp_path / "direct", mode)
    watched = monitored(target_python, tmp_path / "monitored", mode, record, agent_kind)

    # Exit status: the command's, with the shell's 128+N for a signal.
    expected = MODES[mode]
    assert (plain.returncode if plain.returncode >= 0 else 128 - plain.returncode) == expected
    assert watched.returncode == expected, watched.stderr.decode(errors="replace")

    # The workload's own output, unchanged.
    assert watched.stdout == plain.stdout
    assert watched.stderr.startswith(plain.stderr), watched.stderr.decode(errors="replace")
    assert b"stderr line 2\n" in plain.stderr
    if mode == "raise":
        assert b"Traceback (most recent call last):" in plain.stderr
        assert plain.stderr.endswith(b"RuntimeError: the workload fails on purpose\n")
    if mode == "sigterm":
        assert b"not reached" not in plain.stdout

    # Its hooks: installed, called in the same order, and a raising hook still blocks.
    out = plain.stdout.decode()
    assert "hooks installed\n" in out
    assert "connect: PermissionError: blocked by the workload's hook: socket.connect\n" in out
    assert "custom event: PermissionError: blocked by the workload's hook: behaviour.blocked\n" in (
        out
    )
    seen_plain = json.loads((tmp_path / "direct" / "names.json").read_text())
    seen_watched = json.loads((tmp_path / "monitored" / "names.json").read_text())
    assert seen_watched["names"] == seen_plain["names"]
    for name in ("open", "os.mkdir", "os.listdir", "exec", "socket.connect", "behaviour.end"):
        assert name in seen_plain["names"], name
    if seen_plain["sitecustomize"] is not None:  # the interpreter's own (Debian's)
        assert seen_watched["sitecustomize"] == seen_plain["sitecustomize"]

    # sys.path is the same (printed on stdout): the agent directory is gone from it.
    assert "sys.path: [" in out and repr(str(AGENT_DIR)) not in out

    # And the agent was there all along: the section is in the recording.
    records = read_jsonl(record)
    (process,) = [r for r in records if r["type"] == "process" and str(BEHAVIOUR) in r["argv"]]
    exits = [r for r in records if r["type"] == "exit" and r["pid"] == process["pid"]]
    assert [e["exit_code"] for e in exits] == [plain.returncode]  # -N for signal N
    names = [e["event"] for e in events_of(records, process["pid"])]
    if mode != "sigterm":  # a process killed by a signal may die before its last send
        assert "behaviour.end" in names
        begin = names.index("behaviour.begin")
        assert names[begin : names.index("behaviour.end") + 1] == seen_plain["names"]
        described = [
            {"$object": text}
            for text in (
                "class Point",
                "function helper",
                "method Point.where",
                "Point object",
                "built-in function len",
                "module sys",
            )
        ]
        objects = [e["args"] for e in events_of(records, process["pid"])]
        objects = [a for e, a in zip(names, objects) if e == "behaviour.objects"]
        assert objects == [described, described]  # the second time, as remembered


LATE = """
import os, sys
class Late:
    audit = sys.audit
    def __del__(self):
        self.audit("unchanged.teardown", 1)
os._auditmon_test_late = Late()  # os is torn down after the agent's own modules
print("done")
"""


def test_an_event_raised_while_modules_are_torn_down_changes_nothing(
    tmp_path, target_python, agent_kind
):
    """The hook runs while the interpreter clears modules, the agent's own included: it
    must neither print nor raise (the pure-Python hook once printed "Exception ignored in
    audit hook" there), and it records what is raised there to the last event, as the C
    hook does.  The pure-Python hook once lost both: the finalizer's event once the
    teardown had cleared its modules (counted as dropped), and the interpreter's last
    (cpython.PyInterpreterState_Clear) once it had emptied the builtins (not counted)."""
    plain = subprocess.run(
        [target_python, "-c", LATE], env=clean_env(), capture_output=True, timeout=30
    )
    watched = run_recorded(
        tmp_path / "rec.jsonl",
        target_python,
        "-c",
        LATE,
        env=agent_env(agent_kind),
        text=False,
        timeout=30,
    )
    assert plain.returncode == watched.returncode == 0
    assert watched.stdout == plain.stdout == b"done\n"
    assert plain.stderr == b""
    assert b"Exception ignored" not in watched.stderr, watched.stderr.decode(errors="replace")
    records = read_jsonl(tmp_path / "rec.jsonl")
    (process,) = [r for r in records if r["type"] == "process"]
    assert process["agent"] == agent_kind
    names = [e["event"] for e in events_of(records)]
    assert names[-2:] == ["unchanged.teardown", "cpython.PyInterpreterState_Clear"], names[-5:]
    assert not [r for r in records if r["type"] == "dropped"]


SHADOWED = ("mmap", "resource", "fcntl")  # what the pure-Python agent loads without its helper
OWN_MODULE = 'import os\nos.write(1, b"own %s ran\\n")\n'
USES_ITS_OWN = """\
import sys
print("started", flush=True)
import resource
print("resource is", resource.__file__, flush=True)
print("seen:", [m for m in ("_auditmon_helper", "mmap", "fcntl") if m in sys.modules])
"""


@pytest.mark.parametrize("compiled", [True, False], ids=["helper", "without compiled parts"])
def test_a_targets_own_module_named_like_the_agents_stays_the_targets(
    tmp_path, target_python, compiled
):
    """A program's own ``resource.py`` (or ``mmap.py``, ``fcntl.py``) beside its script:
    the pure-Python agent, where its C helper was not built, uses the standard
    library's C modules of those names (for its ring and its socket's placement), and
    the program's own import still finds the program's file, recorded.  The agent once
    imported them into ``sys.modules``, where the program's import then found the
    standard library's module instead of its own.  (With the helper it loads none.)"""
    script_dir = tmp_path / "program"
    script_dir.mkdir()
    for name in SHADOWED:
        (script_dir / f"{name}.py").write_text(OWN_MODULE % name)
    script = script_dir / "main.py"
    script.write_text(USES_ITS_OWN)
    record = tmp_path / "rec.jsonl"
    command = (target_python, str(script))
    command = command if compiled else without_compiled_parts(tmp_path, *command)
    result = run_recorded(record, *command, env=agent_env("python"), timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "started",
        "own resource ran",
        f"resource is {script_dir / 'resource.py'}",
        "seen: []",  # nor the helper, which the agent loads as its own too
    ]
    records = read_jsonl(record)
    (process,) = [r for r in records if r["type"] == "process"]
    (ending,) = [r for r in records if r["type"] == "exit"]
    assert process["agent"] == "python", process
    assert ending["status"] == "exited" and ending["ring"], ending  # its ring, in use
    imports = [e["args"][0] for e in events_of(records) if e["event"] == "import"]
    assert "resource" in imports and "mmap" not in imports and "fcntl" not in imports


TORN_DOWN = """\
import os
import sys

class Probe:
    def __del__(self, write=os.write):
        write(1, b"freed\\n")

sys.modules["_auditmon_agent.core"].AGENT.probe = Probe()
print("ran", flush=True)
"""


@pytest.mark.parametrize("library", ["preload", "no preload"])
def test_the_python_agent_is_left_to_the_exit_not_freed_at_teardown(
    tmp_path, target_python, library
):
    """At teardown the interpreter would free the agent object by object (its hook's
    state, its modules' classes and code), as much work as loading them was, just before
    the exit takes the memory back anyway: keep_to_the_end leaves it all to the exit (as
    the writer thread of old did).  A probe hung on the agent is never freed."""
    unset = ("env", "-u", "LD_PRELOAD") if library == "no preload" else ()
    result = run_recorded(
        tmp_path / "rec.jsonl",
        *unset,
        target_python,
        "-c",
        TORN_DOWN,
        env=agent_env("python"),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ran\n", result.stdout
    records = read_jsonl(tmp_path / "rec.jsonl")
    (process,) = [r for r in records if r["type"] == "process"]
    (ending,) = [r for r in records if r["type"] == "exit"]
    assert process["agent"] == "python" and ending["status"] == "exited", ending


KEEPS_MODULES = """\
import sys
core = sys.modules["_auditmon_agent.core"]
before = sorted(n for n in sys.modules if n.startswith("_auditmon_agent"))
others = {n: m for n, m in sys.modules.items() if not n.startswith("_auditmon_agent")}
core.AGENT.keep_modules()  # what the agent's exit does
after = sorted(n for n in sys.modules if n.startswith("_auditmon_agent"))
kept = sorted(m.__name__ for m in core.AGENT.modules)
print(len(before) > 5, after == [], kept == before, dict(sys.modules) == others)
"""


def test_the_python_agent_takes_all_its_modules_and_only_them_at_its_exit(tmp_path, target_python):
    """keep_modules finds the agent's modules as its package's attributes: all of them
    leave sys.modules, kept with the agent, and nothing else does."""
    result = run_recorded(
        tmp_path / "rec.jsonl", target_python, "-c", KEEPS_MODULES, env=agent_env("python")
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True"] * 4
