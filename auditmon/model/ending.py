"""How a process ended, in words: the one wording the tables, the status line and the
headless summary share."""

from __future__ import annotations

from auditmon.model.process import Process

NO_GOODBYE = "no goodbye: its last events may be missing"
#: The same for a process whose agent kept its events in a shared-memory ring (run mode):
#: whatever ended it, what it had written there was still read.
RING_KEPT = "no goodbye: killed, crashed or os._exit; its events were kept"


def ring_kept_text(cut: int) -> str:
    """RING_KEPT, saying how many events the end cut short (``cut``) where there were:
    numbered but never written whole, they are among the process's dropped ones."""
    if cut <= 0:
        return RING_KEPT
    events = "event" if cut == 1 else "events"
    return f"{RING_KEPT}, but {cut:,} {events} cut short by its end (counted as dropped)"


def ending_text(
    status: str,
    exit_code: int | None,
    error: str | None = None,
    *,
    detail: bool = False,
    ring: bool = False,
    cut: int = 0,
) -> str:
    """``exited 3``, ``killed by signal 9``, ``disconnected``…; ``detail`` spells out
    the status and why a disconnect matters, where there is room for it.  ``ring``:
    the process's events were kept in a shared-memory ring, ``cut`` of them cut short
    by its end (``Process.ring``, ``Process.ring_cut``)."""
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
        # crash, a kill), so events of its last moments may be missing; unless its
        # agent wrote them into a ring, which the monitor still read.
        if error is None and ring:
            return f"disconnected ({ring_kept_text(cut)})"
        return f"disconnected ({error or NO_GOODBYE})"
    return status


def process_ending(process: Process) -> str:
    """How ``process`` ended, spelt out (``ending_text`` with ``detail``)."""
    return ending_text(
        process.status,
        process.exit_code,
        process.error,
        detail=True,
        ring=process.ring,
        cut=process.ring_cut,
    )
