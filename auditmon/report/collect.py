"""What one process touched, gathered event by event as it is read: the raw material of
the inventory (``auditmon.report.inventory`` names and merges it).

One ``ProcessLog`` per process image.  Each distinct thing (a file, a socket address, a
command line…) is kept once with a ``Seen``: how many events, the first few (pid, seq)
and the first stack captured.  Memory grows with the number of distinct things, never
with the number of events, and each section stops at ``MAX_ITEMS`` (the rest counted).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from auditmon import protocol
from auditmon.model.process import Process
from auditmon.report.paths import RootsFinder

MAX_REFS = 5
MAX_ITEMS = 50_000
_O_CREAT, _O_EXCL, _O_PATH, _O_DIRECTORY = 0o100, 0o200, 0o10000000, 0o200000
_CODE = re.compile(r"code (\S+) at (.+):(\d+)$")
_SOCKET = re.compile(r"socket (AF_\w+|\d+) (SOCK_\w+|\d+)")
_IMPORTING = "<frozen importlib"


@dataclass
class Seen:
    """How often something was seen, where first (pid, seq) and with what stack."""

    count: int = 0
    refs: list[tuple[int, int]] = field(default_factory=list)
    stack: Any = None

    def add(self, pid: int, seq: int, stack: Any, count: int = 1) -> None:
        self.count += count
        if len(self.refs) < MAX_REFS:
            self.refs.append((pid, seq))
        if self.stack is None and stack:
            self.stack = stack


@dataclass
class ProcessLog:
    """The raw inventory of one process image (paths as they were, not yet named)."""

    process: Process
    cwd: str | None = None
    files: dict[str, dict[str, Seen]] = field(default_factory=dict)  # path -> op -> seen
    sockets: dict[tuple[str, str, str, Any], Seen] = field(default_factory=dict)
    names: dict[tuple[str, Any, str], Seen] = field(default_factory=dict)
    led_to: dict[tuple[str, Any, str], set[tuple[str, str, str, Any]]] = field(default_factory=dict)
    urls: dict[tuple[str, str], Seen] = field(default_factory=dict)
    commands: dict[tuple[Any, ...], Seen] = field(default_factory=dict)
    modules: dict[str, Seen] = field(default_factory=dict)
    module_files: dict[str, str] = field(default_factory=dict)  # module -> its file
    native_modules: set[str] = field(default_factory=set)
    code: dict[tuple[str, str, str], Seen] = field(default_factory=dict)
    code_text: dict[tuple[str, str, str], tuple[str, int]] = field(default_factory=dict)
    native: dict[tuple[str, str], Seen] = field(default_factory=dict)
    alerts: dict[tuple[str, str], Seen] = field(default_factory=dict)
    alert_details: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    env: dict[str, str | None] = field(default_factory=dict)  # putenv/unsetenv, in order
    overflow: int = 0
    # per thread: imports awaiting their module's code, a name awaiting its connection,
    # whether the latest event looked at was an import (its listings are the finder's)
    pending_imports: dict[int, list[str]] = field(default_factory=dict)
    pending_name: dict[int, tuple[str, Any, str]] = field(default_factory=dict)
    importing: dict[int, bool] = field(default_factory=dict)
    import_dirs: set[str] = field(default_factory=set)  # sys.path's and packages' directories
    sys_path: Any = None  # the latest import event's

    def full(self, section: dict[Any, Any]) -> bool:
        if len(section) >= MAX_ITEMS:
            self.overflow += 1
            return True
        return False


class Collector:
    """Feeds events to the ``ProcessLog`` of their process; ``finder`` learns, meanwhile,
    where the stdlib, site-packages, venvs and temporary directories are."""

    def __init__(self) -> None:
        self.logs: dict[int, ProcessLog] = {}  # Process.id -> its log
        self.finder = RootsFinder()
        self.handlers = {
            "open": self._open,
            "os.listdir": self._listed,
            "os.scandir": self._listed,
            "glob.glob": self._listed,
            "os.remove": self._deleted,
            "os.rmdir": self._deleted,
            "shutil.rmtree": self._deleted,
            "os.rename": self._renamed,
            "os.chmod": self._chmod,
            "os.chown": self._chown,
            "os.mkdir": self._made,
            "os.symlink": self._linked,
            "os.link": self._linked,
            "os.truncate": self._truncated,
            "tempfile.mkstemp": self._temporary,
            "tempfile.mkdtemp": self._temporary,
            "os.chdir": self._chdir,
            "socket.connect": self._socket,
            "socket.bind": self._socket,
            "socket.sendto": self._socket,
            "socket.sendmsg": self._socket,
            "socket.getaddrinfo": self._name,
            "socket.gethostbyname": self._name,
            "socket.gethostbyname_ex": self._name,
            "socket.gethostbyaddr": self._name,
            "http.client.connect": self._service,
            "ftplib.connect": self._service,
            "smtplib.connect": self._service,
            "poplib.connect": self._service,
            "imaplib.open": self._service,
            "nntplib.connect": self._service,
            "telnetlib.Telnet.open": self._service,
            "urllib.Request": self._url,
            "webbrowser.open": self._url,
            "subprocess.Popen": self._command,
            "os.exec": self._command,
            "os.posix_spawn": self._command,
            "os.spawn": self._command,
            "pty.spawn": self._command,
            "os.system": self._command,
            "os.putenv": self._putenv,
            "os.unsetenv": self._putenv,
            "import": self._import,
            "exec": self._exec,
            "cpython.run_file": self._script,
            "cpython.run_command": self._run_command,
            "cpython.run_module": self._run_module,
            "compile": self._compile,
            "pickle.find_class": self._unpickled,
            "code.__new__": self._code_object,
            "ctypes.dlopen": self._dlopen,
        }

    # -- the sink ----------------------------------------------------------------------
    def process_started(self, process: Process) -> None:
        self.logs[process.id] = ProcessLog(process, process.cwd)
        self.finder.process(process.executable, process.cwd)

    def events(self, process: Process, events: Any, decode: Any = None) -> None:
        """A batch of ``[seq, time, thread, event, args, stack]``; ``decode``, if given,
        turns an event's arguments into values (JSON Lines read lazily)."""
        log = self.logs.get(process.id)
        if log is None:
            self.process_started(process)
            log = self.logs[process.id]
        handlers = self.handlers
        for event in events:
            handler = handlers.get(event[3])
            if handler is not None:
                args = event[4] if decode is None else decode(event[4])
                try:
                    handler(log, event, args)
                except (TypeError, ValueError, IndexError, AttributeError):
                    pass  # arguments of an unexpected shape: nothing to take from them

    def alert(self, process: Process | None, record: dict[str, Any]) -> None:
        """An ``alert`` record (written when rules were loaded)."""
        if process is None or process.id not in self.logs:
            return
        log = self.logs[process.id]
        rule = str(record.get("rule") or "?")
        key = (rule, str(record.get("priority") or ""))
        seen = log.alerts.get(key)
        if seen is None:
            if log.full(log.alerts):
                return
            seen = log.alerts[key] = Seen()
            log.alert_details[key] = {
                "output": str(record.get("output") or ""),
                "tags": [str(t) for t in record.get("tags") or [] if isinstance(t, str)],
            }
        seq = record.get("seq")
        seen.add(log.process.pid, seq if isinstance(seq, int) else 0, None)

    # -- files ---------------------------------------------------------------------------
    def _file(self, log: ProcessLog, path: Any, op: str, event: Any, dir_fd: Any = None) -> None:
        text = _path_text(path)
        if text is None:
            return
        if not text.startswith("/"):
            if type(dir_fd) is int and dir_fd >= 0:
                text = "<dir>/" + text  # relative to a directory opened by fd
            elif log.cwd:
                text = posixpath.join(log.cwd, text)
        text = posixpath.normpath(text) if text.startswith("/") else text
        ops = log.files.get(text)
        if ops is None:
            if log.full(log.files):
                return
            ops = log.files[text] = {}
        seen = ops.get(op)
        if seen is None:
            seen = ops[op] = Seen()
        seen.add(log.process.pid, event[0], event[5])

    def _open(self, log: ProcessLog, event: Any, args: Any) -> None:
        log.importing.pop(event[2], None)
        path = args[0]
        if type(path) is int:
            return  # an fd already open
        stack = event[5]
        if stack and str(stack[0][0]).startswith(_IMPORTING):
            return  # the import system reading code
        text = _path_text(path)
        if text is None or (text.endswith(".pyc") and "/__pycache__/" in text):
            return
        for op in _open_ops(args[1], args[2] if len(args) > 2 else None):
            self._file(log, text, op, event)
        if len(args) > 2 and type(args[2]) is int and args[2] & _O_EXCL and args[2] & _O_CREAT:
            self._made_path(log, text)

    def _listed(self, log: ProcessLog, event: Any, args: Any) -> None:
        thread = event[2]
        stack = event[5]
        if log.importing.get(thread) or (stack and str(stack[0][0]).startswith(_IMPORTING)):
            return  # the import system's finder listing a directory of sys.path
        path = args[0] if args else None
        if path is None:
            path = "."
        if log.pending_imports.get(thread) and type(path) is str:
            absolute = posixpath.normpath(posixpath.join(log.cwd or "/", path))
            if absolute in log.import_dirs:
                return  # a finder looking in a package's or sys.path's directory
        self._file(log, path, "listed", event)

    def _deleted(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        self._file(log, args[0], "deleted", event, args[1] if len(args) > 1 else None)

    def _renamed(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        self._file(log, args[0], "renamed", event, args[2] if len(args) > 2 else None)
        self._file(log, args[1], "written", event, args[3] if len(args) > 3 else None)

    def _chmod(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        self._file(log, args[0], "chmod", event, args[2] if len(args) > 2 else None)

    def _chown(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        self._file(log, args[0], "chown", event, args[3] if len(args) > 3 else None)

    def _made(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        dir_fd = args[2] if len(args) > 2 else None
        self._file(log, args[0], "created", event, dir_fd)
        if not (type(dir_fd) is int and dir_fd >= 0):
            self._made_path(log, args[0])

    def _linked(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        self._file(log, args[1], "created", event)

    def _truncated(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        self._file(log, args[0], "written", event)

    def _temporary(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        text = _path_text(args[0])
        if text is not None and text.startswith("/"):
            self.finder.temp(text)
            self._file(log, text, "created", event)

    def _made_path(self, log: ProcessLog, path: Any) -> None:
        text = _path_text(path)
        if text is not None:
            if not text.startswith("/") and log.cwd:
                text = posixpath.join(log.cwd, text)
            self.finder.made_here(text)

    def _chdir(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        text = _path_text(args[0])
        if text is not None:
            log.cwd = posixpath.normpath(posixpath.join(log.cwd or "/", text))

    # -- network -------------------------------------------------------------------------
    def _socket(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        kind = {"socket.connect": "connect", "socket.bind": "bind"}.get(event[3], "sendto")
        transport, host, port = _address(args[0], args[1])
        key = (kind, transport, host, port)
        seen = log.sockets.get(key)
        if seen is None:
            if log.full(log.sockets):
                return
            seen = log.sockets[key] = Seen()
        seen.add(log.process.pid, event[0], event[5])
        if kind == "connect":
            name = log.pending_name.pop(event[2], None)
            if name is not None and (name[1] in (None, port) or str(name[1]) == str(port)):
                log.led_to.setdefault(name, set()).add(key)

    def _name(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        host = _text(args[0]) if args else None
        port = args[1] if event[3] == "socket.getaddrinfo" and len(args) > 1 else None
        if host is None:
            return
        self._add_name(log, event, (host, _port(port), event[3]))

    def _service(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        host = _text(args[1]) if len(args) > 1 else None
        if host is not None:
            self._add_name(log, event, (host, _port(args[2] if len(args) > 2 else None), event[3]))

    def _add_name(self, log: ProcessLog, event: Any, key: tuple[str, Any, str]) -> None:
        seen = log.names.get(key)
        if seen is None:
            if log.full(log.names):
                return
            seen = log.names[key] = Seen()
        seen.add(log.process.pid, event[0], event[5])
        log.pending_name[event[2]] = key

    def _url(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        url = _text(args[0])
        if url is None:
            return
        method = ""
        if event[3] == "urllib.Request":
            method = _text(args[3]) if len(args) > 3 and args[3] is not None else None
            method = method or ("POST" if len(args) > 1 and args[1] is not None else "GET")
        key = (url, method)
        seen = log.urls.get(key)
        if seen is None:
            if log.full(log.urls):
                return
            seen = log.urls[key] = Seen()
        seen.add(log.process.pid, event[0], event[5])

    # -- commands and the environment ----------------------------------------------------
    def _command(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        name = event[3]
        cwd, env = None, None
        if name == "subprocess.Popen":
            argv, cwd, env = args[1], args[2], args[3]
            if isinstance(argv, (str, bytes)):
                argv = [argv]
        elif name in ("os.exec", "os.posix_spawn"):
            argv, env = args[1], args[2]
        elif name == "os.spawn":
            argv, env = args[2], args[3]
        elif name == "pty.spawn":
            argv = args[0] if type(args[0]) in (list, tuple) else [args[0]]
        else:  # os.system: a shell's command line
            argv = [args[0]]
        words = tuple(_text(a) or "" for a in _items(argv))
        where = _path_text(cwd) if cwd is not None else log.cwd
        key = (name, words, where, _env_key(env), tuple(log.env.items()))
        seen = log.commands.get(key)
        if seen is None:
            if log.full(log.commands):
                return
            seen = log.commands[key] = Seen()
        seen.add(log.process.pid, event[0], event[5])

    def _putenv(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        key = _text(args[0])
        if key is not None:
            log.env.pop(key, None)
            log.env[key] = _text(args[1]) if event[3] == "os.putenv" else None

    # -- code ----------------------------------------------------------------------------
    def _import(self, log: ProcessLog, event: Any, args: Any) -> None:
        thread = event[2]
        log.importing[thread] = True
        if len(args) > 2 and args[2] != log.sys_path:
            log.sys_path = args[2]
            self.finder.sys_path(args[2])
            for entry in args[2] if type(args[2]) in (list, tuple) else ():
                if type(entry) is str:
                    log.import_dirs.add(posixpath.normpath(posixpath.join(log.cwd or "/", entry)))
        name = _text(args[0])
        if name is None:
            return
        seen = log.modules.get(name)
        if seen is None:
            if log.full(log.modules):
                return
            seen = log.modules[name] = Seen()
        seen.add(log.process.pid, event[0], event[5])
        filename = _path_text(args[1]) if len(args) > 1 and args[1] is not None else None
        if filename is not None:  # an extension module, loaded from this file
            log.module_files[name] = filename
            log.native_modules.add(name)
            self._native(log, event, filename, "extension module")
            return
        pending = log.pending_imports.setdefault(thread, [])
        pending.append(name)
        if len(pending) > 64:
            del pending[0]

    def _exec(self, log: ProcessLog, event: Any, args: Any) -> None:
        log.importing.pop(event[2], None)
        code = args[0] if args else None
        if type(code) is not protocol.Described:
            return
        match = _CODE.match(code.text)
        if match is None or match.group(1) != "<module>":
            return
        filename = match.group(2)
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
            index = _module_of(pending, filename)
            if index is not None:
                log.module_files[pending.pop(index)] = filename
                if filename.endswith(("/__init__.py", "/__init__.pyc")):
                    log.import_dirs.add(posixpath.dirname(filename))
                return
        self._add_code(log, event, "script", filename, "", None)

    def _script(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        filename = _path_text(args[0])
        if filename is not None:
            self._add_code(log, event, "script", filename, "", None)

    def _run_command(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        source = _text(args[0])
        if source is not None:
            self._add_code(log, event, "command", "-c", source, _length(args[0]))

    def _run_module(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        name = _text(args[0])
        if name is not None:
            self._add_code(log, event, "module", name, "", None)

    def _compile(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        filename = _text(args[1]) if len(args) > 1 else None
        if filename is None or not filename.startswith("<") or filename.startswith("<frozen"):
            return  # a file's code: an import or a script, which its exec event tells
        source = _text(args[0])
        if source is None:
            return
        if ("command", "-c", _digest(source)) in log.code:
            return  # python -c's own compile of its command
        self._add_code(log, event, "string", filename, source, _length(args[0]))

    def _unpickled(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        module, name = _text(args[0]), _text(args[1])
        if module is not None and name is not None:
            self._add_code(log, event, "unpickled", f"{module}.{name}", "", None)

    def _code_object(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        filename, name = _text(args[1]), _text(args[2])
        self._add_code(log, event, "code object", f"{filename}:{name}", "", None)

    def _add_code(
        self, log: ProcessLog, event: Any, kind: str, where: str, source: str, length: Any
    ) -> None:
        key = (kind, where, _digest(source) if source else "")
        seen = log.code.get(key)
        if seen is None:
            if log.full(log.code):
                return
            seen = log.code[key] = Seen()
            log.code_text[key] = (source[:4096], length if type(length) is int else len(source))
        seen.add(log.process.pid, event[0], event[5])

    # -- native code ---------------------------------------------------------------------
    def _dlopen(self, log: ProcessLog, event: Any, args: Any) -> None:
        self._plain(log, event)
        name = _text(args[0]) if args and args[0] is not None else "(the program itself)"
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

    @staticmethod
    def _plain(log: ProcessLog, event: Any) -> None:
        """Any event but an import or a listing ends the import system's listings."""
        if log.importing:
            log.importing.pop(event[2], None)


def _open_ops(mode: Any, flags: Any) -> tuple[str, ...]:
    """What an open does: read, written, or both; ``created`` for an exclusive create."""
    if type(flags) is int:
        if flags & _O_PATH:
            return ()
        access = flags & 3
        ops = ("read",) if access == 0 else ("written",) if access == 1 else ("read", "written")
        if flags & _O_CREAT and flags & _O_EXCL:
            ops = ("created", *ops)
        return ops
    if type(mode) is str:
        ops = ()
        if "r" in mode or "+" in mode:
            ops += ("read",)
        if any(c in mode for c in "wax+"):
            ops += ("written",)
        if "x" in mode:
            ops = ("created", *ops)
        return ops or ("read",)
    return ("read",)


def _module_of(pending: list[str], filename: str) -> int | None:
    """Which pending import (the latest first) ``filename`` is the code of: the one whose
    dotted name is the file's path tail (``pkg/mod.py``, ``pkg/__init__.py``), else one
    whose last part is the file's name (a vendored module imported under an alias:
    ``pkg_resources.extern.packaging`` from ``_vendor/packaging/__init__.py``)."""
    stem = filename.rsplit(".", 1)[0]
    if stem.endswith("/__init__"):
        stem = stem[: -len("/__init__")]
    for index in range(len(pending) - 1, -1, -1):
        if stem.endswith("/" + pending[index].replace(".", "/")):
            return index
    last = stem.rsplit("/", 1)[-1]
    for index in range(len(pending) - 1, -1, -1):
        if pending[index].rsplit(".", 1)[-1] == last:
            return index
    return None


def _items(value: Any) -> list[Any]:
    if type(value) is protocol.Cut:
        value = value.value
    if type(value) in (list, tuple):
        return list(value)
    return [] if value is None else [value]


def _text(value: Any) -> str | None:
    """A value as text: strings as they are, bytes decoded as the file system does."""
    t = type(value)
    if t is str:
        return value
    if t is bytes:
        return value.decode("utf-8", "surrogateescape")
    if t is protocol.Cut and type(value.value) in (str, bytes):
        return _text(value.value) + "…"
    if t is protocol.Described:
        return value.text
    if t is int:
        return str(value)
    return None


def _path_text(value: Any) -> str | None:
    if type(value) is int:
        return None  # a file descriptor
    return _text(value)


def _length(value: Any) -> int | None:
    if type(value) is protocol.Cut:
        return value.length
    return len(value) if type(value) in (str, bytes) else None


def _port(value: Any) -> Any:
    if type(value) is str and value.isdigit():
        return int(value)
    return value if type(value) in (int, str) else None


def _address(sock: Any, address: Any) -> tuple[str, str, Any]:
    """(transport, host or path, port) of a socket address."""
    family, kind = "", ""
    if type(sock) is protocol.Described:
        match = _SOCKET.match(sock.text)
        if match:
            family, kind = match.groups()
    if type(address) in (list, tuple) and len(address) >= 2:
        host = _text(address[0]) or ""
        transport = "udp" if kind == "SOCK_DGRAM" else "tcp" if kind else "ip"
        return transport, host, address[1] if type(address[1]) is int else _text(address[1])
    text = _text(address)
    if text is not None:
        if text.startswith("\x00"):
            text = "@" + text[1:]  # an abstract socket
        return "unix", text, None
    return family or "?", repr(address), None


def _env_key(env: Any) -> Any:
    """An explicit environment, as a hashable value (None: inherited)."""
    if env is None:
        return None
    cut = type(env) is protocol.Cut
    length = env.length if cut else None
    if cut:
        env = env.value
    if type(env) is not dict:
        return ("?", _text(env))
    pairs = tuple(sorted((_text(k) or "?", _text(v) or "") for k, v in env.items()))
    return ("explicit", pairs, length)


def _digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:16]
