"""The rule engine: a sink of the monitor's pipeline (or of a recording read back) that
runs the rules over each event and hands alerts to its ``AlertSink``s.

Rules are indexed by event name: the first time a name is seen, each rule that can
match it is specialised for it (``auditmon.model.query.specialize``: what the name
alone decides is decided then), so an event costs the rules that can match it, run as
far as its name does not settle them, and a batch without any such event costs one set
operation.  Sequence rules keep, per process, how far each has
come.  A rule's alerts in one process are throttled: the first ``throttle`` distinct
outputs are shown, the rest (repeats too) only counted as suppressed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Optional

from auditmon.model.alerts import Alert, AlertSink
from auditmon.model.process import Process
from auditmon.model.query import Subject, matches_name, query_from_tree
from auditmon.model.query.derived import frame_text, program_frame
from auditmon.model.query.output import field_value
from auditmon.model.query.specialize import FALSE, leading_guard, specialize
from auditmon.rules.compiler import Rule, RuleSet

THROTTLE = 10
"""Distinct alerts shown per rule and process; the rest are counted as suppressed."""
_NAMES_CACHED = 10_000
_name = itemgetter(3)

Test = Callable[[Subject], "bool | None"]
# each rule with the steps a name can match, their tests made for that name, and the
# tests of the macros that must hold first (their leading guards), where there are any
Candidates = list[tuple[Rule, tuple[int, ...], tuple[Test, ...], tuple[Optional[Test], ...]]]
Reached = tuple[float, tuple[tuple[str, int], ...]]  # (first step's time, (event, seq)...)


@dataclass
class _Shown:
    outputs: set[str] = field(default_factory=set)


class RuleEngine:
    """Runs ``rules`` over the events it is fed; see the module's docstring."""

    wants_raw = False

    def __init__(
        self, rules: RuleSet, sinks: Sequence[AlertSink] = (), throttle: int = THROTTLE
    ) -> None:
        self.rules = rules.enabled
        self.catalog = rules.catalog
        self.sinks: list[AlertSink] = list(sinks)
        self.throttle = throttle
        self._candidates: dict[str, Candidates] = {}
        self._images: dict[int, Process] = {}  # pid -> its latest image, for proc.aname
        self._reached: dict[tuple[str, int], list[Reached | None]] = {}
        self._shown: dict[tuple[str, int], _Shown] = {}
        self.matches = 0

    # -- sink ----------------------------------------------------------------------
    def process_started(self, process: Process) -> None:
        self._images[process.pid] = process

    def events(self, process: Process, events: list[list[Any]], raw: bytes | None = None) -> None:
        candidates = self.candidates
        relevant = {n for n in set(map(_name, events)) if candidates(n)}
        if not relevant:
            return
        lineage = self.lineage
        for seq, when, thread, name, args, stack in events:
            if name not in relevant:
                continue
            subject = Subject(name, args, process, when, thread, lineage, stack, seq, None, {})
            for rule, steps, tests, guards in self._candidates.get(name) or candidates(name):
                if rule.sequence:
                    self._advance(rule, steps, tests, guards, subject)
                elif (guards[0] is None or guards[0](subject) is not False) and tests[0](
                    subject
                ) is True:
                    self._raise(rule, subject, None)

    def dropped(self, process: Process, count: int) -> None:
        """A dropped event can match nothing."""

    def process_ended(self, process: Process) -> None:
        for rule in self.rules:
            self._reached.pop((rule.name, process.id), None)
            self._shown.pop((rule.name, process.id), None)

    # -- matching --------------------------------------------------------------------
    def candidates(self, name: str) -> Candidates:
        """The rules (and their steps) that can match events called ``name``."""
        found = self._candidates.get(name)
        if found is not None:
            return found
        found = []
        guards: dict[str, Test] = {}  # macro name -> its test, one per name
        for rule in self.rules:
            steps, tests, leads = [], [], []
            for i, (step, patterns) in enumerate(zip(rule.steps, rule.patterns)):
                if patterns is not None and not matches_name(patterns, name):
                    continue
                tree = specialize(step.tree, name, self.catalog) if step.tree else None
                if tree is FALSE:
                    continue
                steps.append(i)
                if tree is None:
                    tests.append(step.test)
                    leads.append(None)
                    continue
                tests.append(query_from_tree("", tree, self.catalog).test)
                guard = leading_guard(tree)
                if guard is not None and guard.name not in guards:
                    guards[guard.name] = query_from_tree("", guard, self.catalog).test
                leads.append(guards[guard.name] if guard is not None else None)
            if steps:
                found.append((rule, tuple(steps), tuple(tests), tuple(leads)))
        if len(self._candidates) < _NAMES_CACHED:
            self._candidates[name] = found
        return found

    def lineage(self, process: Process) -> list[Process]:
        """The ancestors of ``process`` seen by this engine, nearest first."""
        found: list[Process] = []
        seen = {process.pid}
        parent = self._images.get(process.ppid)
        while parent is not None and parent.pid not in seen:
            found.append(parent)
            seen.add(parent.pid)
            parent = self._images.get(parent.ppid)
        return found

    def _advance(
        self,
        rule: Rule,
        steps: tuple[int, ...],
        tests: tuple[Test, ...],
        guards: tuple[Test | None, ...],
        subject: Subject,
    ) -> None:
        """Move ``rule``'s sequence on in the subject's process: the latest start of a
        chain that reached each step is kept, for it leaves the most time."""
        key = (rule.name, subject.process.id)
        reached = self._reached.get(key)
        if reached is None:
            reached = self._reached[key] = [None] * (len(rule.steps) - 1)
        when, here = subject.time or 0.0, (subject.name, subject.seq or 0)
        last = len(rule.steps) - 1
        within = rule.within or 0.0
        for i, test, guard in zip(reversed(steps), reversed(tests), reversed(guards)):
            before = reached[i - 1] if i else None
            if i and (before is None or when - before[0] > within):
                continue  # nothing to go on from: the step need not even be tested
            if guard is not None and guard(subject) is False:
                continue
            if test(subject) is not True:
                continue
            if before is None:
                reached[0] = (when, (here,))
                continue
            trail = (*before[1], here)
            if i == last:
                self._raise(rule, subject, trail)
            elif reached[i] is None or reached[i][0] <= before[0]:  # type: ignore[index]
                reached[i] = (before[0], trail)

    def _raise(
        self, rule: Rule, subject: Subject, trail: tuple[tuple[str, int], ...] | None
    ) -> None:
        self.matches += 1
        process = subject.process
        output = rule.output.render(subject)
        frame = frame_text(program_frame(subject.stack))
        if frame is not None and "frame" not in rule.output.fields:
            output = f"{output} (at {frame})"
        key = (rule.name, process.id)
        shown = self._shown.get(key)
        if shown is None:
            shown = self._shown[key] = _Shown()
        show = output not in shown.outputs and len(shown.outputs) < self.throttle
        stack = subject.stack
        alert = Alert(
            rule=rule.name,
            priority=rule.priority,
            output=output,
            tags=rule.tags,
            fields=_fields(rule, subject, frame, trail) if show else {},
            pid=process.pid,
            seq=subject.seq or 0,
            time=subject.time or 0.0,
            event=subject.name,
            process_id=process.id,
            args=tuple(subject.args or ()),
            thread=subject.thread or 0,
            stack=tuple(tuple(f) for f in stack) if stack else None,
        )
        if show:
            shown.outputs.add(output)
            for sink in self.sinks:
                sink.alert(alert)
        else:
            for sink in self.sinks:
                sink.suppressed(alert)


def _fields(
    rule: Rule, subject: Subject, frame: str | None, trail: tuple[tuple[str, int], ...] | None
) -> dict[str, Any]:
    """The output's fields, and the event's name, seq, process and frame."""
    process = subject.process
    found: dict[str, Any] = {
        "evt.name": subject.name,
        "evt.seq": subject.seq,
        "proc.pid": process.pid,
        "proc.ppid": process.ppid,
        "proc.cmdline": process.command,
    }
    for part in rule.output.parts:
        if isinstance(part, tuple):
            found[part[0]] = field_value(part[1], subject)
    if frame is not None:
        found["frame"] = frame
    if trail is not None:
        found["sequence"] = [f"{name}#{seq}" for name, seq in trail]
    return found
