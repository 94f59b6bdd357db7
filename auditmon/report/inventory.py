"""The inventory of a run: what its processes touched, named by what it is (``paths``),
merged over the processes asked for.  ``InventoryBuilder`` is the public way in: feed
it like any sink (a live session's ingest, or a recording) and ask for the inventory of
all processes or of some.

Each item is a JSON-ready dict (docs/report-schema.md) with a ``key``: its identity
across runs, which ``auditmon diff`` compares (no pids, times, ephemeral ports or
temporary names in it).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from auditmon.agentpath import agent_dir
from auditmon.report.collect import Collector
from auditmon.report.log import MAX_REFS, ProcessLog, Seen
from auditmon.report.paths import SITE, STDLIB, Roots, is_ephemeral, port_key

SECTIONS = ("files", "sockets", "names", "urls", "commands", "modules", "code", "native", "alerts")
FILE_OPS = ("read", "written", "created", "deleted", "renamed", "listed", "chmod", "chown")
#: Environment variables whose values a report shows (others: names only; values may be
#: secrets): what changes how programs load code, find commands, or reach the network.
NOTABLE_ENV = frozenset(
    """LD_PRELOAD LD_LIBRARY_PATH LD_AUDIT DYLD_INSERT_LIBRARIES DYLD_LIBRARY_PATH
    PYTHONPATH PYTHONHOME PYTHONSTARTUP PYTHONINSPECT PYTHONUSERBASE PYTHONNOUSERSITE
    PYTHONSAFEPATH PYTHONEXECUTABLE PYTHONWARNINGS PATH HOME SHELL BASH_ENV ENV
    http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy NO_PROXY no_proxy
    PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST PIP_CONFIG_FILE PIP_FIND_LINKS
    SSL_CERT_FILE SSL_CERT_DIR REQUESTS_CA_BUNDLE CURL_CA_BUNDLE GIT_SSH GIT_SSH_COMMAND
    GIT_ASKPASS NODE_OPTIONS PERL5LIB RUBYOPT JAVA_TOOL_OPTIONS""".split()
)
_STDLIB_NAMES = frozenset(getattr(sys, "stdlib_module_names", sys.builtin_module_names))


@dataclass
class Inventory:
    """What a set of processes touched: one list of items per section (see SECTIONS),
    and how many distinct things were past the collector's bound."""

    files: list[dict[str, Any]] = field(default_factory=list)
    sockets: list[dict[str, Any]] = field(default_factory=list)
    names: list[dict[str, Any]] = field(default_factory=list)
    urls: list[dict[str, Any]] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    modules: list[dict[str, Any]] = field(default_factory=list)
    code: list[dict[str, Any]] = field(default_factory=list)
    native: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    not_kept: int = 0

    def to_json(self) -> dict[str, Any]:
        sections: dict[str, Any] = {name: getattr(self, name) for name in SECTIONS}
        return {**sections, "not_kept": self.not_kept}


class InventoryBuilder(Collector):
    """Builds inventories from events as they come (a sink: ``process_started``,
    ``events``, ``dropped``, ``process_ended``, plus ``alert`` for alert records).

    ``inventory()`` covers every process; ``inventory([process.id])`` one process image
    (``Process.id``, as the live session numbers them).  Pure: no I/O, no drawing.
    """

    def dropped(self, process: Any, count: int) -> None:
        """Drops are on the process record; nothing to inventory."""

    def process_ended(self, process: Any) -> None:
        """The log stays: an inventory covers ended processes too."""

    def inventory(self, process_ids: Iterable[int] | None = None) -> Inventory:
        wanted = None if process_ids is None else set(process_ids)
        logs = [log for pid, log in self.logs.items() if wanted is None or pid in wanted]
        return _Namer(self.roots(), list(self.logs.values())).inventory(logs)

    def roots(self) -> Roots:
        """How paths are named, from what has been seen so far."""
        return self.finder.roots()


class _Namer:
    """Names and merges the raw logs' items into an ``Inventory``."""

    def __init__(self, roots: Roots, everything: list[ProcessLog]) -> None:
        self.roots = roots
        # Files the import system and the interpreter ran as code: reads of them are
        # loading code (the modules and code sections say so), not reading data.
        self.code_files = {f for log in everything for f in log.module_files.values()}
        self.code_files |= {k[1] for log in everything for k in log.code if k[0] == "script"}

    def inventory(self, logs: list[ProcessLog]) -> Inventory:
        inventory = Inventory(not_kept=sum(log.overflow for log in logs))
        inventory.files = self._files(logs)
        inventory.sockets = self._sockets(logs)
        inventory.names = self._names(logs)
        inventory.urls = self._urls(logs)
        inventory.commands = self._commands(logs)
        inventory.modules = self._modules(logs)
        inventory.code = self._code(logs)
        inventory.native = self._native(logs)
        inventory.alerts = self._alerts(logs)
        return inventory

    # -- common ----------------------------------------------------------------------------
    def _item(self, items: dict[str, dict[str, Any]], key: str, seen: Seen, **fields: Any):
        item = items.get(key)
        if item is None:
            item = items[key] = {"key": key, **fields, "count": 0, "events": [], "source": None}
        item["count"] += seen.count
        refs = item["events"]
        for ref in seen.refs:
            if len(refs) >= MAX_REFS:
                break
            if list(ref) not in refs:
                refs.append(list(ref))
        if item["source"] is None and seen.stack:
            item["source"] = self._source(seen.stack)
        return item

    def _source(self, stack: Any) -> dict[str, Any] | None:
        """The line that did it: the innermost frame outside the standard library (the
        innermost frame if all are in it)."""
        frames = [f for f in stack if type(f) in (list, tuple) and len(f) >= 3]
        if not frames:
            return None
        chosen = frames[0]
        for frame in frames:
            name = str(frame[0])
            if not name.startswith("<frozen") and not self.roots.path(name).startswith(STDLIB):
                chosen = frame
                break
        return {"file": self.roots.path(str(chosen[0])), "line": chosen[1], "function": chosen[2]}

    @staticmethod
    def _sorted(items: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        return [items[k] for k in sorted(items)]

    # -- sections -------------------------------------------------------------------------
    def _files(self, logs: list[ProcessLog]) -> list[dict[str, Any]]:
        items: dict[str, dict[str, Any]] = {}
        for log in logs:
            for path, ops in log.files.items():
                if set(ops) == {"read"} and path in self.code_files:
                    continue
                name = self.roots.path(path)
                for op, seen in ops.items():
                    item = self._item(items, name, seen, path=name, ops={})
                    item["ops"][op] = item["ops"].get(op, 0) + seen.count
        for item in items.values():
            item["ops"] = {op: item["ops"][op] for op in FILE_OPS if op in item["ops"]}
        return self._sorted(items)

    def _sockets(self, logs: list[ProcessLog]) -> list[dict[str, Any]]:
        items: dict[str, dict[str, Any]] = {}
        for log in logs:
            for (kind, transport, host, port), seen in log.sockets.items():
                address = self.roots.path(host) if transport == "unix" else host
                shown = _host_port(address, port_key(port)) if port is not None else address
                key = f"{kind} {transport} {shown}"
                item = self._item(
                    items, key, seen, kind=kind, transport=transport, address=address, ports=[]
                )
                if port is not None and port not in item["ports"] and len(item["ports"]) < 20:
                    item["ports"].append(port)
        return self._sorted(items)

    def _socket_key(self, raw: tuple[str, str, str, Any]) -> str:
        kind, transport, host, port = raw
        address = self.roots.path(host) if transport == "unix" else host
        shown = _host_port(address, port_key(port)) if port is not None else address
        return f"{kind} {transport} {shown}"

    def _names(self, logs: list[ProcessLog]) -> list[dict[str, Any]]:
        items: dict[str, dict[str, Any]] = {}
        for log in logs:
            for raw, seen in log.names.items():
                name, port, via = raw
                item = self._item(items, name, seen, name=name, via=[], ports=[], led_to=[])
                if via not in item["via"]:
                    item["via"].append(via)
                if port is not None and port not in item["ports"] and len(item["ports"]) < 20:
                    item["ports"].append(port)
                for target in sorted(log.led_to.get(raw, ())):
                    shown = self._socket_key(target)
                    if shown not in item["led_to"]:
                        item["led_to"].append(shown)
        return self._sorted(items)

    def _urls(self, logs: list[ProcessLog]) -> list[dict[str, Any]]:
        items: dict[str, dict[str, Any]] = {}
        for log in logs:
            for (url, method), seen in log.urls.items():
                shown = self.roots.text(url)
                key = f"{method} {_url_key(shown)}".strip()
                self._item(items, key, seen, url=shown, method=method or None)
        return self._sorted(items)

    def _commands(self, logs: list[ProcessLog]) -> list[dict[str, Any]]:
        items: dict[str, dict[str, Any]] = {}
        for log in logs:
            for (via, words, cwd, env, changes), seen in log.commands.items():
                argv = [self.roots.text(w) for w in words]
                where = self.roots.path(cwd) if cwd else None
                environment = self._environment(env, changes)
                key = _canonical([via, argv, where, environment])
                self._item(items, key, seen, argv=argv, via=via, cwd=where, env=environment)
        return self._sorted(items)

    def _environment(self, env: Any, changes: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
        """What a command's environment is known to hold (docs/report-schema.md)."""
        if env is None:
            changed = {k: v for k, v in changes if not k.startswith("AUDITMON_")}
            return {
                "passed": "inherited",
                "set": {k: self._env_value(k, v) for k, v in changed.items() if v is not None},
                "unset": sorted(k for k, v in changed.items() if v is None),
            }
        if env[0] != "explicit":
            return {"passed": "explicit", "set": {}, "keys": [], "variables": None}
        _, pairs, length = env
        pairs = [(k, v) for k, v in pairs if not k.startswith("AUDITMON_")]
        return {
            "passed": "explicit",
            "set": {k: self._env_value(k, v) for k, v in pairs if k in NOTABLE_ENV},
            "keys": sorted(k for k, _ in pairs),
            "complete": length is None,
        }

    def _env_value(self, key: str, value: str | None) -> str | None:
        if key not in NOTABLE_ENV or value is None:
            return None
        if key == "PYTHONPATH":  # auditmon's own agent goes first on it: not the program's
            value = ":".join(p for p in value.split(":") if not _is_agent_dir(p))
        return self.roots.text(value)

    def _modules(self, logs: list[ProcessLog]) -> list[dict[str, Any]]:
        located: dict[str, tuple[str, str]] = {}  # package -> (its origin, a module's file)
        for log in logs:
            for module, file in log.module_files.items():
                shown = self.roots.path(file) if not file.startswith("<") else file
                package = module.split(".", 1)[0]
                if package not in located or module == package:
                    located[package] = (_origin(package, shown), _location(module, shown))
        items: dict[str, dict[str, Any]] = {}
        names: dict[str, set[str]] = {}
        for log in logs:
            loaded = list(log.modules.items())
            for module, file, seen in self._imported_scripts(log):
                package = module.split(".", 1)[0]
                if package not in located or module == package:
                    located[package] = (_origin(package, file), _location(module, file))
                loaded.append((module, seen))
            for module, seen in loaded:
                package = module.split(".", 1)[0]
                origin, location = located.get(package, (_origin(package, None), None))
                item = self._item(
                    items, f"{package} ({origin})", seen, package=package, origin=origin,
                    location=location, modules=0, native=False,
                )  # fmt: skip
                names.setdefault(item["key"], set()).add(module)
                if module in log.native_modules:
                    item["native"] = True
        for key, item in items.items():
            item["modules"] = len(names[key])
        return self._sorted(items)

    def _imported_scripts(self, log: ProcessLog) -> list[tuple[str, str, Seen]]:
        """Module files whose code ran with no ``import`` event before it (loaded by
        ``importlib.import_module`` or ``runpy``, which raise none): (module, file, seen)."""
        found = []
        for (kind, where, _), seen in log.code.items():
            if kind != "script":
                continue
            file = self.roots.path(where)
            for label in (STDLIB, SITE):
                if file.startswith(label + "/"):
                    module = file[len(label) + 1 :].rsplit(".", 1)[0].replace("/", ".")
                    module = module.removesuffix(".__init__")
                    found.append((module, file, seen))
        return found

    def _code(self, logs: list[ProcessLog]) -> list[dict[str, Any]]:
        items: dict[str, dict[str, Any]] = {}
        for log in logs:
            for raw, seen in log.code.items():
                kind, where, _ = raw
                if kind == "script" and self.roots.path(where).startswith((STDLIB, SITE)):
                    continue  # a module, loaded without an import event: see _modules
                source, length = log.code_text[raw]
                shown_where = self.roots.path(where) if kind == "script" else self.roots.text(where)
                text = self.roots.text(source)
                digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
                key = f"{kind} {shown_where} {digest[:16]}" if source else f"{kind} {shown_where}"
                self._item(
                    items, key, seen, kind=kind, where=shown_where, preview=_preview(text),
                    length=length if source else None, sha256=digest if source else None,
                )  # fmt: skip
        return self._sorted(items)

    def _native(self, logs: list[ProcessLog]) -> list[dict[str, Any]]:
        items: dict[str, dict[str, Any]] = {}
        for log in logs:
            for (library, via), seen in log.native.items():
                shown = self.roots.path(library) if library.startswith("/") else library
                self._item(items, f"{via} {shown}", seen, library=shown, via=via)
        return self._sorted(items)

    def _alerts(self, logs: list[ProcessLog]) -> list[dict[str, Any]]:
        items: dict[str, dict[str, Any]] = {}
        for log in logs:
            for (rule, priority), seen in log.alerts.items():
                details = log.alert_details[(rule, priority)]
                self._item(items, rule, seen, rule=rule, priority=priority or None, **details)
        return self._sorted(items)


def _host_port(host: str, port: str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _url_key(url: str) -> str:
    """A URL with an ephemeral port made ``<port>``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    if not is_ephemeral(port):
        return url
    host = parts.hostname or ""
    netloc = _host_port(host, "<port>")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _origin(package: str, file: str | None) -> str:
    if file is None:
        return "stdlib" if package in _STDLIB_NAMES else "unresolved"
    if file.startswith(STDLIB) or file.startswith("<frozen"):
        return "stdlib"
    if file.startswith(SITE):
        return "site-packages"
    return "elsewhere"


def _location(module: str, file: str) -> str:
    """Where a module's top-level package lives, from the module's (named) file."""
    depth = module.count(".")
    if file.startswith("<frozen"):
        return file
    if posixpath.basename(file) in ("__init__.py", "__init__.pyc"):
        top, levels = posixpath.dirname(file), depth
    elif depth == 0:
        return file
    else:
        top, levels = posixpath.dirname(file), depth - 1
    for _ in range(levels):
        top = posixpath.dirname(top)
    return top


def _preview(text: str, limit: int = 160) -> str:
    line = " ⏎ ".join(part.strip() for part in text.strip().splitlines()[:3] if part.strip())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _is_agent_dir(path: str) -> bool:
    return path == str(agent_dir()) or path.rstrip("/").endswith("auditmon/_agent")
