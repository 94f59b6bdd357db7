"""Python processes started by a monitored one but never heard from are shown, with
their command line and the likely reason; programs that are not Python are not."""

from __future__ import annotations

import sys

import pytest
from helpers import auditmon, read_jsonl

from auditmon.model.spawns import spawned_python

STARTS = """
import subprocess, sys
subprocess.run([sys.executable, '-c', 'print(1)'], env={'PATH': '/usr/bin'})
subprocess.run(['/bin/true'])
subprocess.run([sys.executable, '-c', 'print(3)'])
"""


@pytest.mark.system
def test_a_python_child_whose_environment_dropped_the_agent_is_shown_not_monitored(tmp_path):
    recording = tmp_path / "run.jsonl"
    result = auditmon(
        "run", "--headless", "--record", str(recording), "--", sys.executable, "-c", STARTS
    )
    assert result.returncode == 0, result.stderr
    records = read_jsonl(recording)
    processes = [r for r in records if r["type"] == "process"]
    unreached = [r for r in processes if r.get("monitored") is False]
    (child,) = unreached
    parent = processes[0]
    assert child["argv"] == [sys.executable, "-c", "print(1)"]
    assert child["ppid"] == parent["pid"]
    assert child["reason"] == "its environment (env=) dropped auditmon's settings"
    reported = [r for r in processes if r.get("monitored", True)]
    assert [r["argv"][1:] for r in reported] == [["-c", STARTS], ["-c", "print(3)"]]
    assert "1 Python process started but not monitored" in result.stderr
    assert "not monitored: its environment (env=) dropped" in result.stderr
    # a replay shows it the same way
    replayed = auditmon("replay", "--headless", str(recording))
    assert "1 Python process started but not monitored" in replayed.stderr


@pytest.mark.parametrize(
    ("event", "args", "argv"),
    [
        ("subprocess.Popen", ("/usr/bin/git", ("git", "status"), None, None), None),
        ("os.system", ("ls -l",), None),
        (
            "subprocess.Popen",
            ("/bin/sh", ("/bin/sh", "-c", "python3 x.py"), None, None),
            ["python3", "x.py"],
        ),
        ("os.system", ("env A=1 python3.12 -m pip list",), ["python3.12", "-m", "pip", "list"]),
        ("os.posix_spawn", ("/usr/bin/python3", ("python3", "-m", "auditmon", "ls"), {}), None),
        ("subprocess.Popen", (None, ("pypy3", "t.py"), None, None), ["pypy3", "t.py"]),
    ],
)
def test_which_children_are_python(event, args, argv):
    found = spawned_python(event, args)
    assert (found[0] if found else None) == argv
