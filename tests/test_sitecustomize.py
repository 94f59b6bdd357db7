"""The agent's sitecustomize shadows the target's own, which still runs (once); targets
the agent cannot enter, and commands that are not Python at all, get a clear word."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from helpers import (
    AGENT_DIR,
    agent_env,
    auditmon,
    clean_env,
    events_of,
    facts_of,
    read_jsonl,
    run_recorded,
)

pytestmark = pytest.mark.system

NO_PYTHON = "no Python process reported"


def debian_sitecustomize(version: str) -> tuple[str, str]:
    """Where Debian's python3.X keeps its own sitecustomize (a link into /etc)."""
    return (f"/usr/lib/python{version}/sitecustomize.py", f"/etc/python{version}/sitecustomize.py")


OWN_SITECUSTOMIZE = """\
import builtins
import os
import sys

builtins.OWN = getattr(builtins, "OWN", 0) + 1
print("own sitecustomize ran in", os.getpid(), flush=True)
sys.audit("own.sitecustomize", builtins.OWN)
"""


def hint_in(stderr):
    """Whether the hint is there, however the summary's console wrapped it."""
    return NO_PYTHON in " ".join(stderr.split())


def processes(records):
    return [r for r in records if r["type"] == "process"]


def test_the_targets_own_sitecustomize_runs_once_and_is_the_module(tmp_path, target_python):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(OWN_SITECUSTOMIZE)
    record = tmp_path / "rec.jsonl"
    code = (
        "import builtins, os, sitecustomize; "
        "print(builtins.OWN, sitecustomize.__file__, os.getpid())"
    )
    result = run_recorded(
        record,
        target_python,
        "-c",
        code,
        env=clean_env(PYTHONPATH=str(site)),
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    # auditmon's own interpreter has PYTHONPATH too, so it may say it ran there as well.
    *ran, last = result.stdout.splitlines()
    own, file, pid = last.split()
    assert (own, file) == ("1", str(site / "sitecustomize.py"))
    assert ran.count(f"own sitecustomize ran in {pid}") == 1, result.stdout

    records = read_jsonl(record)
    (process,) = processes(records)
    assert process["pid"] == int(pid)
    events = events_of(records, process["pid"])
    # It ran under the hook, as any code of the target's does, and so did the command.
    assert [e["args"] for e in events if e["event"] == "own.sitecustomize"] == [[1]]
    assert [e["args"] for e in events if e["event"] == "cpython.run_command"] == [[code + "\n"]]


FAILING_SITECUSTOMIZE = """\
import sys

if "auditmon" not in sys.orig_argv:  # auditmon's own interpreter has PYTHONPATH too
    print("failing sitecustomize ran", flush=True)
    sys.audit("own.failing")
    raise ValueError("the target's own sitecustomize fails")
"""


def test_a_failing_own_sitecustomize_fails_as_without_the_agent(tmp_path, target_python):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(FAILING_SITECUSTOMIZE)
    code = "import sys; print('main ran', 'sitecustomize' in sys.modules)"
    env = clean_env(PYTHONPATH=str(site))
    plain = subprocess.run(
        [target_python, "-c", code], env=env, capture_output=True, text=True, timeout=30
    )
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == "failing sitecustomize ran\nmain ran False\n"
    assert plain.stderr == (
        "Error in sitecustomize; set PYTHONVERBOSE for traceback:\n"
        "ValueError: the target's own sitecustomize fails\n"
    )

    record = tmp_path / "rec.jsonl"
    result = auditmon(
        "run", "--headless", "--record", str(record), "--", target_python, "-c", code, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == plain.stdout
    assert result.stderr.startswith(plain.stderr), result.stderr
    records = read_jsonl(record)
    (process,) = processes(records)
    assert "own.failing" in [e["event"] for e in events_of(records, process["pid"])]


def test_debians_own_sitecustomize_still_runs(tmp_path, no_msgpack_python):
    facts = facts_of(no_msgpack_python)
    debian = debian_sitecustomize(facts.version)
    if facts.sitecustomize not in debian:
        pytest.skip(
            f"{no_msgpack_python} is not Debian's python3: its own sitecustomize is "
            f"{facts.sitecustomize}, not {debian[0]}"
        )
    code = "import sys; print(sys.modules['sitecustomize'].__file__); sys.audit('debian.check')"
    plain = subprocess.run(
        [no_msgpack_python, "-c", code], env=clean_env(), capture_output=True, text=True
    )
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() in debian

    record = tmp_path / "rec.jsonl"
    result = auditmon(
        "run", "--headless", "--record", str(record), "--", no_msgpack_python, "-c", code
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == plain.stdout
    assert os.path.realpath(result.stdout.strip()) == os.path.realpath(debian[0])
    records = read_jsonl(record)
    (process,) = processes(records)
    assert process["executable"] == no_msgpack_python
    assert "debian.check" in [e["event"] for e in events_of(records, process["pid"])]


@pytest.mark.parametrize("flag", ["-I", "-E", "-S"])
def test_a_target_the_agent_cannot_enter_gets_the_hint(tmp_path, flag):
    """-I, -E and -S skip PYTHONPATH or site: with LD_PRELOAD cleared too (a sandbox
    that drops it), nothing brings the agent in, and the summary says why it may be."""
    record = tmp_path / "rec.jsonl"
    result = run_recorded(
        record,
        "env",
        "-u",
        "LD_PRELOAD",
        sys.executable,
        flag,
        "-c",
        "import sys; sys.audit('never.seen'); print('ran'); sys.exit(4)",
        timeout=30,
    )
    assert result.returncode == 4, result.stderr
    assert result.stdout == "ran\n"
    assert hint_in(result.stderr), result.stderr
    assert read_jsonl(record) == []


def test_a_command_that_is_not_python_runs_and_gets_the_hint():
    result = auditmon("run", "--headless", "--", "/bin/echo", "hi", timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hi\n"
    assert hint_in(result.stderr), result.stderr


def test_a_command_that_is_not_python_keeps_its_status():
    result = auditmon("run", "--headless", "--", "/bin/sh", "-c", "echo out; exit 7", timeout=30)
    assert (result.returncode, result.stdout) == (7, "out\n"), result.stderr
    assert hint_in(result.stderr), result.stderr


def one_line(text):
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def test_a_missing_command_exits_127_with_one_line(tmp_path):
    result = auditmon("run", "--headless", "--", "/nonexistent/cmd", timeout=30)
    assert result.returncode == 127
    assert "/nonexistent/cmd" in one_line(result.stderr)
    assert result.stdout == ""


def test_a_command_that_cannot_be_executed_exits_126_with_one_line(tmp_path):
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\necho never\n")
    result = auditmon("run", "--headless", "--", str(script), timeout=30)
    assert result.returncode == 126
    assert str(script) in one_line(result.stderr)
    assert result.stdout == ""


@pytest.mark.parametrize("args", [[], ["--"], ["--headless"], ["--headless", "--"]])
def test_no_command_exits_2_with_one_line(args):
    result = auditmon("run", *args, timeout=30)
    assert result.returncode == 2
    assert "no command" in one_line(result.stderr)
    assert result.stdout == ""


LOADED = (
    "import sys; agent = sys.modules['_auditmon_agent']; ring = agent.ring; "
    "print(sorted(name for name in sys.modules if name.startswith('_auditmon_agent.'))); "
    "print(ring is sys.modules['_auditmon_agent.ring'], ring.__file__ == ring.__spec__.origin, "
    "ring.__cached__.endswith('.pyc'), type(ring.__loader__).__name__, ring.__package__)"
)


def test_the_python_agent_loads_its_own_modules_without_a_search(tmp_path, target_python):
    """The pure-Python agent's start loads its modules from its folder (load_own): the
    import system searches for none of them (-X importtime logs each module it searches
    for), and each is the module import would have made."""
    result = run_recorded(
        tmp_path / "rec.jsonl",
        target_python,
        "-X",
        "importtime",
        "-c",
        LOADED,
        env=agent_env("python"),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    modules, facts = result.stdout.splitlines()[-2:]
    assert eval(modules) == [
        f"_auditmon_agent.{name}"
        for name in ("config", "constants", "core", "python_hook", "ring", "summarize")
        + ("transport", "wire")
    ]
    assert facts == "True True True SourceFileLoader _auditmon_agent"
    searched = [line for line in result.stderr.splitlines() if "import time:" in line]
    assert any(line.endswith("| site") for line in searched)  # (it logs)
    assert not [line for line in searched if "_auditmon_agent" in line]


WHICH_COMMAND = """\
import sys
constants = sys.modules["_auditmon_agent.constants"]
print(constants.AUDITMON_COMMAND, hasattr(constants, "ADDED"), constants.__cached__)
"""


def test_the_agent_takes_its_cached_bytecode_where_import_would(tmp_path, target_python):
    """load_own reads a module's cached bytecode itself (the short way) where import
    would take it: stamped with the source's time and size, which still match; else
    import's own loader compiles the source again, and caches it.  Shown on a copy of
    the agent whose constants.py changes under its cached bytecode."""
    agent = tmp_path / "agent"
    shutil.copytree(AGENT_DIR, agent, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    subprocess.run([target_python, "-m", "compileall", "-q", str(agent)], check=True)
    constants = agent / "_auditmon_agent" / "constants.py"
    text, stamp = constants.read_text(), constants.stat()
    env = clean_env(
        PYTHONPATH=str(agent),
        AUDITMON_MODE="attach",  # no monitor needed: it listens, in tmp_path
        AUDITMON_RUNTIME_DIR=str(tmp_path / "runtime"),
        AUDITMON_AGENT="python",
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)

    def command_seen():
        result = subprocess.run(
            [target_python, "-c", WHICH_COMMAND],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0 and not result.stderr, result.stderr
        return result.stdout.split()

    same_size = text.replace('AUDITMON_COMMAND = "auditmon"', 'AUDITMON_COMMAND = "auditmox"')
    assert len(same_size) == len(text) != len(same_size + "ADDED = 1\n")
    constants.write_text(same_size)
    os.utime(constants, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    command, added, cached = command_seen()  # the stamps match: the cached code, as import
    assert (command, added) == ("auditmon", "False")
    before = os.stat(cached).st_mtime_ns

    constants.write_text(same_size + "ADDED = 1\n")
    command, added, cached = command_seen()  # they do not: the source, compiled again
    assert (command, added) == ("auditmox", "True")
    assert os.stat(cached).st_mtime_ns != before  # and cached for the next process
    assert command_seen()[:2] == ["auditmox", "True"]
