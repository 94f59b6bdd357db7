"""Sources for the live UI: ingest runs on a thread and hands the UI immutable snapshots.

A source owns the session model and a lock around it.  Its thread reads agents (or a
recording), updates the model, samples psutil once a second, and every ``interval``
seconds builds a ``Snapshot`` for the UI's current ``View`` and passes it to the
callback: the UI redraws at that bounded rate, never once per event.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from auditmon import snapshot as snapshots
from auditmon.ingest import Fanout, Ingest, Process
from auditmon.launch import agent_settings, target_environment
from auditmon.model import Session
from auditmon.record import Recorder, read_recording

SnapshotCallback = Callable[[snapshots.Snapshot], None]

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


class LockedSink:
    """Applies sink calls to the model under the source's lock."""

    def __init__(self, session: Session, lock: threading.Lock, turn: UiTurn) -> None:
        self.session, self.lock, self.turn = session, lock, turn
        self.lifecycle = 0
        """Processes started or ended so far: the UI shows those without waiting."""

    def process_started(self, process: Process) -> None:
        with self.lock:
            self.session.process_started(process)
        self.lifecycle += 1

    def events(self, process: Process, events: list[list[Any]], raw: bytes | None = None) -> None:
        with self.lock:
            self.session.events(process, events)
        self.turn.wait()

    def dropped(self, process: Process, count: int) -> None:
        with self.lock:
            self.session.dropped(process, count)

    def process_ended(self, process: Process) -> None:
        with self.lock:
            self.session.process_ended(process)
        self.lifecycle += 1


class Source:
    """The common part: model, lock, view, snapshot cadence, problems, the thread."""

    mode = "source"

    def __init__(
        self, record: str | Path | None = None, interval: float = 0.25, recent: int = 100
    ) -> None:
        self.session = Session(recent=recent)
        self.lock = threading.Lock()
        self.view = snapshots.View()
        self.interval = interval
        self.problems: deque[str] = deque(maxlen=100)
        self.output: deque[tuple[str, str]] = deque(maxlen=2000)
        self.output_serial = 0
        self.state = "starting"
        self.finished = False
        self.recorder = Recorder(record) if record else None
        self.ui_turn = UiTurn()
        self.sink = LockedSink(self.session, self.lock, self.ui_turn)
        self.ingest = Ingest(Fanout(self.sink, self.recorder), self.problem)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._callback: SnapshotCallback | None = None
        self._facts: dict[int, psutil.Process] = {}
        self._facts_at = 0.0

    # -- UI side ---------------------------------------------------------------------
    def start(self, callback: SnapshotCallback) -> None:
        self._callback = callback
        self._thread = threading.Thread(target=self._main, name="auditmon-ingest", daemon=True)
        self._thread.start()

    def set_view(self, view: snapshots.View) -> None:
        self.view = view

    def snapshot(self, now: float | None = None) -> snapshots.Snapshot:
        with self.lock:
            return snapshots.build(self.session, self.view, self.clock() if now is None else now)

    def detail(self, name: str, view: snapshots.View) -> snapshots.EventDetail:
        with self.lock:
            return snapshots.event_detail(self.session, name, view)

    def cell(self, category: str, second: int, view: snapshots.View) -> list[Any]:
        """Occurrences kept of ``category`` within one second, newest first."""
        with self.lock:
            found = []
            for totals in self.session.scoped(view.process_id):
                for name, entry in totals.stats.items():
                    if self.session.category_of(name) != category:
                        continue
                    if not view.filter.matches_event(name, self.session.catalog):
                        continue
                    found.extend(o for o in entry.recent if int(o.time) == second)
            return sorted(found, key=lambda o: (o.time, o.seq), reverse=True)

    def export(self, path: Path, view: snapshots.View) -> int:
        """Write the kept occurrences of the current view as JSON Lines; return the count."""
        from auditmon import record

        with self.lock:
            detail_names = [
                r.name for r in snapshots.build(self.session, view, self.clock()).events
            ]
            occurrences = []
            for name in detail_names:
                occurrences.extend(
                    snapshots.event_detail(self.session, name, view, limit=10**9).occurrences
                )
            processes = {t.process.id: t.process for t in self.session.processes.values()}
        occurrences.sort(key=lambda o: (o.time, o.seq))
        exporter = record.Recorder(path)
        written: set[int] = set()
        for occurrence in occurrences:
            process = processes[occurrence.process_id]
            if process.id not in written:
                written.add(process.id)
                exporter.process_started(process)
            exporter.events(
                process,
                [
                    [
                        occurrence.seq,
                        occurrence.time,
                        occurrence.thread,
                        occurrence.event,
                        list(occurrence.args),
                        occurrence.stack,
                    ]
                ],
            )
        exporter.close()
        return len(occurrences)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def clock(self) -> float:
        return time.time()

    def problem(self, message: str) -> None:
        self.problems.append(message)

    # -- the thread ------------------------------------------------------------------
    def _main(self) -> None:
        try:
            self.prepare()
            next_snapshot = last_snapshot = 0.0
            shown: tuple[str, int] | None = None
            while not self._stop.is_set():
                self.step()
                now = time.monotonic()
                # A process started or ended, or the command's state changed: a snapshot
                # as soon as the fastest cadence allows, not at the (maybe slower) next.
                news = (self.state, self.sink.lifecycle) != shown
                if now >= next_snapshot or (news and now >= last_snapshot + self.interval):
                    shown = (self.state, self.sink.lifecycle)
                    last_snapshot = now
                    next_snapshot = now + self.ui_turn.interval(self.interval)
                    self._sample_facts()
                    if self._callback is not None:
                        self._callback(self.snapshot())
                if self.finished:
                    break
            if self._callback is not None:
                self._callback(self.snapshot())
        except Exception as error:  # keep the UI alive and say what went wrong
            self.problem(f"auditmon: ingest stopped: {type(error).__name__}: {error}")
            self.state = "error"
        finally:
            self.close()

    def prepare(self) -> None:
        """Open sockets or files (on the thread)."""

    def step(self) -> None:
        self.ingest.poll(0.05)

    def close(self) -> None:
        self.ingest.close()
        if self.recorder is not None:
            self.recorder.close()

    def _sample_facts(self) -> None:
        now = time.monotonic()
        if now - self._facts_at < 1.0:
            return
        self._facts_at = now
        with self.lock:
            running = [
                (t.process.id, t.process.pid)
                for t in self.session.processes.values()
                if t.process.status == "running"
            ]
        for process_id, pid in running:
            facts = self._facts_of(pid)
            if facts is not None:
                with self.lock:
                    self.session.set_facts(process_id, facts)

    def _facts_of(self, pid: int) -> dict[str, Any] | None:
        try:
            process = self._facts.get(pid)
            if process is None:
                process = self._facts[pid] = psutil.Process(pid)
            with process.oneshot():
                return {
                    "cpu": process.cpu_percent(),
                    "rss": process.memory_info().rss,
                    "threads": process.num_threads(),
                    "open_files": len(process.open_files()),
                }
        except (psutil.Error, OSError):
            self._facts.pop(pid, None)
            return None


class RunSource(Source):
    """``auditmon run``: launch the command with the agent; capture its output."""

    mode = "run"

    def __init__(
        self, command: list[str], settings: dict[str, Any], record=None, recent: int = 100
    ) -> None:
        super().__init__(record, recent=recent)
        self.command = command
        self.settings = settings
        self.child: subprocess.Popen | None = None
        self.returncode: int | None = None
        self._private = tempfile.TemporaryDirectory(prefix="auditmon-")
        self._readers: list[threading.Thread] = []
        self.launch_error: str | None = None

    def launch(self) -> None:
        """Listen and start the command (called before the UI starts, on the main thread)."""
        socket_path = Path(self._private.name) / "monitor.sock"
        self.ingest.listen(socket_path)
        env = target_environment(agent_settings("run", socket_path, **self.settings))
        self.child = subprocess.Popen(
            self.command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        if self.recorder is not None:
            self.recorder.hold_exit(self.child.pid)
        for stream, name in ((self.child.stdout, "stdout"), (self.child.stderr, "stderr")):
            reader = threading.Thread(target=self._read_output, args=(stream, name), daemon=True)
            reader.start()
            self._readers.append(reader)
        self.state = f"running {os.path.basename(self.command[0])} (pid {self.child.pid})"

    def _read_output(self, stream, name: str) -> None:
        for line in iter(stream.readline, b""):
            self.output.append((name, line.decode("utf-8", "replace").rstrip("\n")))
            self.output_serial += 1

    def step(self) -> None:
        self.ingest.poll(0.05)
        if self.child is None:
            return
        if self.returncode is None:
            code = self.child.poll()
            if code is None:
                return
            self.returncode = code
            self.state = _ended_text(self.command[0], code)
        # The command's last image gets its status, even if its data arrives after it ended.
        with self.lock:
            image = self.ingest.last_image(self.child.pid)
            if image is not None and image.exit_code is None:
                image.exit_code = self.returncode

    def close(self) -> None:
        self.ingest.close()
        if self.recorder is not None:
            if self.child is not None:
                self.recorder.release_exit(self.child.pid, self.returncode)
            self.recorder.close()
        self._private.cleanup()

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


def _ended_text(command: str, code: int) -> str:
    how = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
    return f"{os.path.basename(command)} {how}; data kept"


class AttachSource(Source):
    """``auditmon attach``: one agent's stream."""

    mode = "attach"

    def __init__(self, pid: int, sock, record=None, recent: int = 100) -> None:
        super().__init__(record, recent=recent)
        self.pid = pid
        self.connection = self.ingest.add(sock)
        self.state = f"attached to pid {pid}"

    def step(self) -> None:
        self.ingest.poll(0.05)
        if self.connection.closed and not self.finished:
            status = self.connection.process.status
            if status == "exited":
                self.state = f"process {self.pid} exited; data kept"
            else:
                self.state = f"process {self.pid} disconnected; data kept"
            self.finished = True


class ReplaySource(Source):
    """``auditmon replay``: a recording, loaded at once or replayed in time."""

    mode = "replay"

    def __init__(self, path: Path, speed: float | None = None, recent: int = 100) -> None:
        super().__init__(None, recent=recent)
        self.path = Path(path)
        self.speed = speed
        self._records = None
        self._processes: dict[int, Process] = {}
        self._started_at = 0.0
        self._first_time: float | None = None
        self._pending: dict[str, Any] | None = None
        self._last_time: float | None = None
        self.state = f"replaying {self.path.name}"

    def prepare(self) -> None:
        self._records = read_recording(self.path)
        self._started_at = time.monotonic()

    def clock(self) -> float:
        """Replays run on the recording's clock: the time of the latest event seen."""
        return self._last_time + 1 if self._last_time is not None else time.time()

    def step(self) -> None:
        assert self._records is not None
        deadline = time.monotonic() + 0.05
        batch: list[list[Any]] = []
        batch_process: Process | None = None
        while time.monotonic() < deadline:
            record = self._pending or next(self._records, None)
            self._pending = None
            if record is None:
                self._flush(batch_process, batch)
                self._finish()
                return
            if self.speed and record.get("time") is not None:
                if self._first_time is None:
                    self._first_time = record["time"]
                due = self._started_at + (record["time"] - self._first_time) / self.speed
                if due > time.monotonic():
                    self._pending = record
                    self._flush(batch_process, batch)
                    time.sleep(min(0.05, due - time.monotonic()))
                    return
            kind = record.get("type")
            if kind == "event":
                process = self._processes.get(record["pid"])
                if process is None:
                    process = self._open(record["pid"], {})
                if process is not batch_process:
                    self._flush(batch_process, batch)
                    batch, batch_process = [], process
                batch.append(
                    [
                        record["seq"],
                        record["time"],
                        record["thread"],
                        record["event"],
                        record["args"],
                        record.get("stack"),
                    ]
                )
                if len(batch) >= 1000:
                    self._flush(batch_process, batch)
                    batch = []
                continue
            self._flush(batch_process, batch)
            batch, batch_process = [], None
            if kind == "process":
                self._open(record["pid"], record)
            elif kind == "dropped" and record["pid"] in self._processes:
                process = self._processes[record["pid"]]
                process.dropped += record["count"]
            elif kind == "exit" and record["pid"] in self._processes:
                process = self._processes[record["pid"]]
                process.status = record.get("status") or "exited"
                process.exit_code = record.get("exit_code")
                process.end_time = record.get("time")
                self.sink.process_ended(process)
        self._flush(batch_process, batch)

    def _open(self, pid: int, record: dict[str, Any]) -> Process:
        process = Process(id=len(self._processes) + len(self.session.ended) + 1)
        hello = {"pid": pid, **{k: v for k, v in record.items() if k not in ("type", "pid")}}
        process.apply_hello(hello)
        self._processes[pid] = process
        self.sink.process_started(process)
        return process

    def _flush(self, process: Process | None, batch: list[list[Any]]) -> None:
        if process is not None and batch:
            process.received += len(batch)
            latest = max(event[1] for event in batch)
            if self._last_time is None or latest > self._last_time:
                self._last_time = latest
            self.sink.events(process, batch)

    def _finish(self) -> None:
        self.finished = True
        self.state = f"replayed {self.path.name}"


class StaticSource(Source):
    """A fixed session at a fixed time: for tests, snapshots and screenshots."""

    mode = "static"

    def __init__(
        self,
        session: Session,
        now: float,
        state: str = "static data",
        mode: str = "static",
        output: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(None)
        self.session = session
        self.now = now
        self.state = state
        self.mode = mode
        for line in output or []:
            self.output.append(line)
            self.output_serial += 1

    def start(self, callback: SnapshotCallback) -> None:
        self._callback = callback
        callback(self.snapshot())

    def clock(self) -> float:
        return self.now

    def stop(self) -> None:
        """Nothing runs."""
