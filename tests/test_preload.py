"""The preload library (agent/preload/) brings the agent into every Python process of a
tree, whatever its parents did to PYTHONPATH and whatever its flags, keeps the events
raised before site runs, and leaves every other program as it was.

Real processes throughout: ``auditmon run --headless --record`` over small parent
scripts, both agents, and Debian's python3 (no msgpack) as a target.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import (
    AGENT_DIR,
    NOBODY,
    agent_env,
    attach_env,
    auditmon,
    clean_env,
    events_of,
    read_jsonl,
    run_recorded,
    system_python_or_skip,
    wait_for,
)

from auditmon.protocol import agent_constants

pytestmark = pytest.mark.system

LIBRARY = AGENT_DIR / agent_constants.PRELOAD_LIBRARY

#: A parent that starts one child per way of losing PYTHONPATH; each child raises
#: ``demo.child`` with its tag.
PARENT = textwrap.dedent(
    """
    import os, subprocess, sys
    python = sys.argv[1]
    without = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    def child(tag, *flags, env=None, prefix=()):
        code = "import sys; sys.audit('demo.child', %r)" % tag
        subprocess.run([*prefix, python, *flags, "-c", code], env=env, check=True)
    child("-I", "-I")
    child("-E", "-E")
    child("-S", "-S")
    child("-I -S", "-I", "-S")
    child("env -u", prefix=("env", "-u", "PYTHONPATH"))
    child("env=", env=without)
    child("PYTHONPATH elsewhere", env=dict(without, PYTHONPATH="/nonexistent"))
    child("plain")
    """
)
TAGS = ["-I", "-E", "-S", "-I -S", "env -u", "env=", "PYTHONPATH elsewhere", "plain"]


@pytest.fixture(scope="module", autouse=True)
def library_built():
    if not LIBRARY.is_file():
        pytest.fail(f"{LIBRARY} was not built: pip install -e . builds it (needs a C compiler)")


def children_by_tag(records: list[dict]) -> dict[str, dict]:
    """The process record of each child that raised ``demo.child``, by its tag."""
    processes = {r["pid"]: r for r in records if r["type"] == "process"}
    found = {}
    for event in events_of(records):
        if event["event"] == "demo.child":
            found[event["args"][0]] = processes[event["pid"]]
    return found


@pytest.mark.parametrize("kind", ["native", "python"])
def test_children_that_pythonpath_does_not_reach_are_monitored(tmp_path, kind):
    parent = tmp_path / "parent.py"
    parent.write_text(PARENT)
    record = tmp_path / "r.jsonl"
    result = run_recorded(record, sys.executable, str(parent), sys.executable, env=agent_env(kind))
    assert result.returncode == 0, result.stderr
    records = read_jsonl(record)
    parent_pid = next(
        r["pid"] for r in records if r["type"] == "process" and str(parent) in r["argv"]
    )
    children = children_by_tag(records)
    assert sorted(children) == sorted(TAGS)
    for tag, child in children.items():
        assert child["ppid"] == parent_pid, tag
        assert child["agent"] == kind, tag
    assert not [r for r in records if r["type"] == "process" and r.get("monitored") is False]
    assert "not monitored" not in result.stdout


def test_a_target_without_msgpack_is_reached_under_minus_i(tmp_path):
    """Debian's python3 (none of auditmon's dependencies), started with -I and -S by a
    parent that dropped PYTHONPATH: the preload library starts the agent all the same."""
    python = system_python_or_skip()
    parent = tmp_path / "parent.py"
    parent.write_text(PARENT)
    record = tmp_path / "r.jsonl"
    result = run_recorded(record, python, "-I", str(parent), python, env=clean_env())
    assert result.returncode == 0, result.stderr
    records = read_jsonl(record)
    assert sorted(children_by_tag(records)) == sorted(TAGS)
    parent_events = [e for e in events_of(records) if e["event"] == "subprocess.Popen"]
    assert len(parent_events) == len(TAGS)


@pytest.mark.parametrize("kind", ["native", "python"])
def test_events_before_site_are_recorded_first(tmp_path, kind):
    """The interpreter's own start-up imports (encodings, site), which come before site
    imports sitecustomize, are numbered first, from 1, with no gap."""
    record = tmp_path / "r.jsonl"
    result = run_recorded(record, sys.executable, "-c", "pass", env=agent_env(kind))
    assert result.returncode == 0, result.stderr
    events = events_of(read_jsonl(record))
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    imports = [e["args"][0] for e in events if e["event"] == "import"]
    assert "encodings" in imports
    assert "site" in imports
    assert imports.index("site") < imports.index("sitecustomize")
    (process,) = [r for r in read_jsonl(record) if r["type"] == "process"]
    assert process["startup"] is True


@pytest.mark.parametrize("python", ["venv", "debian"])
def test_start_up_events_that_overflow_a_small_ring_are_counted(tmp_path, python):
    """The pure-Python agent writes the kept events into its ring in one go where they
    fit; into the smallest ring they don't, and go one by one: each either recorded or
    counted as dropped, in order (Debian's python3: the agent's own encoder)."""
    executable = sys.executable if python == "venv" else system_python_or_skip()
    counts = []
    for queue in ("10000", "1"):  # a ring of 8 MiB; of 4 KiB, the least there is
        record = tmp_path / f"q{queue}.jsonl"
        env = agent_env("python", AUDITMON_QUEUE=queue)
        result = run_recorded(record, executable, "-c", "pass", env=env)
        assert result.returncode == 0, result.stderr
        records = read_jsonl(record)
        seqs = [e["seq"] for e in events_of(records)]
        dropped = sum(r["count"] for r in records if r["type"] == "dropped")
        assert seqs == sorted(seqs)  # in order
        counts.append((len(seqs), dropped, seqs))
    (whole, none, seqs), (kept, dropped, some) = counts
    assert none == 0 and seqs == list(range(1, whole + 1))
    assert 0 < kept < whole and kept + dropped == whole
    assert len(set(some)) == kept and some[0] == 1 and some[-1] <= whole


def test_a_process_whose_start_up_was_not_seen_says_so(tmp_path):
    """Without the preload library (LD_PRELOAD cleared), PYTHONPATH still brings the
    agent in, after site: the recording and the summary say that its start-up was not
    seen."""
    record = tmp_path / "r.jsonl"
    command = ("env", "-u", "LD_PRELOAD", sys.executable, "-c", "import sys; sys.audit('x')")
    result = run_recorded(record, *command, env=clean_env())
    assert result.returncode == 0, result.stderr
    records = read_jsonl(record)
    (process,) = [r for r in records if r["type"] == "process"]
    assert "startup" not in process
    imports = [e["args"][0] for e in events_of(records) if e["event"] == "import"]
    assert "encodings" not in imports


def test_a_process_can_opt_out_and_its_children_with_it(tmp_path):
    """AUDITMON_MODE=off: the process is not monitored, and the library leaves its
    LD_PRELOAD, so that its own children are free of it too."""
    script = tmp_path / "out.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, subprocess, sys
            env = dict(os.environ, AUDITMON_MODE="off")
            code = "import os, subprocess, sys; sys.audit('demo.out');" \\
                " subprocess.run(['env'])"
            subprocess.run([sys.executable, "-c", code], env=env, check=True)
            """
        )
    )
    record = tmp_path / "r.jsonl"
    # A small environment: the agent keeps the first 32 entries of an env= it reports,
    # and the reason is read from AUDITMON_MODE among them.
    small = {k: v for k, v in clean_env().items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    result = run_recorded(record, sys.executable, str(script), env=small)
    assert result.returncode == 0, result.stderr
    records = read_jsonl(record)
    assert not [e for e in events_of(records) if e["event"] == "demo.out"]
    grandchild_env = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert str(LIBRARY) not in grandchild_env.get("LD_PRELOAD", "")
    unreached = [r for r in records if r["type"] == "process" and r.get("monitored") is False]
    assert len(unreached) == 1
    assert "opted out" in unreached[0]["reason"]


# -- programs that are not Python ----------------------------------------------------------

AGENT_VARIABLES = {"PYTHONPATH", "LD_PRELOAD"}


def run_both_ways(command: list[str], cwd: Path) -> tuple:
    """``command`` run plainly and under ``auditmon run --headless``: the two results."""
    plain = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=clean_env())
    under = subprocess.run(
        [sys.executable, "-m", "auditmon", "run", "--headless", "--", *command],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
    )
    return plain, under


@pytest.mark.parametrize(
    "command",
    [
        ["sh", "-c", "printf 'b\\na\\nc\\n' | sort | tr a-z A-Z; echo err >&2; exit 3"],
        ["gcc", "-c", "hello.c", "-o", "hello.o"],
        ["gcc", "-c", "broken.c", "-o", "broken.o"],
        ["git", "status", "--porcelain=v1", "--branch"],
    ],
    ids=["pipeline", "gcc", "gcc-error", "git-status"],
)
def test_programs_that_are_not_python_behave_as_without_auditmon(tmp_path, command):
    if shutil.which(command[0]) is None:
        pytest.skip(f"{command[0]} is not installed here")
    (tmp_path / "hello.c").write_text("int main(void) { return 0; }\n")
    (tmp_path / "broken.c").write_text("int main(void) { return nope; }\n")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=False)
    plain, under = run_both_ways(command, tmp_path)
    assert (under.returncode, under.stdout) == (plain.returncode, plain.stdout)
    theirs, summary = under.stderr[: len(plain.stderr)], under.stderr[len(plain.stderr) :]
    assert theirs == plain.stderr
    assert summary.startswith("auditmon: ")  # headless run's own summary, after theirs


PROBE = r"""
#define _GNU_SOURCE
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static int found(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    if (info->dlpi_name && strstr(info->dlpi_name, "auditmon-preload"))
        *(int *)data = 1;
    return 0;
}
int main(void) {
    int preloaded = 0;
    dl_iterate_phdr(found, &preloaded);
    printf("euid=%d preloaded=%d\n", (int)geteuid(), preloaded);
    return 7;
}
"""


def probe(tmp_path: Path, name: str, *flags: str) -> Path:
    """A C program that says its effective uid and whether the preload library is among
    its loaded objects (its own list: a setuid process may not read its /proc maps)."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed here")
    (tmp_path / "probe.c").write_text(PROBE)
    built = subprocess.run(
        ["gcc", "-O1", *flags, "-o", name, "probe.c"], cwd=tmp_path, capture_output=True, text=True
    )
    if built.returncode:
        pytest.skip(f"gcc {' '.join(flags)} cannot build here: {built.stderr.strip()[:200]}")
    return tmp_path / name


@pytest.mark.parametrize("kind", ["setuid", "static"])
def test_setuid_and_static_programs_are_left_alone(tmp_path, kind):
    """The loader ignores LD_PRELOAD for a setuid program, and a static one loads no
    library: both run as without auditmon (output, status), the library nowhere in them;
    the same program built plainly has it, so the probe can tell."""
    plain_probe = probe(tmp_path, "probe")
    if kind == "static":
        program = probe(tmp_path, "probe-static", "-static")
    else:
        if os.geteuid() != 0:
            pytest.skip("making a program setuid to another user needs root")
        program = tmp_path / "probe-setuid"
        shutil.copy(plain_probe, program)
        os.chown(program, NOBODY, -1)
        os.chmod(program, 0o4755)
        os.chmod(tmp_path, 0o755)
    plain, under = run_both_ways([str(program)], tmp_path)
    if kind == "setuid" and plain.stdout.startswith("euid=0 "):
        pytest.skip("this file system ignores the setuid bit (nosuid)")
    assert plain.returncode == 7
    assert plain.stdout.endswith(" preloaded=0\n")
    assert (under.returncode, under.stdout) == (plain.returncode, plain.stdout)
    control = run_both_ways([str(plain_probe)], tmp_path)[1]
    assert control.stdout.endswith(" preloaded=1\n")


def test_their_environment_differs_only_by_the_agent_variables(tmp_path):
    plain, under = run_both_ways(["env", "-0"], tmp_path)

    def variables(result) -> dict[str, str]:
        return dict(item.split("=", 1) for item in result.stdout.split("\0") if item)

    before, after = variables(plain), variables(under)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed - AGENT_VARIABLES <= {k for k in after if k.startswith("AUDITMON_")}
    assert after["LD_PRELOAD"].split(":")[0] == str(LIBRARY)


def test_the_library_stays_out_of_a_program_without_the_settings():
    """In LD_PRELOAD but without AUDITMON_MODE (a copied environment, say): nothing
    happens, and the library takes itself out of LD_PRELOAD for the children."""
    env = clean_env(LD_PRELOAD=str(LIBRARY))
    result = subprocess.run(
        ["sh", "-c", 'echo "[$LD_PRELOAD]"'], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0
    assert result.stdout == "[]\n"
    code = "import sys; print(sorted(m for m in sys.modules if m.startswith('_auditmon')))"
    python = subprocess.run(
        [sys.executable, "-I", "-c", code], env=env, capture_output=True, text=True
    )
    assert python.returncode == 0, python.stderr
    assert python.stdout == "[]\n"


def test_auditmon_env_makes_a_process_started_with_minus_i_attachable(tmp_path):
    """``auditmon env``'s settings, LD_PRELOAD included: a ``python -I`` (PYTHONPATH
    ignored) is attachable, with its start-up events in what the agent kept."""
    runtime = tmp_path / "run"
    code = "import sys, time; sys.audit('demo.isolated'); time.sleep(60)"
    target = subprocess.Popen([sys.executable, "-I", "-c", code], env=attach_env(runtime))
    try:
        env = clean_env(AUDITMON_RUNTIME_DIR=str(runtime))
        wait_for(
            lambda: str(target.pid) in auditmon("ls", env=env).stdout,
            message="the -I process listed by auditmon ls",
        )
        record = tmp_path / "a.jsonl"
        result = auditmon(
            "attach", "--duration", "0.5", "--record", str(record), str(target.pid), env=env
        )
        assert result.returncode == 0, result.stderr
        records = read_jsonl(record)
        names = [e["event"] for e in events_of(records)]
        assert "demo.isolated" in names
        imports = [e["args"][0] for e in events_of(records) if e["event"] == "import"]
        assert "encodings" in imports  # the start-up, kept by the bootstrap hook
        assert target.poll() is None
    finally:
        target.kill()
        target.wait()
