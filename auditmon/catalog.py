"""The catalog of CPython audit events: names, argument names, categories and risk.

The data lives in ``auditmon/data/catalog.json``, generated from the CPython 3.13 audit
events table by ``tools/build_catalog.py`` (which also holds the category and risk rules).
This module only reads it, with the standard library alone, so the agent side, the CLI
and tests can use it without importing Textual.

Risk levels, ascending (see ``RISK_LEVELS`` and the ``risk_levels`` list in the JSON):

``info``
    looks at interpreter state and changes nothing outside it (``builtins.id``,
    ``object.__getattr__``, ``sys._getframe``, ``gc.*``);
``notice``
    ordinary contact with the outside world (``open`` for reading, ``import``,
    ``os.listdir``, ``os.remove``, name lookups, environment variables);
``warning``
    crosses a trust boundary or is a common attack step: running programs
    (``os.system``, ``subprocess.Popen``, ``os.exec``), loading native code
    (``ctypes.dlopen``), turning data into code or objects (``exec``, ``compile``,
    ``marshal.loads``, ``pickle.find_class``), network connections and listening sockets
    (``socket.connect``, ``socket.bind``), and changing the interpreter's hooks
    (``sys.addaudithook``, ``sys.settrace``).

Events that are not in the catalog (third-party ``sys.audit`` calls, newer CPythons) get
a synthesized entry: category from the longest matching category prefix, else
``other``; risk ``notice``; argument names ``arg0``, ``arg1``, ...
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

RISK_LEVELS = ("info", "notice", "warning")  # ascending
UNKNOWN_RISK = "notice"
OTHER = "other"

_MAX_SYNTHESIZED = 4096


@dataclass(frozen=True)
class Category:
    """A group of related events, with the colour the UI draws it in."""

    name: str
    title: str
    color: str
    description: str
    prefixes: tuple[str, ...]


@dataclass(frozen=True)
class EventInfo:
    """What the catalog knows about one event name (``known=False`` if synthesized)."""

    name: str
    args: tuple[str, ...]
    category: str
    risk: str
    docs: tuple[str, ...]
    added: str
    internal: bool
    summary: str
    known: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The entry in the catalog JSON's shape (lists, no ``known``), for ``--json``."""
        return {
            "name": self.name,
            "args": list(self.args),
            "category": self.category,
            "risk": self.risk,
            "docs": list(self.docs),
            "added": self.added,
            "internal": self.internal,
            "summary": self.summary,
        }


def risk_rank(level: str) -> int:
    """Position of a risk level in ``RISK_LEVELS``, so levels can be compared."""
    return RISK_LEVELS.index(level)


class Catalog:
    """Lookup over the catalog document; build one with ``load_catalog()``."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._categories: dict[str, Category] = {}
        for raw in document["categories"]:
            category = Category(
                name=raw["name"],
                title=raw["title"],
                color=raw["color"],
                description=raw["description"],
                prefixes=tuple(raw["prefixes"]),
            )
            self._categories[category.name] = category
        if OTHER not in self._categories:
            raise ValueError("the catalog has no 'other' category")
        self._events: dict[str, EventInfo] = {}
        for raw in document["events"]:
            info = EventInfo(
                name=raw["name"],
                args=tuple(raw["args"]),
                category=raw["category"],
                risk=raw["risk"],
                docs=tuple(raw["docs"]),
                added=raw["added"],
                internal=bool(raw["internal"]),
                summary=raw["summary"],
            )
            if info.category not in self._categories or info.risk not in RISK_LEVELS:
                raise ValueError(f"bad category or risk in catalog entry {info.name!r}")
            self._events[info.name] = info
        self._aliases: dict[str, str] = dict(document.get("aliases", {}))
        # Longest prefix first, so the first hit is the most specific one.
        self._prefixes: list[tuple[str, str]] = sorted(
            ((p, c.name) for c in self._categories.values() for p in c.prefixes),
            key=lambda item: len(item[0]),
            reverse=True,
        )
        self._synthesized: dict[str, EventInfo] = {}

    def get(self, name: str) -> EventInfo | None:
        """The catalog entry for an event name, or None (runtime aliases resolve too)."""
        info = self._events.get(name)
        if info is None and name in self._aliases:
            # CPython raises e.g. sys.set_asyncgen_hook_firstiter; the docs say "hooks".
            info = replace(self._events[self._aliases[name]], name=name)
        return info

    def info(self, name: str) -> EventInfo:
        """Always an entry: the catalog's, or one synthesized from the name's prefix."""
        info = self.get(name)
        if info is not None:
            return info
        info = self._synthesized.get(name)
        if info is None:
            info = EventInfo(
                name=name,
                args=(),
                category=self.category_for(name),
                risk=UNKNOWN_RISK,
                docs=(),
                added="",
                internal=False,
                summary="Not a documented CPython audit event (third-party code or a "
                "newer CPython).",
                known=False,
            )
            if len(self._synthesized) < _MAX_SYNTHESIZED:
                self._synthesized[name] = info
        return info

    def category_for(self, name: str) -> str:
        """Category name of any event: the catalog's, else longest prefix, else other."""
        info = self.get(name)
        if info is not None:
            return info.category
        for prefix, category in self._prefixes:
            if name.startswith(prefix):
                return category
        return OTHER

    def arg_names(self, name: str, count: int) -> list[str]:
        """Names for ``count`` positional event args; ``arg<i>`` past the known ones."""
        info = self.get(name)
        known = info.args if info is not None else ()
        return [known[i] if i < len(known) else f"arg{i}" for i in range(count)]

    def named_args(self, name: str, args: Sequence[object]) -> list[tuple[str, object]]:
        """Pair each raised argument with its name, for display."""
        return list(zip(self.arg_names(name, len(args)), args))

    def category(self, name: str) -> Category:
        """The category object for a category name (KeyError if there is none)."""
        try:
            return self._categories[name]
        except KeyError:
            raise KeyError(f"unknown category {name!r}") from None

    def categories(self) -> list[Category]:
        """All categories, in display order."""
        return list(self._categories.values())

    def match(self, pattern: str | None = None, category: str | None = None) -> list[EventInfo]:
        """Catalog entries whose name matches a case-sensitive glob, optionally by category."""
        if category is not None:
            self.category(category)  # unknown names raise KeyError
        return [
            info
            for info in self._events.values()
            if (pattern is None or fnmatch.fnmatchcase(info.name, pattern))
            and (category is None or info.category == category)
        ]

    def __iter__(self) -> Iterator[EventInfo]:
        return iter(self._events.values())

    def __len__(self) -> int:
        return len(self._events)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._events or name in self._aliases)


def read_document() -> dict[str, Any]:
    """The raw catalog JSON shipped inside the package."""
    text = resources.files("auditmon").joinpath("data/catalog.json").read_text("utf-8")
    return json.loads(text)


@cache
def load_catalog() -> Catalog:
    """The process-wide catalog, parsed once on first use."""
    return Catalog(read_document())


# open() flags that mean "may write": the access mode, or creating the file.
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT
_WRITE_MODE_CHARS = frozenset("wax+")


def _opens_for_writing(args: Sequence[object]) -> bool:
    mode = args[1] if len(args) > 1 else None
    flags = args[2] if len(args) > 2 else None
    if isinstance(mode, bytes):
        mode = mode.decode("ascii", "replace")
    if isinstance(mode, str) and _WRITE_MODE_CHARS.intersection(mode):
        return True
    if isinstance(flags, str):  # args that went through a text transport
        try:
            flags = int(flags)
        except ValueError:
            return False
    return isinstance(flags, int) and not isinstance(flags, bool) and bool(flags & _WRITE_FLAGS)


def risk_for(name: str, args: Sequence[object]) -> str:
    """Risk of one raised event: the static level, with ``open`` for writing raised.

    ``open`` is raised with (path, mode, flags); a mode containing w, a, x or + or flags
    with O_WRONLY, O_RDWR or O_CREAT make it a ``warning``.  The flag values are
    this machine's ``os`` constants, which match the monitored process when it runs here.
    """
    static = load_catalog().info(name).risk
    if name == "open" and _opens_for_writing(args):
        return "warning"
    return static
