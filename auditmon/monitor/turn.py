"""Redraw pacing: ingest gives way to the UI's redraws, and snapshots slow down where
redraws are slow."""

from __future__ import annotations

import threading
import time

REDRAW_GRACE = 0.1
"""How long ingest waits, at most, for the UI to finish a redraw before it goes on."""
REDRAW_SHARE = 0.1
"""Snapshots come no faster than lets redraws take this share of the UI thread's time..."""
SLOWEST_INTERVAL = 1.0
"""...and no slower than this, however long a redraw takes."""


class UiTurn:
    """Ingest and the UI share one interpreter lock: while the UI redraws, ingest waits
    between batches instead of taking the lock every few milliseconds, so a redraw (and
    the key press queued behind it) takes its own time, not several times that.  Agents
    buffer meanwhile; a UI that never says it is done holds ingest up for at most
    ``grace`` per redraw."""

    def __init__(self, grace: float = REDRAW_GRACE) -> None:
        self.grace = grace
        self._free = threading.Event()
        self._free.set()
        self._started = 0.0
        self.last_redraw = 0.0
        """Seconds the last redraw took, from the snapshot applied to the screen drawn."""

    def redrawing(self) -> None:
        self._started = time.monotonic()
        self._free.clear()

    def redrawn(self) -> None:
        self.last_redraw = time.monotonic() - self._started
        self._free.set()

    def interval(self, fastest: float) -> float:
        """Seconds to the next snapshot: ``fastest``, unless redraws are slow here."""
        return min(max(fastest, self.last_redraw / REDRAW_SHARE), max(fastest, SLOWEST_INTERVAL))

    def wait(self) -> None:
        """Between batches: give way to the UI thread, and to a redraw until it is done."""
        time.sleep(0)
        if not self._free.is_set():
            self._free.wait(max(0.0, self._started + self.grace - time.monotonic()))
