"""Alerts: what a rule said about an event, and what the session keeps of them.

The rule engine (``auditmon.rules``) hands each match to its ``AlertSink``s: ``alert``
for one shown in full, ``suppressed`` for a repeat its throttle only counts.  The
session's ``AlertBook`` is one of them; it is pure, so views build rows from it:

* ``counts()``: matches per priority, most severe first (the status line);
* ``groups()``: one ``AlertGroup`` per rule (count, suppressed, first and last time,
  processes, the triggering occurrences and the alerts shown);
* ``marks()``: the most severe priority per process (the process tree);
* ``lookup(subject)``: the rules that alerted on events like the subject (same
  process, name and arguments): the ``alert.rule``/``alert.priority`` query fields.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from auditmon.model import values
from auditmon.model.priority import PRIORITIES, severity
from auditmon.model.query.fields import UNKNOWN, Subject

if TYPE_CHECKING:
    from auditmon.model.session import Occurrence

#: Alerts kept in full per rule (their count goes on past it).
KEPT_PER_RULE = 200
#: Distinct (process, event, arguments) remembered for ``alert.rule``, session-wide.
KEYS_LIMIT = 100_000


@dataclass(frozen=True)
class Alert:
    """One rule's match on one event: ``pid`` and ``seq`` name the triggering event,
    ``process_id`` the session's process image (None where unknown); ``fields`` the
    output's fields and a few standard ones, JSON-safe."""

    rule: str
    priority: str
    output: str
    tags: tuple[str, ...]
    fields: Mapping[str, Any]
    pid: int
    seq: int
    time: float
    event: str
    process_id: int | None = None
    args: tuple[Any, ...] = ()
    thread: int = 0
    stack: tuple[tuple[Any, ...], ...] | None = None

    @property
    def occurrence(self) -> Occurrence:
        """The triggering event, as the occurrence screens show one."""
        from auditmon.model.session import Occurrence

        return Occurrence(
            self.process_id if self.process_id is not None else 0,
            self.pid,
            self.seq,
            self.time,
            self.thread,
            self.event,
            self.args,
            self.stack,
        )


class AlertSink(Protocol):
    """Where the rule engine hands alerts."""

    def alert(self, alert: Alert) -> None:
        """A match shown in full."""

    def suppressed(self, alert: Alert, count: int = 1) -> None:
        """``count`` repeats of an alert already shown (same rule and process), only
        counted; ``alert`` is the latest, its ``fields`` empty."""


@dataclass(frozen=True)
class AlertGroup:
    """Everything about one rule's alerts in the session."""

    rule: str
    priority: str
    tags: tuple[str, ...]
    count: int  # matches: shown and suppressed
    suppressed: int
    first_time: float
    last_time: float
    processes: tuple[int, ...]  # process ids (the session's), in order of first alert
    pids: tuple[int, ...]
    occurrences: tuple[tuple[int, int], ...]  # (pid, seq) of the alerts shown, oldest first
    alerts: tuple[Alert, ...]  # the alerts shown, oldest first (the first KEPT_PER_RULE)

    @property
    def latest(self) -> Alert | None:
        return self.alerts[-1] if self.alerts else None


@dataclass
class _Group:
    rule: str
    priority: str
    tags: tuple[str, ...]
    first_time: float
    last_time: float
    count: int = 0
    suppressed: int = 0
    processes: dict[int | None, int] = field(default_factory=dict)  # id -> pid
    alerts: list[Alert] = field(default_factory=list)

    def frozen(self) -> AlertGroup:
        return AlertGroup(
            self.rule,
            self.priority,
            self.tags,
            self.count,
            self.suppressed,
            self.first_time,
            self.last_time,
            tuple(i for i in self.processes if i is not None),
            tuple(dict.fromkeys(self.processes.values())),
            tuple((a.pid, a.seq) for a in self.alerts),
            tuple(self.alerts),
        )


def arguments_key(args: Any) -> tuple[Any, ...]:
    """A hashable stand-in for an argument list, equal for equal lists."""
    return tuple(values.key(a) for a in args)


class AlertBook:
    """The session's alerts (an ``AlertSink``); ``active`` once rules are loaded or a
    recording's alerts replayed, so "no alerts" can be told from "no rules"."""

    def __init__(self) -> None:
        self.active = False
        self.rules_loaded = 0  # enabled rules, where rules are loaded
        self.generation = 0  # grows with every match: what depends on alerts re-checks
        self._groups: dict[str, _Group] = {}
        self._counts: Counter[str] = Counter()
        self._marks: dict[int, str] = {}
        self._keys: dict[tuple[int | None, str], dict[tuple[Any, ...], dict[str, str]]] = {}
        self._key_count = 0
        self._frozen: tuple[int, list[AlertGroup]] = (-1, [])

    # -- sink ------------------------------------------------------------------------
    def alert(self, alert: Alert) -> None:
        group = self._count(alert)
        if len(group.alerts) < KEPT_PER_RULE:
            group.alerts.append(alert)

    def suppressed(self, alert: Alert, count: int = 1) -> None:
        self._count(alert, count).suppressed += count

    def _count(self, alert: Alert, count: int = 1) -> _Group:
        self.generation += 1
        group = self._groups.get(alert.rule)
        if group is None:
            group = self._groups[alert.rule] = _Group(
                alert.rule, alert.priority, alert.tags, alert.time, alert.time
            )
        group.count += count
        group.first_time = min(group.first_time, alert.time)
        group.last_time = max(group.last_time, alert.time)
        group.processes.setdefault(alert.process_id, alert.pid)
        self._counts[alert.priority] += count
        if alert.process_id is not None:
            known = self._marks.get(alert.process_id)
            if known is None or severity(alert.priority) > severity(known):
                self._marks[alert.process_id] = alert.priority
        self._remember(alert)
        return group

    def _remember(self, alert: Alert) -> None:
        if not alert.event:  # a recording's count of suppressed alerts names no event
            return
        per = self._keys.setdefault((alert.process_id, alert.event), {})
        key = arguments_key(alert.args)
        rules = per.get(key)
        if rules is None:
            if self._key_count >= KEYS_LIMIT:
                return
            self._key_count += 1
            rules = per[key] = {}
        rules[alert.rule] = alert.priority

    # -- queries -------------------------------------------------------------------
    @property
    def total(self) -> int:
        return sum(self._counts.values())

    def counts(self) -> tuple[tuple[str, int], ...]:
        """(priority, matches) for each priority with any, most severe first."""
        return tuple((p, self._counts[p]) for p in PRIORITIES if self._counts[p])

    def highest(self) -> str | None:
        """The most severe priority of any match so far."""
        found = [p for p, _ in self.counts()]
        return found[0] if found else None

    def groups(self) -> list[AlertGroup]:
        """One group per rule: the most severe first, then the most frequent."""
        if self._frozen[0] != self.generation:
            frozen = [g.frozen() for g in self._groups.values()]
            frozen.sort(key=lambda g: (-severity(g.priority), -g.count, g.rule))
            self._frozen = (self.generation, frozen)
        return list(self._frozen[1])

    def marks(self) -> dict[int, str]:
        """The most severe priority alerted per process id."""
        return dict(self._marks)

    def lookup(self, subject: Subject) -> Any:
        """{rule: priority} of the alerts on events like ``subject`` (same process,
        name and arguments); UNKNOWN for a group of events some of which alerted."""
        return self.lookup_in(subject.process.id, subject.name, subject.args)

    def lookup_in(self, process_id: int | None, name: str, args: Any) -> Any:
        """``lookup`` by process id, event name and arguments (None: any)."""
        per = self._keys.get((process_id, name))
        if not per:
            return {}
        if args is None:
            return UNKNOWN
        return per.get(arguments_key(args), {})
