"""How a process ended, in words: the one wording the tables, the status line and the
headless summary share."""

from __future__ import annotations

NO_GOODBYE = "no goodbye: its last events may be missing"
#: The same for a process whose agent kept its events in a shared-memory ring (run mode):
#: whatever ended it, what it raised was read from the ring.
RING_KEPT = "no goodbye: killed, crashed or os._exit; every event it raised was kept"


def ending_text(
    status: str, exit_code: int | None, error: str | None = None, *, detail: bool = False
) -> str:
    """``exited 3``, ``killed by signal 9``, ``disconnected``…; ``detail`` spells out
    the status and why a disconnect matters, where there is room for it."""
    if status == "running":
        return "running"
    if exit_code is not None:
        if exit_code < 0:
            return f"killed by signal {-exit_code}"
        return f"exited with status {exit_code}" if detail else f"exited {exit_code}"
    if status == "detached":
        return "still running (detached)" if detail else "detached"
    if status == "not monitored" and detail and error:
        return f"not monitored: {error}"
    if status == "disconnected" and detail:
        # No goodbye: the process ended without the agent's last flush (os._exit, a
        # crash, a kill), so events of its last moments may be missing.
        return f"disconnected ({error or NO_GOODBYE})"
    return status
