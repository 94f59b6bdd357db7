"""What processes touched, gathered event by event as a recording (or a live session) is
read: files, sockets, names, URLs, commands and the environment here, code in
``code_events``; each process's items in its ``ProcessLog``.  ``auditmon.report.inventory``
names and merges them."""

from __future__ import annotations

import functools
import posixpath
from typing import Any

from auditmon.model.process import Process
from auditmon.report.arguments import (
    env_key,
    items,
    open_ops,
    path_text,
    port_of,
    socket_address,
    text_of,
)
from auditmon.report.code_events import CodeEvents
from auditmon.report.log import ProcessLog, Seen, end_import_listing
from auditmon.report.paths import RootsFinder

_O_CREAT, _O_EXCL = 0o100, 0o200
_IMPORTING = "<frozen importlib"
_KEPT = 65_536  # paths and opens whose work is kept (a program names the same again)
_TEXT = {str}
_SOCKET_KINDS = {"socket.connect": "connect", "socket.bind": "bind"}


@functools.lru_cache(maxsize=_KEPT)
def normal_path(cwd: str, text: str) -> str:
    """``text`` as a normal absolute path, a relative one taken from ``cwd``."""
    return posixpath.normpath(text if text.startswith("/") else cwd + "/" + text)


def _where(cwd: str | None, text: str) -> str:
    """A path as the report names it: absolute and normal where the cwd is known."""
    return normal_path(cwd or "", text) if cwd or text.startswith("/") else text


@functools.lru_cache(maxsize=_KEPT)
def _opening(
    text: str, mode: Any, flags: Any, cwd: str | None
) -> tuple[str, tuple[str, ...], str | None]:
    """What an open of ``text`` amounts to: the path as the report names it, what it
    does to the file, and the path as given where it made the file (create-exclusive);
    nothing for the import system's cached bytecode."""
    if text.endswith(".pyc") and "/__pycache__/" in text:
        return "", (), None
    made = type(flags) is int and flags & _O_EXCL and flags & _O_CREAT
    return _where(cwd, text), open_ops(mode, flags), text if made else None


class Collector(CodeEvents):
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
    @staticmethod
    def _path(log: ProcessLog, text: str, dir_fd: Any = None) -> str:
        if type(dir_fd) is int and dir_fd >= 0 and not text.startswith("/"):
            return "<dir>/" + text  # relative to a directory opened by fd
        return _where(log.cwd, text)

    def _file(self, log: ProcessLog, path: Any, op: str, event: Any, dir_fd: Any = None) -> None:
        text = path if type(path) is str else path_text(path)
        if text is not None:
            self._add_file(log, self._path(log, text, dir_fd), op, event)

    @staticmethod
    def _add_file(log: ProcessLog, path: str, op: str, event: Any) -> None:
        ops = log.files.get(path)
        if ops is None:
            if log.full(log.files):
                return
            ops = log.files[path] = {}
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
        text = path if type(path) is str else path_text(path)
        if text is None:
            return
        opened = (text, args[1], args[2] if len(args) > 2 else None, log.cwd)
        try:
            normal, ops, made = _opening(*opened)
        except TypeError:  # a mode or flags of no usual type: not kept
            normal, ops, made = _opening.__wrapped__(*opened)
        for op in ops:
            self._add_file(log, normal, op, event)
        if made is not None:
            self._made_path(log, made)

    def _listed(self, log: ProcessLog, event: Any, args: Any) -> None:
        thread = event[2]
        stack = event[5]
        if log.importing.get(thread) or (stack and str(stack[0][0]).startswith(_IMPORTING)):
            return  # the import system's finder listing a directory of sys.path
        path = args[0] if args else None
        if path is None:
            path = "."
        if log.pending_imports.get(thread) and type(path) is str:
            if normal_path(log.cwd or "", path) in log.import_dirs:
                return  # a finder looking in a package's or sys.path's directory
        self._file(log, path, "listed", event)

    def _deleted(self, log: ProcessLog, event: Any, args: Any) -> None:
        end_import_listing(log, event)
        self._file(log, args[0], "deleted", event, args[1] if len(args) > 1 else None)

    def _renamed(self, log: ProcessLog, event: Any, args: Any) -> None:
        end_import_listing(log, event)
        self._file(log, args[0], "renamed", event, args[2] if len(args) > 2 else None)
        self._file(log, args[1], "written", event, args[3] if len(args) > 3 else None)

    def _chmod(self, log: ProcessLog, event: Any, args: Any) -> None:
        end_import_listing(log, event)
        self._file(log, args[0], "chmod", event, args[2] if len(args) > 2 else None)

    def _chown(self, log: ProcessLog, event: Any, args: Any) -> None:
        end_import_listing(log, event)
        self._file(log, args[0], "chown", event, args[3] if len(args) > 3 else None)

    def _made(self, log: ProcessLog, event: Any, args: Any) -> None:
        end_import_listing(log, event)
        dir_fd = args[2] if len(args) > 2 else None
        self._file(log, args[0], "created", event, dir_fd)
        if not (type(dir_fd) is int and dir_fd >= 0):
            self._made_path(log, args[0])

    def _linked(self, log: ProcessLog, event: Any, args: Any) -> None:
        end_import_listing(log, event)
        self._file(log, args[1], "created", event)

    def _truncated(self, log: ProcessLog, event: Any, args: Any) -> None:
        end_import_listing(log, event)
        self._file(log, args[0], "written", event)

    def _temporary(self, log: ProcessLog, event: Any, args: Any) -> None:
        end_import_listing(log, event)
        text = path_text(args[0])
        if text is not None and text.startswith("/"):
            self.finder.temp(text)
            self._file(log, text, "created", event)

    def _made_path(self, log: ProcessLog, path: Any) -> None:
        text = path_text(path)
        if text is not None:
            if not text.startswith("/") and log.cwd:
                text = posixpath.join(log.cwd, text)
            self.finder.made_here(text)

    def _chdir(self, log: ProcessLog, event: Any, args: Any) -> None:
        end_import_listing(log, event)
        text = path_text(args[0])
        if text is not None:
            log.cwd = posixpath.normpath(posixpath.join(log.cwd or "/", text))

    # -- network -------------------------------------------------------------------------
    def _socket(self, log: ProcessLog, event: Any, args: Any) -> None:
        end_import_listing(log, event)
        kind = _SOCKET_KINDS.get(event[3], "sendto")
        transport, host, port = socket_address(args[0], args[1])
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
        end_import_listing(log, event)
        host = text_of(args[0]) if args else None
        port = args[1] if event[3] == "socket.getaddrinfo" and len(args) > 1 else None
        if host is None:
            return
        self._add_name(log, event, (host, port_of(port), event[3]))

    def _service(self, log: ProcessLog, event: Any, args: Any) -> None:
        end_import_listing(log, event)
        host = text_of(args[1]) if len(args) > 1 else None
        if host is not None:
            port = port_of(args[2] if len(args) > 2 else None)
            self._add_name(log, event, (host, port, event[3]))

    def _add_name(self, log: ProcessLog, event: Any, key: tuple[str, Any, str]) -> None:
        seen = log.names.get(key)
        if seen is None:
            if log.full(log.names):
                return
            seen = log.names[key] = Seen()
        seen.add(log.process.pid, event[0], event[5])
        log.pending_name[event[2]] = key

    def _url(self, log: ProcessLog, event: Any, args: Any) -> None:
        end_import_listing(log, event)
        url = text_of(args[0])
        if url is None:
            return
        method = ""
        if event[3] == "urllib.Request":
            method = text_of(args[3]) if len(args) > 3 and args[3] is not None else None
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
        end_import_listing(log, event)
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
        words = tuple(items(argv))
        if set(map(type, words)) - _TEXT:  # (usually all strings already)
            words = tuple(text_of(a) or "" for a in words)
        where = path_text(cwd) if cwd is not None else log.cwd
        key = (name, words, where, env_key(env), tuple(log.env.items()))
        seen = log.commands.get(key)
        if seen is None:
            if log.full(log.commands):
                return
            seen = log.commands[key] = Seen()
        seen.add(log.process.pid, event[0], event[5])

    def _putenv(self, log: ProcessLog, event: Any, args: Any) -> None:
        end_import_listing(log, event)
        key = text_of(args[0])
        if key is not None:
            log.env.pop(key, None)
            log.env[key] = text_of(args[1]) if event[3] == "os.putenv" else None

    # -- code ----------------------------------------------------------------------------
