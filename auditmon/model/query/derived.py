"""Fields worked out from an event's arguments, the same way whichever event carries
them: the file it reads or writes, the host it contacts, the program it starts, the
Python line that raised it.  Rules ask ``file.read pmatch (~/.ssh)`` once instead of
naming ``open``'s ``path``, ``shutil.copyfile``'s ``src`` and ``sqlite3.connect``'s
``database`` one by one.

Every reader takes ``(event name, args, process cwd)`` or a stack and returns None where
the event does not carry the field.  ``EVENTS`` says, per field, the only events that
can carry it, so that a rule asking for it is run for those events alone.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from auditmon import protocol
from auditmon.agentpath import agent_dir

_WRITE_FLAGS = 0o1 | 0o2 | 0o100 | 0o1000 | 0o2000  # O_WRONLY O_RDWR O_CREAT O_TRUNC O_APPEND
_WRITE_MODE_CHARS = frozenset("wax+")

#: (event, argument position) of the file an event acts on (a copy's destination).
_TARGET = {
    "open": 0,
    "sqlite3.connect": 0,
    "os.mkdir": 0,
    "os.chmod": 0,
    "os.chown": 0,
    "os.remove": 0,
    "os.rmdir": 0,
    "os.listdir": 0,
    "os.scandir": 0,
    "os.chdir": 0,
    "os.utime": 0,
    "os.setxattr": 0,
    "os.removexattr": 0,
    "os.add_dll_directory": 0,
    "shutil.rmtree": 0,
    "shutil.chown": 0,
    "sqlite3.load_extension": 1,
    "os.exec": 0,
    "os.posix_spawn": 0,
    "os.spawn": 1,
    "os.rename": 1,
    "os.link": 1,
    "os.symlink": 1,
    "shutil.copyfile": 1,
    "shutil.copymode": 1,
    "shutil.copystat": 1,
    "shutil.copytree": 1,
    "shutil.move": 1,
}
#: Events with a source (position 0) and a destination (position 1).
_SOURCED = frozenset(
    {
        "os.rename",
        "os.link",
        "os.symlink",
        "shutil.copyfile",
        "shutil.copymode",
        "shutil.copystat",
        "shutil.copytree",
        "shutil.move",
    }
)
#: Events that read the file at their ``src`` (position 0): a copy or a move of it.
_SOURCE_READ = frozenset(
    {"shutil.copyfile", "shutil.copytree", "shutil.move", "os.rename", "os.link"}
)
#: Events that write (create, replace) the file at their target.
_TARGET_WRITE = frozenset(
    {
        "os.mkdir",
        "os.rename",
        "os.link",
        "os.symlink",
        "shutil.copyfile",
        "shutil.copytree",
        "shutil.move",
    }
)

#: (event, host position, port position) of the events that name a peer.
_PEER = {
    "socket.getaddrinfo": (0, 1),
    "socket.gethostbyname": (0, None),
    "socket.gethostbyaddr": (0, None),
    "http.client.connect": (1, 2),
    "ftplib.connect": (1, 2),
    "smtplib.connect": (1, 2),
    "imaplib.open": (1, 2),
    "poplib.connect": (1, 2),
    "nntplib.connect": (1, 2),
    "telnetlib.Telnet.open": (1, 2),
}
_ADDRESSED = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg"})
_URLS = {"urllib.Request": 0, "webbrowser.open": 0}
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}

#: event -> (program position or None, argv position, env position or None)
_SPAWN = {
    "subprocess.Popen": (0, 1, 3),
    "os.exec": (0, 1, 2),
    "os.posix_spawn": (0, 1, 2),
    "os.spawn": (1, 2, 3),
    "pty.spawn": (None, 0, None),
}
_SHELL = "/bin/sh"

#: Per derived field, the events that can carry it.
EVENTS: dict[str, frozenset[str]] = {
    "open": frozenset({"open"}),
    "file.path": frozenset(_TARGET),
    "file.src": _SOURCED,
    "file.read": frozenset({"open", "sqlite3.connect"} | _SOURCE_READ),
    "file.written": frozenset({"open"} | _TARGET_WRITE),
    "net": frozenset(set(_PEER) | _ADDRESSED | set(_URLS)),
    "net.url": frozenset(_URLS),
    "spawn": frozenset(set(_SPAWN) | {"os.system"}),
    "code": frozenset({"exec"}),
    "loader": frozenset(set(_SPAWN) | {"os.system", "os.putenv"}),
}


def text(value: Any) -> str | None:
    """A path, host or word as text: str as it is, bytes decoded, a cut one's kept part."""
    if type(value) is protocol.Cut:
        value = value.value
    if type(value) is str:
        return value
    if type(value) in (bytes, bytearray):
        return bytes(value).decode("utf-8", "surrogateescape")
    return None


def _arg(args: Sequence[Any], index: int | None) -> Any:
    return args[index] if index is not None and index < len(args) else None


# -- files -------------------------------------------------------------------------------
def opens_for_writing(args: Sequence[Any]) -> bool:
    """``open``'s mode has w, a, x or +, or its flags ask for writing or creating."""
    mode = text(_arg(args, 1))
    if mode is not None and _WRITE_MODE_CHARS.intersection(mode):
        return True
    flags = _arg(args, 2)
    return type(flags) is int and bool(flags & _WRITE_FLAGS)


def absolute(path: str, cwd: str | None) -> str:
    """``path`` made absolute against the process's start directory and normalised
    (``..`` resolved as text: symbolic links are not followed)."""
    if path.startswith("/"):
        if "/." not in path and "//" not in path and not path.endswith("/"):
            return path  # already normal: most are
    elif cwd:
        path = posixpath.join(cwd, path)
    return posixpath.normpath(path) if path else path


def _path_at(args: Sequence[Any], index: int | None, cwd: str | None) -> str | None:
    found = text(_arg(args, index))
    return absolute(found, cwd) if found else None


def file_path(event: str, args: Sequence[Any], cwd: str | None) -> str | None:
    """The file the event acts on (a copy's or a move's destination)."""
    return _path_at(args, _TARGET.get(event), cwd)


def file_src(event: str, args: Sequence[Any], cwd: str | None) -> str | None:
    """The source of a copy, move, rename or link."""
    return _path_at(args, 0, cwd) if event in _SOURCED else None


def file_read(event: str, args: Sequence[Any], cwd: str | None) -> str | None:
    """The file whose contents the event reads (or carries off)."""
    if event == "open":
        return None if opens_for_writing(args) else _path_at(args, 0, cwd)
    if event == "sqlite3.connect":
        return _path_at(args, 0, cwd)
    return _path_at(args, 0, cwd) if event in _SOURCE_READ else None


def file_written(event: str, args: Sequence[Any], cwd: str | None) -> str | None:
    """The file the event writes, creates or replaces."""
    if event == "open":
        return _path_at(args, 0, cwd) if opens_for_writing(args) else None
    return _path_at(args, _TARGET[event], cwd) if event in _TARGET_WRITE else None


# -- network -----------------------------------------------------------------------------
def peer(event: str, args: Sequence[Any]) -> tuple[str | None, int | None, str | None]:
    """(host, port, url) the event names as its peer; a Unix socket's path is its host
    with no port."""
    if event in _ADDRESSED:
        address = _arg(args, 1)
        if type(address) in (list, tuple) and len(address) >= 2:
            port = address[1] if type(address[1]) is int else None
            return text(address[0]), port, None
        found = text(address)
        return (found, None, None) if found is not None else (None, None, None)
    where = _PEER.get(event)
    if where is not None:
        port = _arg(args, where[1])
        return text(_arg(args, where[0])), port if type(port) is int else None, None
    if event in _URLS:
        url = text(_arg(args, _URLS[event]))
        if url is None:
            return None, None, None
        try:
            parts = urlsplit(url)
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
        except ValueError:
            return None, None, url
        return parts.hostname, port, url
    return None, None, None


def scope(host: str | None) -> str | None:
    """Where a host is: ``unix`` (a socket path), ``loopback``, ``private``,
    ``link-local`` (cloud metadata lives there), ``unspecified``, ``public``, or
    ``name`` for a host name other than localhost (not resolved here)."""
    if host is None or host == "":
        return None
    if host.startswith("/") or host.startswith("\0"):
        return "unix"
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        lowered = host.rstrip(".").lower()
        if lowered == "localhost" or lowered.endswith(".localhost"):
            return "loopback"
        return "name"
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified:
        return "unspecified"
    if address.is_link_local:
        return "link-local"
    if address.is_private:
        return "private"
    return "public"


def domains(host: str | None) -> list[str] | None:
    """A host name and every domain above it (``a.b.example.com``, ``b.example.com``,
    ``example.com``, ``com``), so ``net.domains in (example.com)`` matches any host
    under it; an address is itself alone."""
    if not host or scope(host) != "name":
        return [host] if host else None
    labels = host.rstrip(".").lower().split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


# -- programs started --------------------------------------------------------------------
def spawned(event: str, args: Sequence[Any]) -> tuple[str, list[str], list[str] | None] | None:
    """(program, argv, environment as KEY=VALUE or None when inherited) of a program the
    event starts."""
    if event == "os.system":
        command = text(_arg(args, 0)) or ""
        return _SHELL, ["sh", "-c", command], None
    where = _SPAWN.get(event)
    if where is None:
        return None
    program_at, argv_at, env_at = where
    argv = _argv(_arg(args, argv_at))
    program = text(_arg(args, program_at)) if program_at is not None else None
    if not program:
        program = argv[0] if argv else ""
    return program, argv, _environment(_arg(args, env_at))


def _argv(value: Any) -> list[str]:
    if type(value) is protocol.Cut:
        value = value.value
    if type(value) in (list, tuple):
        return [t if t is not None else str(v) for v in value for t in (text(v),)]
    found = text(value)
    return [found] if found is not None else []


def _environment(value: Any) -> list[str] | None:
    if type(value) is protocol.Cut:
        value = value.value
    if type(value) is dict:
        return [f"{text(k) or k}={text(v) or v}" for k, v in value.items()]
    if type(value) in (list, tuple):
        return [t for v in value for t in (text(v),) if t is not None]
    return None


# -- loader variables ----------------------------------------------------------------------
LOADER_VARIABLES = ("LD_PRELOAD", "LD_AUDIT")


def loader_libraries(event: str, args: Sequence[Any]) -> list[str] | None:
    """The libraries a loader variable (LD_PRELOAD, LD_AUDIT) is set to by ``os.putenv``,
    or given to a program started, auditmon's own preload library left out (``auditmon
    run`` puts it there: a program that copies its environment passes it on); None where
    the event sets none."""
    values = []
    if event == "os.putenv":
        if text(_arg(args, 0)) in LOADER_VARIABLES:
            values.append(text(_arg(args, 1)) or "")
    else:
        found = spawned(event, args)
        for entry in (found[2] or ()) if found is not None else ():
            key, _, value = entry.partition("=")
            if key in LOADER_VARIABLES:
                values.append(value)
    own = _own_preload_library()
    libraries = [lib for v in values for lib in re.split(r"[: ]", v) if lib and lib != own]
    return libraries or None


_OWN: list[str | None] = []


def _own_preload_library() -> str | None:
    """This installation's preload library (the one ``auditmon run`` injects)."""
    if not _OWN:
        try:
            _OWN.append(str(agent_dir() / protocol.agent_constants.PRELOAD_LIBRARY))
        except FileNotFoundError:
            _OWN.append(None)
    return _OWN[0]


# -- code objects and stacks -------------------------------------------------------------
_CODE = re.compile(r"^code (?P<name>.*) at (?P<file>.*):(?P<line>\d+)$")


def code_file(value: Any) -> str | None:
    """The file of a code object the agent described (``code f at file.py:12``)."""
    if type(value) is protocol.Described:
        found = _CODE.match(value.text)
        return found.group("file") if found else None
    return None


_STDLIB = re.compile(r"/lib/python\d+(?:\.\d+)?t?/(?!site-packages/|dist-packages/)")


def in_stdlib(file: str) -> bool:
    """A frame of the standard library (or the interpreter's frozen modules)."""
    return file.startswith("<frozen ") or _STDLIB.search(file) is not None


def program_frame(stack: Sequence[Sequence[Any]] | None) -> Sequence[Any] | None:
    """The innermost frame outside the standard library: the line of the program (or of
    a third-party package) that raised the event; the innermost frame if all are."""
    if not stack:
        return None
    for frame in stack:
        if frame and type(frame[0]) is str and not in_stdlib(frame[0]):
            return frame
    return stack[0]


def frame_text(frame: Sequence[Any] | None) -> str | None:
    """``file:line (function)``."""
    if not frame or len(frame) < 3:
        return None
    return f"{frame[0]}:{frame[1]} ({frame[2]})"
