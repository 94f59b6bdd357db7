"""What ingest feeds: the session model, the recorder, or several of them at once."""

from __future__ import annotations

from typing import Any, Protocol

from auditmon.model.process import Process


class Sink(Protocol):
    """A consumer of decoded messages, in the order they arrived.

    ``events`` gets each decoded, validated batch and, when the sink (or one behind a
    ``Fanout``) has a true ``wants_raw``, ``raw``: the msgpack encoding of that array
    exactly as it arrived, or None when it is not available (the message header was not
    the canonical ``0x92, EVENTS``).  Keeping the input to slice it from costs a copy,
    so only connections whose sink wants it do.
    """

    def process_started(self, process: Process) -> None: ...

    def events(
        self, process: Process, events: list[list[Any]], raw: bytes | None = None
    ) -> None: ...

    def dropped(self, process: Process, count: int) -> None: ...

    def process_ended(self, process: Process) -> None: ...


def threads_named(sink: Any, process: Process, names: list[tuple[int, int, str]]) -> None:
    """Tell ``sink`` the names of threads of ``process``, ``(thread, from seq, name)``
    each, before the events they name, if it keeps them (an optional ``threads_named``
    method: every sink can read them from ``process`` anyway)."""
    method = getattr(sink, "threads_named", None)
    if method is not None:
        method(process, names)


def wants_raw(sink: Any) -> bool:
    """Whether ``sink`` takes raw event batches (see ``Sink``)."""
    return bool(getattr(sink, "wants_raw", False))


class Fanout:
    """Feeds several sinks in order."""

    def __init__(self, *sinks: Sink | None) -> None:
        self.sinks = [s for s in sinks if s is not None]
        self.wants_raw = any(wants_raw(s) for s in self.sinks)

    def process_started(self, process: Process) -> None:
        for sink in self.sinks:
            sink.process_started(process)

    def events(
        self, process: Process, events: list[list[Any]], raw: bytes | bytearray | None = None
    ) -> None:
        for sink in self.sinks:
            sink.events(process, events, raw)

    def threads_named(self, process: Process, names: list[tuple[int, int, str]]) -> None:
        for sink in self.sinks:
            threads_named(sink, process, names)

    def dropped(self, process: Process, count: int) -> None:
        for sink in self.sinks:
            sink.dropped(process, count)

    def process_ended(self, process: Process) -> None:
        for sink in self.sinks:
            sink.process_ended(process)
