"""The agent on other CPythons (3.8 to 3.13): the pure-Python hook where no native build fits."""

from __future__ import annotations

import glob

import pytest
from conftest import events_of, read_jsonl, run_recorded

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


def interpreters() -> list[str]:
    found = []
    for minor in ("3.8", "3.10", "3.12", "3.13"):
        found += sorted(glob.glob(f"/root/.pyenv/versions/{minor}.*/bin/python{minor}"))[-1:]
    return found


@pytest.mark.parametrize("python", interpreters() or ["none"])
def test_the_agent_runs_on_other_interpreters(tmp_path, python):
    if python == "none":
        pytest.skip("no other CPython installed (pyenv) on this machine")
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
