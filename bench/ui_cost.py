"""What the live monitor costs the machine: its CPU while it watches a modest target,
once the target has ended, and while an ended replay sits on screen.

Usage: .venv/bin/python bench/ui_cost.py [--seconds S] [--baseline PYTHON]

It runs the real app in a real terminal (tmux, 160x48): ``auditmon run -- python3
examples/busy.py`` (about 80 events a second), then, the command ended, leaves it on
screen; then ``auditmon replay`` of a recording of it.  For each phase it reads the
monitor process's CPU time (psutil) over ``S`` seconds and prints the share of one core.
``--baseline`` runs the same phases with the auditmon another interpreter has installed
(a venv with an older commit installed, say) in the same run, side by side.  Commands run
from a temporary directory, so neither picks up this checkout's files by accident.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
BUSY = ROOT / "examples" / "busy.py"


class Terminal:
    """One tmux server with one 160x48 window running a command."""

    def __init__(self, command: str, env: dict[str, str]) -> None:
        self.socket = f"auditmon-cost-{uuid.uuid4().hex[:8]}"
        subprocess.run(
            [
                "tmux",
                "-L",
                self.socket,
                "new-session",
                "-d",
                "-s",
                "cost",
                "-x",
                "160",
                "-y",
                "48",
                command,
            ],
            env=env,
            check=True,
        )

    def screen(self) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, "capture-pane", "-p", "-t", "cost"],
            capture_output=True,
            text=True,
        )
        return result.stdout

    def wait_for(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen():
            if time.monotonic() > deadline:
                raise SystemExit(f"{text!r} never appeared:\n{self.screen()}")
            time.sleep(0.2)

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "-L", self.socket, "send-keys", "-t", "cost", *keys])

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def monitor_process(marker: str, timeout: float = 30.0) -> psutil.Process:
    """The auditmon process whose command line holds ``marker``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in psutil.process_iter(["cmdline"]):
            cmdline = process.info["cmdline"] or []
            if "auditmon" in " ".join(cmdline) and marker in cmdline:
                return process
        time.sleep(0.1)
    raise SystemExit(f"no auditmon process with {marker!r}")


def cpu_share(process: psutil.Process, seconds: float) -> float:
    """Percent of one core the process used over the next ``seconds``."""
    before = process.cpu_times()
    time.sleep(seconds)
    after = process.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    return 100.0 * used / seconds


def phases(python: str, seconds: float, folder: Path) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITMON_")}
    env["TERM"] = "xterm-256color"
    env.pop("PYTHONPATH", None)
    recording = folder / f"busy-{uuid.uuid4().hex[:6]}.amrec"
    length = seconds + 4
    terminal = Terminal(
        f"cd {folder} && {python} -m auditmon run --record {recording} -- {python} {BUSY} "
        f"{length}; sleep 600",
        env,
    )
    try:
        process = monitor_process(str(BUSY))
        terminal.wait_for("round 20")
        busy = cpu_share(process, seconds)
        terminal.wait_for("exited with status 0", timeout=length + 30)
        time.sleep(1)
        ended = cpu_share(process, seconds)
        terminal.keys("q")
    finally:
        terminal.close()
    terminal = Terminal(f"cd {folder} && {python} -m auditmon replay {recording}; sleep 600", env)
    try:
        process = monitor_process(str(recording))
        terminal.wait_for("replayed")
        time.sleep(1)
        replay = cpu_share(process, seconds)
        terminal.keys("q")
    finally:
        terminal.close()
    return {"busy": busy, "ended": ended, "replay": replay}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="each phase (default 10)")
    parser.add_argument(
        "--baseline", metavar="PYTHON", help="an interpreter with another auditmon installed"
    )
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is needed")
    configurations = [("this checkout", sys.executable)]
    if args.baseline is not None:
        configurations.append((f"baseline ({args.baseline})", args.baseline))
    print(f"Live monitor CPU, % of one core over {args.seconds:.0f} s per phase, tmux 160x48,")
    when = time.strftime("%Y-%m-%d %H:%M")
    print(f"{when}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print()
    print("| auditmon | busy.py running (about 80 events/s) | command ended | ended replay |")
    print("|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for name, python in configurations:
            r = phases(python, args.seconds, Path(folder))
            print(f"| {name} | {r['busy']:.1f} | {r['ended']:.1f} | {r['replay']:.1f} |")


if __name__ == "__main__":
    main()
