"""In a real terminal (tmux): a timed replay reaches its end, Ctrl-C quits (asking first
while the command still runs), and Ctrl-C never prints a traceback."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import ROOT, WORKLOADS, auditmon, clean_env, wait_for
from test_e2e_tmux import Tmux

import auditmon as auditmon_package

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def start(tmux: Tmux, command: str, size: tuple[int, int] = (140, 40)) -> None:
    subprocess.run(
        [
            "tmux",
            "-L",
            tmux.socket,
            "new-session",
            "-d",
            "-s",
            "e2e",
            "-x",
            str(size[0]),
            "-y",
            str(size[1]),
            command,
        ],
        env=clean_env(TERM="xterm-256color"),
        check=True,
        timeout=10,
    )


def wait_for_file(path, tmux: Tmux, timeout: float = 20.0) -> str:
    return wait_for(
        lambda: path.exists() and path.read_text().strip(),
        timeout,
        message=f"{path.name} written",
        interval=0.2,
        state=tmux.screen,
    )


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    folder = tmp_path_factory.mktemp("speed")
    path = folder / "run.jsonl"
    result = auditmon(
        "run",
        "--headless",
        "--record",
        str(path),
        "--",
        sys.executable,
        str(WORKLOADS / "exact.py"),
        str(folder / "seen.json"),
    )
    assert result.returncode == 0, result.stderr
    return path


@pytest.mark.parametrize("attempt", range(3))
def test_a_timed_replay_reaches_its_end(recording, tmp_path, attempt):
    """The replay's clock used to be read twice around a sleep, which could be asked
    to last a negative time: the ingest thread died and the screen said "replaying…"
    for ever."""
    tmux = Tmux()
    start(
        tmux, f"cd {ROOT} && {sys.executable} -m auditmon replay --speed 50 {recording}; sleep 30"
    )
    try:
        screen = tmux.wait_for(f"replayed {recording.name}", timeout=60)
        assert "error" not in screen.split("replayed")[0][-20:]
        tmux("send-keys", "-t", "e2e", "q")
    finally:
        tmux("kill-server")


def test_ctrl_c_asks_while_the_command_runs_then_quits(tmp_path):
    tmux = Tmux()
    status = tmp_path / "status"
    start(
        tmux,
        f"cd {ROOT} && {sys.executable} -m auditmon run -- {sys.executable} -c "
        f"'import time; time.sleep(120)'; echo $? > {status}; sleep 30",
    )
    try:
        tmux.wait_for("running python")
        tmux("send-keys", "-t", "e2e", "C-c")
        tmux.wait_for("is still running")
        tmux("send-keys", "-t", "e2e", "n")  # stay
        time.sleep(0.5)
        assert "is still running" not in tmux.screen()
        tmux("send-keys", "-t", "e2e", "C-c")
        tmux.wait_for("is still running")
        tmux("send-keys", "-t", "e2e", "y")
        code = wait_for_file(status, tmux)
        assert code.strip() == str(128 + signal.SIGTERM)  # the command got SIGTERM
        assert "Traceback" not in tmux.screen()
    finally:
        tmux("kill-server")


def test_ctrl_c_quits_at_once_when_the_command_has_ended(tmp_path):
    tmux = Tmux()
    status = tmp_path / "status"
    start(
        tmux,
        f"cd {ROOT} && {sys.executable} -m auditmon run -- {sys.executable} -c "
        f"'print(1)'; echo $? > {status}; sleep 30",
    )
    try:
        tmux.wait_for("exited with status 0")
        tmux("send-keys", "-t", "e2e", "C-c")
        assert wait_for_file(status, tmux).strip() == "0"
    finally:
        tmux("kill-server")


@pytest.mark.parametrize("delay", [0.0, 0.01, 0.03, 0.06, 0.1, 0.2])
def test_an_early_ctrl_c_prints_no_traceback(tmp_path, delay):
    """Ctrl-C while auditmon is still starting (importing) exits quietly.  Before any of
    auditmon's code runs (the interpreter's own ``site``) the interpreter reports it, so
    the test looks for a traceback through auditmon's files."""
    process = subprocess.Popen(
        [sys.executable, "-m", "auditmon", "run", "--headless", "--", "sleep", "1"],
        cwd=ROOT,
        env=clean_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    package = str(Path(auditmon_package.__file__).parent)  # not the checkout's name
    assert f'File "{package}' not in err, err


def test_a_filter_error_with_markup_in_it_is_shown_as_text(recording):
    """``/risk>=[/x]`` used to kill the app with a MarkupError: the error's text (which
    quotes what was typed) was read as markup."""
    tmux = Tmux()
    start(tmux, f"cd {ROOT} && {sys.executable} -m auditmon replay {recording}; sleep 30")
    try:
        tmux.wait_for(f"replayed {recording.name}")
        tmux("send-keys", "-t", "e2e", "/")
        tmux.wait_for("filter: socket.*")  # the empty box's hint
        tmux("send-keys", "-t", "e2e", "-l", "risk>=[/x]")
        tmux("send-keys", "-t", "e2e", "Enter")
        screen = tmux.wait_for("not '[/x]'")  # the error, as text
        assert "Traceback" not in screen and "MarkupError" not in screen
        tmux("send-keys", "-t", "e2e", "Escape")
        time.sleep(0.5)  # a lone Escape, not the start of an escape sequence with "/"
        tmux("send-keys", "-t", "e2e", "/")
        tmux.wait_for("filter: socket.*")  # the empty box's hint
        tmux("send-keys", "-t", "e2e", "-l", 'event = "[warning]"')
        tmux("send-keys", "-t", "e2e", "Enter")
        screen = tmux.wait_for('filter: event = "[warning]"')
        assert "Traceback" not in screen
    finally:
        tmux("kill-server")
