"""The `/` filter language: event globs, category, pid, risk and argument conditions.

Terms are separated by spaces and must all hold; several bare globs mean "any of them".

* ``socket.*``, ``open``: event name globs
* ``cat:network`` or ``category=network``: the event's category
* ``pid=123``: the reporting process
* ``risk=warning`` (or ``risk>=notice``): the event's default risk
* ``path~/etc`` (argument contains text), ``mode=w`` (argument equals text): argument
  conditions, by the argument names of the catalog (``arg0``, ``arg1``… always work)
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass

from auditmon.catalog import RISK_LEVELS, Catalog, risk_rank

_CONDITION = re.compile(r"^([A-Za-z_][\w.]*)(>=|~|=)(.*)$")


class FilterError(ValueError):
    """The filter text could not be understood; the message says why."""


@dataclass(frozen=True)
class ArgCondition:
    """``name~text`` (contains) or ``name=text`` (equals) on an argument's display text."""

    name: str
    op: str
    text: str

    def holds(self, arg_names: Sequence[str], display: Sequence[str]) -> bool:
        for name, value in zip(arg_names, display):
            if name == self.name:
                return self.text in value if self.op == "~" else value == self.text
        return False


@dataclass(frozen=True)
class Filter:
    """A parsed filter; the empty filter lets everything through."""

    text: str = ""
    globs: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    pids: tuple[int, ...] = ()
    min_risk: str | None = None
    exact_risk: str | None = None
    args: tuple[ArgCondition, ...] = ()

    @property
    def empty(self) -> bool:
        return not (
            self.globs
            or self.categories
            or self.pids
            or self.min_risk
            or self.exact_risk
            or self.args
        )

    def matches_event(self, name: str, catalog: Catalog) -> bool:
        """The event-level terms (name, category, risk)."""
        if self.globs and not any(fnmatch.fnmatchcase(name, g) for g in self.globs):
            return False
        if self.categories or self.min_risk or self.exact_risk:
            info = catalog.info(name)
            if self.categories and info.category not in self.categories:
                return False
            if self.exact_risk and info.risk != self.exact_risk:
                return False
            if self.min_risk and risk_rank(info.risk) < risk_rank(self.min_risk):
                return False
        return True

    def matches_pid(self, pid: int) -> bool:
        return not self.pids or pid in self.pids


def parse(text: str, catalog: Catalog) -> Filter:
    """Parse the filter text typed after ``/``; raise FilterError with a clear reason."""
    globs: list[str] = []
    categories: list[str] = []
    pids: list[int] = []
    args: list[ArgCondition] = []
    min_risk = exact_risk = None
    known_categories = {c.name for c in catalog.categories()}
    for term in text.split():
        if term.startswith("cat:"):
            key, op, value = "category", "=", term[4:]
        else:
            found = _CONDITION.match(term)
            if not found:
                globs.append(term)
                continue
            key, op, value = found.groups()
        if key in ("category", "cat"):
            if value not in known_categories:
                raise FilterError(
                    f"unknown category {value!r} (one of: {', '.join(sorted(known_categories))})"
                )
            categories.append(value)
        elif key == "pid":
            if op != "=" or not value.isdigit():
                raise FilterError(f"pid needs a number: pid=123, not {term!r}")
            pids.append(int(value))
        elif key == "risk":
            if value not in RISK_LEVELS:
                raise FilterError(f"risk is one of {', '.join(RISK_LEVELS)}, not {value!r}")
            if op == ">=":
                min_risk = value
            else:
                exact_risk = value
        elif op == ">=":
            raise FilterError(f">= works only with risk, not in {term!r}")
        else:
            args.append(ArgCondition(key, op, value))
    return Filter(
        text=text.strip(),
        globs=tuple(globs),
        categories=tuple(categories),
        pids=tuple(pids),
        min_risk=min_risk,
        exact_risk=exact_risk,
        args=tuple(args),
    )
