#!/usr/bin/env python3
"""Regenerate ``auditmon/data/catalog.json`` from the CPython audit events table.

The input is the CPython 3.13 "Audit events table" page as stored in the project's
seeds (a Chinese translation with Hugo markup).  It holds two markdown tables: the
public events (event | arguments | references) and the events raised only inside
CPython (event | arguments).  Every row of both becomes one catalog entry.

Everything the seed does not say (category, risk, summary, the version that added
an event, how Hugo paths map onto docs.python.org) lives in the tables below, so the
committed JSON can always be rebuilt and never drifts by hand::

    python tools/build_catalog.py                     # writes auditmon/data/catalog.json
    python tools/build_catalog.py --output /tmp/c.json --seed path/to/seed.txt

Stdlib only, deterministic output (no timestamps), so the test suite can rebuild the
file and compare it with the committed one.

Risk levels
-----------
Each event gets one static level, chosen by what the event means when it happens,
not by how often it fires:

``info``
    Looks at state inside the interpreter and changes nothing outside it: ``builtins.id``,
    ``object.__getattr__``, ``sys._getframe``, ``gc.get_referrers``, ``marshal.dumps``,
    ``ctypes.addressof``.  Usually high-volume and harmless.
``notice``
    Ordinary contact with the world outside the process: opening and listing files,
    imports, deleting or renaming a file, name lookups, environment variables, the
    working directory, forking.  Worth seeing in a trace; not suspicious by itself.
``warning``
    What attackers and sandbox escapes use, or what crosses a trust boundary: starting
    another program (``os.system``, ``subprocess.Popen``, ``os.exec``, ``os.spawn``,
    ``os.posix_spawn``), signalling other processes, loading native code or touching raw
    memory (``ctypes.dlopen``, ``ctypes.call_function``, ``ctypes.string_at``), turning
    data into code or objects (``exec``, ``compile``, ``code.__new__``, ``marshal.loads``,
    ``pickle.find_class``), opening network connections or listening sockets
    (``socket.connect``, ``socket.bind``, ``http.client.connect``, ``urllib.Request``),
    changing the interpreter's own hooks (``sys.addaudithook``, ``sys.settrace``,
    ``sys.setprofile``, ``setopencodehook``) and persistent system configuration
    (registry writes, ``socket.sethostname``).

The static level of ``open`` is ``notice``; ``auditmon.catalog.risk_for`` raises an
``open`` that writes, appends or creates (mode with w/a/x/+, or O_WRONLY/O_RDWR/O_CREAT
in the flags) to ``warning`` at run time.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SEED = ROOT.parent / "shared" / "seeds" / "000_a16a60f8dbe47d10.txt"
DEFAULT_OUTPUT = ROOT / "auditmon" / "data" / "catalog.json"

DOCS_BASE = "https://docs.python.org/3/"
CPYTHON_VERSION = "3.13"
DEFAULT_ADDED = "3.8"

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalog_rules import (  # noqa: E402  (the script's own directory)
    ADDED,
    ALIASES,
    CATEGORIES,
    CATEGORY_BY_NAME,
    PAGE_SLUGS,
    RISK_BY_CATEGORY,
    RISK_BY_NAME,
    RISK_LEVELS,
    SECTIONS,
    SUMMARIES,
)

AUDIT_TABLE_URL = DOCS_BASE + "library/audit_events.html"

_HUGO_REF = re.compile(r'\{\{<\s*ref\s+"([^"]+)"\s*>\}\}')
_LINK_TARGET = re.compile(r"\]\(([^()\s]+|\{\{<[^>]*>\}\})\)")
_FULL_DOCS_URL = re.compile(
    r"^https?://docs\.python\.org/(?:[a-z]{2}(?:-[a-z]{2,4})?/)?"
    r"(?:3(?:\.\d+)?/)?",
    re.IGNORECASE,
)
_BACKTICKED = re.compile(r"`([^`]+)`")


def split_row(line: str) -> list[str]:
    """Cells of one markdown table row, stripped (the seed never has '|' inside cells)."""
    inner = line.strip()
    if inner.startswith("|"):
        inner = inner[1:]
    if inner.endswith("|"):
        inner = inner[:-1]
    return [cell.strip() for cell in inner.split("|")]


def parse_tables(text: str) -> list[list[list[str]]]:
    """Every markdown table in the text, as lists of data rows (header and rule dropped)."""
    tables: list[list[list[str]]] = []
    current: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.lstrip().startswith("|"):
            current.append(line)
            continue
        if current:
            rows = [split_row(row) for row in current]
            if len(rows) < 2 or not all(set(c) <= set(":- ") for c in rows[1]):
                raise ValueError(f"not a markdown table: {current[0]!r}")
            tables.append(rows[2:])
            current = []
    return tables


def docs_url(target: str) -> str:
    """Map a Hugo ref path or a localised docs URL onto the English docs.python.org URL.

    The Hugo site adds category folders (``/library/allos/os``) that docs.python.org
    does not have, so only the section and the last path component are kept.
    """
    target = target.strip()
    hugo = _HUGO_REF.fullmatch(target)
    if hugo:
        path, _, anchor = hugo.group(1).partition("#")
        parts = [p for p in path.strip("/").split("/") if p]
        if len(parts) < 2 or parts[0] not in SECTIONS:
            raise ValueError(f"unexpected docs reference {target!r}")
        page = parts[-1]
        page = PAGE_SLUGS.get(page, page)
        url = f"{DOCS_BASE}{SECTIONS[parts[0]]}/{page}.html"
        return f"{url}#{anchor}" if anchor else url
    if _FULL_DOCS_URL.match(target):
        return _FULL_DOCS_URL.sub(DOCS_BASE, target, count=1)
    raise ValueError(f"unexpected docs reference {target!r}")


def parse_docs(cell: str) -> list[str]:
    """The docs links of a References cell, converted, de-duplicated, in order."""
    urls: list[str] = []
    for target in _LINK_TARGET.findall(cell):
        url = docs_url(target)
        if url not in urls:
            urls.append(url)
    return urls


def parse_args(cell: str) -> list[str]:
    """Argument names of an Arguments cell, in order."""
    return _BACKTICKED.findall(cell)


def _longest_prefix(name: str) -> str | None:
    best: tuple[int, str] | None = None
    for category in CATEGORIES:
        for prefix in category["prefixes"]:  # type: ignore[union-attr]
            if name.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), str(category["name"]))
    return best[1] if best else None


def category_for(name: str) -> str:
    """The category of a catalog event: explicit name rule, else longest prefix."""
    if name in CATEGORY_BY_NAME:
        return CATEGORY_BY_NAME[name]
    category = _longest_prefix(name)
    if category is None:
        raise ValueError(f"no category rule for catalog event {name!r}")
    return category


def risk_for(name: str, category: str) -> str:
    """The static risk level of a catalog event."""
    return RISK_BY_NAME.get(name, RISK_BY_CATEGORY[category])


def derive_summary(name: str) -> str:
    """A fallback one-line summary built from the event name."""
    base, _, suffix = name.partition("/")
    if base.endswith(".__new__"):
        text = f"A {base[: -len('.__new__')]} object is being created."
    else:
        text = f"{base}() was called."
    if suffix == "result":
        text = f"{base}() returned a result."
    elif suffix:
        text = text[:-1] + f" ({suffix} variant)."
    return text


def build(seed_text: str) -> dict[str, object]:
    """The whole catalog document for a seed page."""
    tables = parse_tables(seed_text)
    if len(tables) != 2:
        raise ValueError(f"expected 2 tables in the seed, found {len(tables)}")
    public, internal = tables
    events: list[dict[str, object]] = []
    seen: set[str] = set()
    for rows, is_internal in ((public, False), (internal, True)):
        for cells in rows:
            expected = 2 if is_internal else 3
            if len(cells) != expected:
                raise ValueError(f"row has {len(cells)} cells, expected {expected}: {cells}")
            name = cells[0]
            if not re.fullmatch(r"[A-Za-z_][\w.]*(?:/\w+)?", name):
                raise ValueError(f"odd event name {name!r}")
            if name in seen:
                raise ValueError(f"duplicate event {name!r}")
            seen.add(name)
            category = category_for(name)
            docs = parse_docs(cells[2]) if not is_internal else []
            events.append(
                {
                    "name": name,
                    "args": parse_args(cells[1]),
                    "category": category,
                    "risk": risk_for(name, category),
                    "docs": docs or [AUDIT_TABLE_URL],
                    "added": ADDED.get(name, DEFAULT_ADDED),
                    "internal": is_internal,
                    "summary": SUMMARIES.get(name) or derive_summary(name),
                }
            )
    for table in (CATEGORY_BY_NAME, RISK_BY_NAME, ADDED, SUMMARIES):
        stale = sorted(set(table) - seen)
        if stale:
            raise ValueError(f"rules for events not in the seed: {stale}")
    for alias, target in ALIASES.items():
        if target not in seen or alias in seen:
            raise ValueError(f"bad alias {alias!r} -> {target!r}")
    return {
        "source": f"CPython {CPYTHON_VERSION} audit events table "
        "(library/audit_events), regenerated by tools/build_catalog.py",
        "cpython": CPYTHON_VERSION,
        "risk_levels": RISK_LEVELS,
        "categories": CATEGORIES,
        "aliases": dict(sorted(ALIASES.items())),
        "events": events,
    }


def dump(document: dict[str, object]) -> str:
    """Stable JSON text for the catalog (what gets committed)."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=Path, default=DEFAULT_SEED, help="the seed page")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON to write")
    args = parser.parse_args(argv)
    document = build(args.seed.read_text(encoding="utf-8"))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(dump(document), encoding="utf-8")
    events = document["events"]
    assert isinstance(events, list)
    internal = sum(1 for e in events if e["internal"])
    print(
        f"wrote {args.output}: {len(events)} events ({len(events) - internal} public, "
        f"{internal} internal)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
