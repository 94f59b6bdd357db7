"""The values worth seeing at a glance: which files a run wrote and read, where it
connected, what it ran.  The headless summary lists them; each is a query over the
session and the argument whose values it counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from auditmon.model import values
from auditmon.model.query import parse_query
from auditmon.model.selection import selection_for
from auditmon.model.session import Session

#: (title, query, argument): the argument's values among the events the query selects.
HIGHLIGHTS = (
    ("files written", "open risk=warning", "path"),
    ("files read", "open and not risk=warning", "path"),
    ("files removed", "os.remove os.rmdir shutil.rmtree", "path"),
    ("files renamed", "os.rename", "src"),
    ("connections", "socket.connect", "address"),
    ("listening", "socket.bind", "address"),
    ("names looked up", "socket.getaddrinfo", "host"),
    ("URLs requested", "urllib.Request", "fullurl"),
    ("commands run", "subprocess.Popen", "args"),
    ("shell commands", "os.system", "command"),
    ("programs executed", "os.exec os.posix_spawn", "path"),
    ("native libraries loaded", "ctypes.dlopen", "name"),
)

#: The event names the highlights look at: what a counts-only session indexes.
HIGHLIGHT_EVENTS = frozenset(
    {
        "open",
        "os.remove",
        "os.rmdir",
        "shutil.rmtree",
        "os.rename",
        "socket.connect",
        "socket.bind",
        "socket.getaddrinfo",
        "urllib.Request",
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "ctypes.dlopen",
    }
)


@dataclass(frozen=True)
class Highlight:
    """The most frequent values of one highlight (display text, events), how many
    distinct values there were, and the events whose arguments were past the bound."""

    title: str
    top: tuple[tuple[str, int], ...]
    distinct: int
    unchecked: int


def highlights(session: Session, top: int = 5) -> list[Highlight]:
    """Each highlight with any events, in ``HIGHLIGHTS``' order."""
    found = []
    for title, text, argument in HIGHLIGHTS:
        query = parse_query(text, session.catalog)
        selection = selection_for(session, query)
        counts: Counter[str] = Counter()
        unchecked = 0
        for totals in session.processes.values():
            for entry in totals.stats.values():
                match = selection.match(entry)
                if not (match.count or match.unchecked):
                    continue
                unchecked += match.unchecked
                info = session.catalog.get(entry.name)
                if info is None or argument not in info.args:
                    continue
                position = info.args.index(argument)
                for args, n in match.argument_lists():
                    if position < len(args):
                        counts[_shown(argument, args[position])] += n
        if counts or unchecked:
            rows = tuple(counts.most_common(top))
            found.append(Highlight(title, rows, len(counts), unchecked))
    return found


def _shown(argument: str, value: object) -> str:
    """A value's text; a path that is a number is a descriptor opened by its number
    (Python opens its stdout and stderr so at every start), not a file of that name."""
    if argument == "path" and type(value) is int:
        return f"descriptor {value}"
    return values.display(value, 160)
