"""The benchmark's machinery: listeners the agents stream to, the configurations'
environments, and timing, pairing and instruction counting of whole processes."""

from __future__ import annotations

import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditmon.agentpath import agent_dir  # noqa: E402
from auditmon.ingest import Fanout, Ingest  # noqa: E402
from auditmon.record import Recorder  # noqa: E402
from tools.cext import compile_extension  # noqa: E402

CONFIGS = ("none", "count", "empty", "python", "native")
HOOKS = ("count", "empty")  # the configurations that are a sitecustomize of their own
COUNT_HOOK = Path(__file__).with_name("count_hook.c")


class Listener:
    """A listening process the agents stream to, started from a script beside this one.
    (A thread here would share this process's GIL with the thread timing the targets,
    which would then wait for it as each target ends.)"""

    SCRIPT = ""

    def __init__(self, directory: Path) -> None:
        self.path = directory / (Path(self.SCRIPT).stem + ".sock")
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name(self.SCRIPT)), str(self.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the benchmark's {self.SCRIPT} did not start")

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


class Drain(Listener):
    """Reads and discards (bench/drain_process.py): the tight loops' listener."""

    SCRIPT = "drain_process.py"


class Monitor(Listener):
    """A real monitor (bench/monitor_process.py): auditmon's ingest decoding and counting
    every event, as the headless monitor does, in a process of its own, as auditmon's
    monitor is."""

    SCRIPT = "monitor_process.py"

    def reset(self) -> tuple[int, int]:
        """Events and drops since the last reset (waits for connections to finish)."""
        self.process.stdin.write("reset\n")
        self.process.stdin.flush()
        events, dropped = self.process.stdout.readline().split()
        return int(events), int(dropped)


def environment(config: str, monitor: Listener, hooks: dict[str, Path]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITMON_")}
    env.pop("PYTHONPATH", None)
    if config in HOOKS:
        env["PYTHONPATH"] = str(hooks[config])
    elif config in ("python", "native"):
        env.update(
            PYTHONPATH=str(agent_dir()),
            AUDITMON_MODE="run",
            AUDITMON_SOCKET=str(monitor.path),
            AUDITMON_AGENT=config,
        )
    return env


def configs(hooks: dict[str, Path]) -> tuple[str, ...]:
    """This run's configurations: the C hook only where it could be built."""
    return tuple(c for c in CONFIGS if c not in HOOKS or c in hooks)


def cell(figures: dict, config: str, form: str) -> str:
    """A table cell: the configuration's figure, or "-" where the run has none."""
    return format(figures[config], form) if config in figures else "-"


def count_hook_dir(python: str, directory: Path) -> Path | None:
    """A sitecustomize that installs bench/count_hook.c, built for ``python``; None where
    it can't be (no C compiler, no headers for ``python``, a failed build)."""
    directory.mkdir()
    try:
        compile_extension(python, COUNT_HOOK, directory, "_count_hook")
    except (OSError, subprocess.CalledProcessError):
        return None
    (directory / "sitecustomize.py").write_text("import _count_hook\n")
    subprocess.run([python, "-m", "compileall", "-q", str(directory)], check=True)
    return directory


def printed(python: str, code: str, env: dict[str, str]) -> list[str]:
    """The words a program run with ``python -c`` printed last (its figures)."""
    out = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return out.stdout.split()


def run_once(python: str, args: list[str], env: dict[str, str]) -> float:
    """Wall time of one run of the target process: spawned directly (posix_spawn), so
    the figure holds as little of this harness as can be."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        started = time.perf_counter()
        pid = os.posix_spawn(
            python, [python, *args], env, file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1)]
        )
        _, status = os.waitpid(pid, 0)
        elapsed = time.perf_counter() - started
    finally:
        os.close(devnull)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{python} {args} failed: {status}")
    return elapsed


def program_runs_by_config(
    python: str, args: list[str], envs: dict[str, dict], runs: int
) -> dict[str, list[float]]:
    """Wall times per configuration; the configurations take turns, run by run, in a
    fresh random order each round (so a slow spell of the machine hits them all)."""
    times: dict[str, list[float]] = {config: [] for config in envs}
    order = list(envs)
    for _ in range(runs):
        random.shuffle(order)
        for config in order:
            times[config].append(run_once(python, args, envs[config]))
    return times


def program_times(python: str, args: list[str], envs: dict[str, dict], runs: int) -> dict:
    """Median wall time per configuration."""
    times = program_runs_by_config(python, args, envs, runs)
    return {config: statistics.median(values) for config, values in times.items()}


def paired_overhead(times: dict[str, list[float]], config: str) -> tuple[float, float]:
    """The mean of ``config``'s extra time over ``none`` in the same round, as a
    percentage of the median ``none`` run, and its standard error."""
    base = statistics.median(times["none"])
    extra = [(a - b) / base * 100 for a, b in zip(times[config], times["none"])]
    return statistics.mean(extra), statistics.stdev(extra) / len(extra) ** 0.5


def program_instructions(python: str, args: list[str], env: dict[str, str]) -> int | None:
    """Instructions of one whole run under callgrind (None if valgrind is absent)."""
    if shutil.which("valgrind") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cg.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", python, *args],
            env={**env, "PYTHONHASHSEED": "0"},
            capture_output=True,
            check=True,
        )
        return callgrind_total(out)


def callgrind_total(out: Path) -> int:
    for line in out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no total in {out}")


def bare_interpreter(python: str, directory: Path) -> str:
    """A venv of the same interpreter with nothing installed (no .pth files at start-up)."""
    base = subprocess.run(
        [python, "-c", "import sys; print(getattr(sys, '_base_executable', sys.executable))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run([base, "-m", "venv", "--without-pip", str(directory)], check=True)
    return str(directory / "bin" / "python")


def instructions(python: str, stmt: str, env: dict[str, str]) -> int | None:
    """Instructions of a tight loop of 20 000 events under callgrind (None if absent)."""
    counts = [
        program_instructions(python, ["-c", f"import sys\nfor i in range({n}):\n    {stmt}\n"], env)
        for n in (0, 20000)
    ]
    if None in counts:
        return None
    return (counts[1] - counts[0]) // 20000


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}; "
        f"CPython {platform.python_version()}"
    )


def ingest_rate(payload: bytes, total: int, sink: Any, directory: Path) -> float:
    """Events per second through auditmon's ingest from a real socket into ``sink``."""
    ingest = Ingest(Fanout(sink), lambda message: None)
    path = directory / f"{time.monotonic_ns()}.sock"
    ingest.listen(path)

    def send() -> None:
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(path))
            client.sendall(payload)

    started = time.perf_counter()
    threading.Thread(target=send, daemon=True).start()
    while not ingest.processes or ingest.open_connections:
        ingest.poll(0.05)
    ingest.close()  # (a stream without a goodbye ends here, written to the sink)
    if isinstance(sink, Recorder):
        sink.close()  # a recording is written once it is closed
    elapsed = time.perf_counter() - started
    return total / elapsed
