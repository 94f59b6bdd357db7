"""An inventory's sections as rows of text, for both the terminal (rich) and markdown:
what each item is, the detail worth a glance, its first event and source line.  The
standard library's modules and extension modules fold into one row each."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

TITLES = {
    "files": "Files",
    "sockets": "Connections and listening sockets",
    "names": "Names looked up or contacted",
    "urls": "URLs requested",
    "commands": "Commands run",
    "modules": "Modules imported (by top-level package)",
    "code": "Code run from strings, files and pickles",
    "native": "Native libraries loaded",
    "alerts": "Alerts",
}
_WRITES = ("created", "written", "deleted", "renamed", "chmod", "chown")
_GENERATED = ("lambda _cls, ", "def __create_fn__(")
_ORIGINS = ("elsewhere", "site-packages", "unresolved", "stdlib")


@dataclass(frozen=True)
class Row:
    what: str
    detail: str
    first: str  # pid:seq of the first event (and how many events)
    source: str  # file:line where a stack was captured


def section_rows(section: str, items: list[dict[str, Any]]) -> list[Row]:
    """The rows of one section, in reading order."""
    if section == "files":
        items = sorted(items, key=lambda i: (not any(op in i["ops"] for op in _WRITES), i["key"]))
    if section == "modules":
        return _module_rows(items)
    if section == "native":
        return _native_rows(items)
    if section == "code":
        return _code_rows(items)
    return [Row(_what(section, i), _detail(section, i), _first(i), _source(i)) for i in items]


def _what(section: str, item: dict[str, Any]) -> str:
    if section == "files":
        return item["path"]
    if section == "sockets":
        ports = item["ports"]
        if not ports:
            return f"{item['kind']} {item['transport']} {item['address']}"
        address = item["key"].split(" ", 2)[2]
        if len(ports) == 1:
            address = address.replace("<port>", str(ports[0]))
        return f"{item['kind']} {item['transport']} {address}"
    if section == "names":
        return item["name"]
    if section == "urls":
        return f"{item['method']} {item['url']}" if item.get("method") else item["url"]
    if section == "commands":
        return shlex.join(item["argv"])
    if section == "code":
        return f"{item['kind']} {item['where']}"
    if section == "alerts":
        return f"{item['rule']} ({item['priority']})" if item.get("priority") else item["rule"]
    return item["key"]


def _detail(section: str, item: dict[str, Any]) -> str:
    if section == "files":
        return ", ".join(f"{op} {n}" for op, n in item["ops"].items())
    if section == "sockets" and len(item["ports"]) > 1:
        return "ports " + ", ".join(map(str, item["ports"]))
    if section == "names":
        via = ", ".join(item["via"])
        return f"{via} → {', '.join(item['led_to'])}" if item["led_to"] else via
    if section == "commands":
        where = f"{item['via']} in {item['cwd']}" if item.get("cwd") else item["via"]
        return f"{where}; {environment_text(item['env'])}"
    if section == "code":
        return item.get("preview") or ""
    if section == "alerts":
        return item.get("output") or ""
    return ""


def environment_text(env: dict[str, Any]) -> str:
    """What a command's environment is known to be, in a line."""
    changes = [f"{k}={v}" if v is not None else k for k, v in env.get("set", {}).items()]
    if env.get("passed") == "inherited":
        changes += [f"-{k}" for k in env.get("unset", [])]
        return "env inherited" + (f", changed: {' '.join(changes)}" if changes else "")
    keys = env.get("keys") or []
    text = f"env given: {len(keys)} variables{'' if env.get('complete', True) else ' (cut)'}"
    return text + (f", {' '.join(changes)}" if changes else "")


def _module_rows(items: list[dict[str, Any]]) -> list[Row]:
    rows = []
    standard = []
    for item in sorted(items, key=lambda i: (_ORIGINS.index(i["origin"]), i["package"])):
        if item["origin"] == "stdlib":
            standard.append(item["package"])
            continue
        parts = [item["origin"], f"{item['modules']} module{'s' * (item['modules'] != 1)}"]
        if item["native"]:
            parts.append("native")
        if item.get("location"):
            parts.append(item["location"])
        rows.append(Row(item["package"], ", ".join(parts), _first(item), _source(item)))
    if standard:
        rows.append(Row(f"{len(standard)} standard library packages", ", ".join(standard), "", ""))
    return rows


def _code_rows(items: list[dict[str, Any]]) -> list[Row]:
    """Code rows, the standard library's generated code (namedtuple's and dataclasses'
    methods, compiled from strings) folded into one row."""
    rows, generated = [], 0
    for item in items:
        if item["kind"] == "string" and item["preview"].startswith(_GENERATED):
            generated += 1
            continue
        rows.append(
            Row(_what("code", item), item.get("preview") or "", _first(item), _source(item))
        )
    if generated:
        rows.append(Row(f"{generated} strings of namedtuple's and dataclasses' code", "", "", ""))
    return rows


def _native_rows(items: list[dict[str, Any]]) -> list[Row]:
    rows = []
    standard = 0
    for item in items:
        if item["via"] == "extension module" and item["library"].startswith("<stdlib>"):
            standard += 1
            continue
        rows.append(Row(item["library"], item["via"], _first(item), _source(item)))
    if standard:
        rows.append(Row(f"{standard} standard library extension modules", "", "", ""))
    return rows


def _first(item: dict[str, Any]) -> str:
    if not item["events"]:
        return ""
    pid, seq = item["events"][0]
    return f"{pid}:{seq}" + (f" ({item['count']:,})" if item["count"] > 1 else "")


def _source(item: dict[str, Any]) -> str:
    source = item.get("source")
    return f"{source['file']}:{source['line']}" if source else ""
