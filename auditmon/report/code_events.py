"""The code a process ran, from its events: imports and the files their code came from,
scripts, ``-c`` and ``-m``, code compiled from strings, unpickling, code objects built,
and native libraries loaded.  A mixin of ``Collector``."""

from __future__ import annotations

import functools
import posixpath
import re
from typing import Any

from auditmon import protocol
from auditmon.report.arguments import digest, length_of, module_of, path_text, text_of
from auditmon.report.log import ProcessLog, Seen, end_import_listing

_CODE = re.compile(r"code (\S+) at (.+):(\d+)$")
_PENDING = 16  # imports awaiting their code, per thread (failed ones linger)


@functools.lru_cache(maxsize=4096)
def _module_code_file(description: str) -> str | None:
    """The file of a module's code object, from its description (kept: each module's
    code is run once, but the same descriptions come back in a long recording)."""
    match = _CODE.match(description)
    return match.group(2) if match is not None and match.group(1) == "<module>" else None


class CodeEvents:
    """Handlers of the events that load or run code (see ``Collector.handlers``)."""

    finder: Any

    def _import(self, log: ProcessLog, event: Any, args: Any) -> None:
        thread = event[2]
        log.importing[thread] = True
        if len(args) > 2 and args[2] != log.sys_path:
            log.sys_path = args[2]
            self.finder.sys_path(args[2])
            for entry in args[2] if type(args[2]) in (list, tuple) else ():
                if type(entry) is str:
                    log.import_dirs.add(posixpath.normpath(posixpath.join(log.cwd or "/", entry)))
        name = text_of(args[0])
        if name is None:
            return
        seen = log.modules.get(name)
        if seen is None:
            if log.full(log.modules):
                return
            seen = log.modules[name] = Seen()
        seen.add(log.process.pid, event[0], event[5])
        filename = path_text(args[1]) if len(args) > 1 and args[1] is not None else None
        if filename is not None:  # an extension module, loaded from this file
            log.module_files[name] = filename
            log.native_modules.add(name)
            self._native(log, event, filename, "extension module")
            return
        pending = log.pending_imports.setdefault(thread, [])
        pending.append(name)
        if len(pending) > _PENDING:
            del pending[0]

    def _exec(self, log: ProcessLog, event: Any, args: Any) -> None:
        log.importing.pop(event[2], None)
        code = args[0] if args else None
        if type(code) is not protocol.Described:
            return
        filename = _module_code_file(code.text)
        if filename is None:
            return
        pending = log.pending_imports.get(event[2])
        if filename.startswith("<frozen "):
            name = filename[len("<frozen ") : -1]
            if pending and name in pending:
                pending.remove(name)
            log.module_files.setdefault(name, filename)
            return
        if filename.startswith("<"):
            return  # code compiled from a string: its compile event said so
        if pending:
            index = module_of(pending, filename)
            if index is not None:
                log.module_files[pending.pop(index)] = filename
                if filename.endswith(("/__init__.py", "/__init__.pyc")):
                    log.import_dirs.add(posixpath.dirname(filename))
                return
        self._add_code(log, event, "script", filename, "", None)

    def _script(self, log: ProcessLog, event: Any, args: Any) -> None:
        end_import_listing(log, event)
        filename = path_text(args[0])
        if filename is not None:
            self._add_code(log, event, "script", filename, "", None)

    def _run_command(self, log: ProcessLog, event: Any, args: Any) -> None:
        end_import_listing(log, event)
        source = text_of(args[0])
        if source is not None:
            self._add_code(log, event, "command", "-c", source, length_of(args[0]))

    def _run_module(self, log: ProcessLog, event: Any, args: Any) -> None:
        end_import_listing(log, event)
        name = text_of(args[0])
        if name is not None:
            self._add_code(log, event, "module", name, "", None)

    def _compile(self, log: ProcessLog, event: Any, args: Any) -> None:
        end_import_listing(log, event)
        filename = text_of(args[1]) if len(args) > 1 else None
        if filename is None or not filename.startswith("<") or filename.startswith("<frozen"):
            return  # a file's code: an import or a script, which its exec event tells
        source = text_of(args[0])
        if source is None:
            return
        if ("command", "-c", digest(source)) in log.code:
            return  # python -c's own compile of its command
        self._add_code(log, event, "string", filename, source, length_of(args[0]))

    def _unpickled(self, log: ProcessLog, event: Any, args: Any) -> None:
        end_import_listing(log, event)
        module, name = text_of(args[0]), text_of(args[1])
        if module is not None and name is not None:
            self._add_code(log, event, "unpickled", f"{module}.{name}", "", None)

    def _code_object(self, log: ProcessLog, event: Any, args: Any) -> None:
        end_import_listing(log, event)
        filename, name = text_of(args[1]), text_of(args[2])
        self._add_code(log, event, "code object", f"{filename}:{name}", "", None)

    def _add_code(
        self, log: ProcessLog, event: Any, kind: str, where: str, source: str, length: Any
    ) -> None:
        key = (kind, where, digest(source) if source else "")
        seen = log.code.get(key)
        if seen is None:
            if log.full(log.code):
                return
            seen = log.code[key] = Seen()
            log.code_text[key] = (source[:4096], length if type(length) is int else len(source))
        seen.add(log.process.pid, event[0], event[5])

    # -- native code ---------------------------------------------------------------------
    def _dlopen(self, log: ProcessLog, event: Any, args: Any) -> None:
        end_import_listing(log, event)
        name = text_of(args[0]) if args and args[0] is not None else "(the program itself)"
        if name is not None:
            self._native(log, event, name, "ctypes")

    def _native(self, log: ProcessLog, event: Any, name: str, via: str) -> None:
        key = (name, via)
        seen = log.native.get(key)
        if seen is None:
            if log.full(log.native):
                return
            seen = log.native[key] = Seen()
        seen.add(log.process.pid, event[0], event[5])
