"""``auditmon run``'s source: the command, launched with the agent in its environment.

``start_command`` is the one way both the headless and the live run start it; the
``RunFeed`` listens for its agents and, for the live monitor, captures its output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from auditmon.model.ending import ending_text
from auditmon.sources.environment import agent_settings, target_environment
from auditmon.sources.feed import Intake
from auditmon.sources.output import OutputBuffer


def start_command(
    command: list[str], settings: Mapping[str, str], capture: bool
) -> subprocess.Popen:
    """Start ``command`` with the agent's ``settings``.  ``capture``: no terminal stdin,
    stdout and stderr piped (the live monitor shows them); otherwise the command keeps
    the terminal.  OSError if it cannot be started."""
    env = target_environment(settings)
    if not capture:
        return subprocess.Popen(command, env=env)
    return subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


class RunFeed:
    """The launched command and the agents of its Python processes."""

    mode = "run"

    def __init__(
        self, command: list[str], settings: Mapping[str, Any], capture: bool = True
    ) -> None:
        self.command = command
        self.settings = dict(settings)
        self.capture = capture
        self.child: subprocess.Popen | None = None
        self.returncode: int | None = None
        self.output = OutputBuffer()
        self.state = "starting"
        self.finished = False  # agents may report after the command ended: never finished
        self._private: tempfile.TemporaryDirectory | None = None
        self._readers: list[threading.Thread] = []

    @property
    def name(self) -> str:
        return os.path.basename(self.command[0])

    def launch(self, intake: Intake) -> None:
        """Listen in a private directory (mode 0700) and start the command."""
        self._private = tempfile.TemporaryDirectory(prefix="auditmon-")
        socket_path = Path(self._private.name) / "monitor.sock"
        intake.ingest.listen(socket_path)
        self.child = start_command(
            self.command, agent_settings("run", socket_path, **self.settings), self.capture
        )
        intake.hold_exit(self.child.pid)
        if self.capture:
            for stream, name in ((self.child.stdout, "stdout"), (self.child.stderr, "stderr")):
                reader = threading.Thread(target=self._read, args=(stream, name), daemon=True)
                reader.start()
                self._readers.append(reader)
        self.state = f"running {self.name} (pid {self.child.pid})"

    def _read(self, stream: IO[bytes], name: str) -> None:
        for line in iter(stream.readline, b""):
            self.output.append(name, line.decode("utf-8", "replace").rstrip("\n"))

    def clock(self) -> float:
        return time.time()

    def step(self, intake: Intake) -> None:
        intake.ingest.poll(0.05)
        if self.child is None:
            return
        if self.returncode is None:
            code = self.child.poll()
            if code is None:
                return
            self.returncode = code
            self.state = f"{self.name} {ending_text('exited', code, detail=True)}; data kept"
        # The command's last image gets its status, even if its data arrives after it ended.
        image = intake.ingest.last_image(self.child.pid)
        if image is not None and image.exit_code is None:
            image.exit_code = self.returncode

    @property
    def command_running(self) -> bool:
        """Started and not known to have ended (as of the last step)."""
        return self.child is not None and self.returncode is None

    @property
    def command_ended(self) -> bool:
        return self.child is not None and self.child.poll() is not None

    def exit_codes(self) -> dict[int, int]:
        if self.child is None or self.returncode is None:
            return {}
        return {self.child.pid: self.returncode}

    def terminate(self, grace: float = 5.0) -> int | None:
        """Stop the command if it still runs (quitting early); return its status."""
        child = self.child
        if child is None:
            return None
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(grace)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for reader in self._readers:
            reader.join(timeout=1)
        self.returncode = child.returncode
        return child.returncode

    def wait(self) -> int:
        """The command's exit status, once it has ended."""
        assert self.child is not None
        self.returncode = self.child.wait()
        return self.returncode

    def close(self) -> None:
        if self._private is not None:
            self._private.cleanup()
            self._private = None
