"""End to end in a real terminal: tmux runs `auditmon run`, keys drill down, q quits."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from helpers import ROOT, Tmux, clean_env, wait_for

WORKLOAD = """
import sys, time
for i in range(100):  # open stays the top event, above the start-up's imports
    with open('/etc/hostname') as f:
        f.read()
    sys.audit('e2e.tick', i)
    time.sleep(0.015)
print('e2e workload done')
sys.exit(5)
"""

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not on PATH"),
]


def test_run_drill_down_and_quit_in_tmux(tmp_path):
    script = tmp_path / "workload.py"
    script.write_text(WORKLOAD)
    status = tmp_path / "status"
    tmux = Tmux()
    env = clean_env(TERM="xterm-256color")
    command = (
        f"cd {ROOT} && {sys.executable} -m auditmon run -- {sys.executable} {script}; "
        f"echo $? > {status}; sleep 30"
    )
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
            "140",
            "-y",
            "40",
            command,
        ],
        env=env,
        check=True,
        timeout=10,
    )
    try:
        # its events, and its output in the output panel
        tmux.wait_for("exited with status 5", "e2e.tick", "open", "e2e workload done")
        tmux("send-keys", "-t", "e2e", "Enter")  # the top event: open
        tmux.wait_for("Recent occurrences", "/etc/hostname")
        tmux("send-keys", "-t", "e2e", "Enter")
        tmux.wait_for("Raw record", '"event": "open"')
        tmux("send-keys", "-t", "e2e", "Escape")
        tmux.wait_for("Recent occurrences")
        tmux("send-keys", "-t", "e2e", "Escape")
        tmux.wait_for("Categories per second")
        tmux("send-keys", "-t", "e2e", "q")
        wait_for(
            lambda: status.exists() and status.read_text().strip(),
            message="auditmon to quit and the shell to write its status",
            interval=0.2,
            state=tmux.screen,
        )
        assert status.read_text().strip() == "5"
    finally:
        tmux("kill-server")
