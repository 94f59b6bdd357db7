"""The commands' behaviour as a user sees it: env, filters, stacks, recordings, no self-watch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import WORKLOADS, agent_env, auditmon, clean_env, events_of, read_jsonl

from auditmon.agentpath import agent_dir
from auditmon.protocol import agent_constants
from auditmon.record import read_recording

pytestmark = pytest.mark.system

SCRIPT = """
import sys
def inner():
    sys.audit("cli.stacked", 1)
inner()
sys.audit("cli.plain", "x")
open("/dev/null").close()
"""


def test_env_sh_prepends_the_agent_and_keeps_the_path():
    result = auditmon("env")
    assert result.returncode == 0
    shell = subprocess.run(
        ["bash", "-c", f'{result.stdout}\nprintf "%s|%s" "$PYTHONPATH" "$AUDITMON_MODE"'],
        env=clean_env(PYTHONPATH="/somewhere"),
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout == f"{agent_dir()}:/somewhere|attach"
    empty = subprocess.run(
        ["bash", "-c", f'{result.stdout}\nprintf "%s" "$PYTHONPATH"'],
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert empty.stdout == str(agent_dir())


def test_env_other_formats():
    fish = auditmon("env", "--format", "fish").stdout
    assert f"set -gx PYTHONPATH {agent_dir()} $PYTHONPATH" in fish
    systemd = auditmon("env", "--format", "systemd").stdout.splitlines()
    assert 'Environment="AUDITMON_MODE=attach"' in systemd
    assert f'Environment="PYTHONPATH={agent_dir()}"' in systemd
    library = agent_dir() / agent_constants.PRELOAD_LIBRARY
    assert f'Environment="LD_PRELOAD={library}"' in systemd
    assert f"set -gx LD_PRELOAD {library} $LD_PRELOAD" in fish
    data = json.loads(auditmon("env", "--format", "json").stdout)
    assert data == {
        "AUDITMON_MODE": "attach",
        "AUDITMON_LONE": "1",  # a monitor calls an agent whose listener would be seen
        "PYTHONPATH": str(agent_dir()),
        "LD_PRELOAD": str(library),
    }


def test_env_puts_the_preload_library_first_in_ld_preload():
    script = auditmon("env").stdout
    library = agent_dir() / agent_constants.PRELOAD_LIBRARY
    for before, after in ((None, str(library)), ("/opt/x.so", f"{library}:/opt/x.so")):
        env = clean_env(LD_PRELOAD=before or "")
        shell = subprocess.run(
            ["bash", "-c", f'{script}\nprintf "%s" "$LD_PRELOAD"'],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert shell.stdout == after


def test_filters_and_stacks_apply_in_the_agent(tmp_path, agent_kind):
    record = tmp_path / "rec.jsonl"
    result = auditmon(
        "run",
        "--record",
        str(record),
        "--events",
        "cli.*",
        "--events",
        "open",
        "--exclude",
        "cli.plain",
        "--stack",
        "cli.stacked",
        "--",
        sys.executable,
        "-c",
        SCRIPT,
        env=agent_env(agent_kind),
    )
    assert result.returncode == 0, result.stderr
    records = read_jsonl(record)
    assert {r["agent"] for r in records if r["type"] == "process"} == {agent_kind}
    events = events_of(records)
    assert {e["event"] for e in events} == {"cli.stacked", "open"}
    # filtered events take no number: the start-up's opens (encodings, .pth files), then
    # the script's two
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    events = events[[e["event"] for e in events].index("cli.stacked") :]
    assert [e["event"] for e in events] == ["cli.stacked", "open"]
    stack = events[0]["stack"]
    assert stack[0][2] == "inner" and stack[1][2] == "<module>"
    assert stack[0][0] == "<string>" and stack[0][1] == 4
    assert "stack" not in events[1]


def test_msgpack_recording_holds_the_same_records_as_jsonl(tmp_path):
    as_json, as_msgpack = tmp_path / "r.jsonl", tmp_path / "r.amrec"
    for path in (as_json, as_msgpack):
        result = auditmon(
            "run",
            "--record",
            str(path),
            "--events",
            "exact.*",
            "--",
            sys.executable,
            str(WORKLOADS / "exact.py"),
            str(tmp_path / f"{path.name}.out"),
        )
        assert result.returncode == 0, result.stderr
    from_json = list(read_recording(as_json))
    from_msgpack = list(read_recording(as_msgpack))

    def shape(records):
        return [
            (r["type"], r.get("event"), r.get("seq"), r.get("args"))
            for r in records
            if r["type"] in ("event", "dropped", "exit")
        ]

    assert shape(from_json) == shape(from_msgpack)
    assert as_msgpack.stat().st_size < as_json.stat().st_size
    with open(as_msgpack, "rb") as file:
        assert b"auditmon-recording" in file.read(64)


def test_auditmon_never_monitors_itself(tmp_path, runtime_dir):
    """In a shell prepared with `auditmon env`, auditmon's own processes stay unwatched."""
    env_vars = json.loads(auditmon("env", "--format", "json").stdout)
    env = clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir), **env_vars)
    record = tmp_path / "rec.jsonl"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "auditmon",
            "run",
            "--record",
            str(record),
            "--",
            sys.executable,
            "-c",
            "pass",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    processes = [r for r in read_jsonl(record) if r["type"] == "process"]
    assert len(processes) == 1 and processes[0]["argv"][-2:] == ["-c", "pass"]
    listing = subprocess.run(
        [sys.executable, "-m", "auditmon", "ls"], env=env, capture_output=True, text=True
    )
    assert listing.returncode == 0 and "No attachable processes" in listing.stdout
    assert not runtime_dir.exists() or list(runtime_dir.iterdir()) == []


def test_exit_status_of_a_killed_command():
    result = auditmon(
        "run", "--", sys.executable, "-c", "import os, signal; os.kill(os.getpid(), 9)"
    )
    assert result.returncode == 128 + 9
    assert "killed by signal 9" in result.stderr


def test_exec_replaces_the_image_and_nothing_is_lost(tmp_path):
    record = tmp_path / "rec.jsonl"
    code = (
        "import os, sys; sys.audit('cli.before', 1); "
        "after = 'import sys; sys.audit(\"cli.after\", 2)'; "
        "os.execv(sys.executable, [sys.executable, '-c', after])"
    )
    result = auditmon("run", "--record", str(record), "--", sys.executable, "-c", code)
    assert result.returncode == 0, result.stderr
    records = read_jsonl(record)
    images = [r for r in records if r["type"] == "process"]
    assert len(images) == 2 and images[0]["pid"] == images[1]["pid"]
    names = [e["event"] for e in events_of(records)]
    assert names.index("cli.before") < names.index("os.exec") < names.index("cli.after")
    exits = [r for r in records if r["type"] == "exit"]
    assert [e["status"] for e in exits] == ["exited", "exited"]
    assert [e["exit_code"] for e in exits] == [None, 0]
    assert not [r for r in records if r["type"] == "dropped"]
