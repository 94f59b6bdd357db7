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

# --------------------------------------------------------------------------------------
# Categories, in display order.  ``prefixes`` classify events that are not in the
# catalog (and the catalog events that have no entry in CATEGORY_BY_NAME): the longest
# matching prefix wins.  A prefix matches a name equal to it or starting with it.
# --------------------------------------------------------------------------------------
CATEGORIES: list[dict[str, object]] = [
    {
        "name": "process",
        "title": "Processes",
        "color": "#e5534b",
        "description": "Starting, replacing, forking or signalling processes, and starting "
        "threads.",
        "prefixes": [
            "subprocess.",
            "os.exec",
            "os.spawn",
            "os.posix_spawn",
            "os.fork",
            "os.system",
            "os.kill",
            "os.killpg",
            "os.wait",
            "signal.",
            "pty.",
            "_thread.",
            "threading.",
            "multiprocessing.",
        ],
    },
    {
        "name": "code",
        "title": "Code loading",
        "color": "#d9822b",
        "description": "Compiling, executing and importing code, and deserialising data "
        "that can carry code (marshal, pickle).",
        "prefixes": [
            "code.",
            "function.",
            "marshal.",
            "pickle.",
            "_pickle.",
            "cpython.run_",
            "cpython.remote_debugger_script",
            "sys.remote_exec",
            "importlib.",
            "runpy.",
            "zipimport.",
            "ensurepip.",
            "shelve.",
        ],
    },
    {
        "name": "native",
        "title": "Native code",
        "color": "#c652c9",
        "description": "Loading shared libraries, calling foreign functions and touching "
        "raw memory (ctypes, mmap, SQLite extensions).",
        "prefixes": [
            "ctypes.",
            "_ctypes.",
            "mmap.",
            "cffi.",
            "os.add_dll_directory",
            "sqlite3.enable_load_extension",
            "sqlite3.load_extension",
        ],
    },
    {
        "name": "network",
        "title": "Network",
        "color": "#4a8fe7",
        "description": "Sockets, name resolution and the internet protocol clients "
        "(HTTP, FTP, SMTP, IMAP, POP3, NNTP, Telnet), URLs and web browsers.",
        "prefixes": [
            "socket.",
            "_socket.",
            "ssl.",
            "_ssl.",
            "http.",
            "urllib.",
            "ftplib.",
            "smtplib.",
            "imaplib.",
            "poplib.",
            "nntplib.",
            "telnetlib.",
            "webbrowser.",
            "xmlrpc.",
        ],
    },
    {
        "name": "filesystem",
        "title": "Files",
        "color": "#3fa35b",
        "description": "Opening, listing, creating, changing and removing files and "
        "directories, file locks and temporary files.",
        "prefixes": [
            "os.",
            "io.",
            "_io.",
            "shutil.",
            "glob.",
            "pathlib.",
            "tempfile.",
            "fcntl.",
            "zipfile.",
            "tarfile.",
            "sqlite3.",
            "dbm.",
            "fileinput.",
        ],
    },
    {
        "name": "environment",
        "title": "Environment",
        "color": "#2aa198",
        "description": "Process-wide settings: environment variables, the working "
        "directory, resource limits, locale and system configuration.",
        "prefixes": [
            "os.putenv",
            "os.unsetenv",
            "os.chdir",
            "os.fchdir",
            "os.chroot",
            "os.umask",
            "resource.",
            "sysconfig.",
            "locale.",
        ],
    },
    {
        "name": "introspection",
        "title": "Introspection",
        "color": "#8e7cd8",
        "description": "Looking into the running interpreter: frames, object identity and "
        "attributes, the garbage collector, tracing, profiling and debuggers.",
        "prefixes": [
            "object.",
            "gc.",
            "sys._getframe",
            "sys._current_",
            "sys.settrace",
            "sys.setprofile",
            "sys.monitoring.",
            "pdb.",
            "bdb.",
            "builtins.breakpoint",
            "builtins.id",
        ],
    },
    {
        "name": "interpreter",
        "title": "Interpreter",
        "color": "#c9a227",
        "description": "The interpreter's own life cycle and hooks: interpreter states, "
        "audit, exception and async-generator hooks, open-code hooks.",
        "prefixes": [
            "cpython.",
            "sys.",
            "_interpreters.",
            "_xxsubinterpreters.",
            "interpreters.",
        ],
    },
    {
        "name": "windows",
        "title": "Windows",
        "color": "#1ba1c4",
        "description": "Windows-only APIs: the registry, the C runtime (msvcrt), "
        "_winapi process and pipe calls, os.startfile.",
        "prefixes": ["winreg.", "_winreg.", "msvcrt.", "_winapi.", "winsound.", "os.startfile"],
    },
    {
        "name": "other",
        "title": "Other",
        "color": "#8a8f98",
        "description": "Everything else: console input, arrays, the system log, sleeping, "
        "and events from third-party code.",
        "prefixes": ["builtins.", "array.", "syslog.", "time."],
    },
]

# Catalog events that have no dotted prefix (the prefixes above cover all the others).
CATEGORY_BY_NAME: dict[str, str] = {
    "compile": "code",
    "exec": "code",
    "import": "code",
    "open": "filesystem",
    "setopencodehook": "interpreter",
}

# --------------------------------------------------------------------------------------
# Risk: a default per category, then per-event exceptions.  See the module docstring.
# --------------------------------------------------------------------------------------
RISK_LEVELS: list[dict[str, str]] = [
    {
        "name": "info",
        "description": "Looks at state inside the interpreter and changes nothing outside "
        "it (object identity, attribute access, frames, the garbage collector). Usually "
        "high-volume and harmless.",
    },
    {
        "name": "notice",
        "description": "Ordinary contact with the world outside the process: reading and "
        "listing files, imports, removing or renaming files, name lookups, environment "
        "variables, forking. Worth seeing; not suspicious by itself.",
    },
    {
        "name": "warning",
        "description": "Crosses a trust boundary or is a common attack step: runs another "
        "program, loads native code or reads raw memory, turns data into code or objects "
        "(exec, compile, marshal, pickle), opens network connections or listening "
        "sockets, changes the interpreter's audit/trace/profile hooks or persistent system "
        "configuration. An open() that writes is raised to warning at run time.",
    },
]

RISK_BY_CATEGORY: dict[str, str] = {
    "process": "warning",
    "code": "notice",
    "native": "warning",
    "network": "notice",
    "filesystem": "notice",
    "environment": "notice",
    "introspection": "info",
    "interpreter": "notice",
    "windows": "notice",
    "other": "info",
}

RISK_BY_NAME: dict[str, str] = {
    # process: forking and threads are routine; exec/spawn/system/kill stay warning.
    "os.fork": "notice",
    "os.forkpty": "notice",
    "_thread.start_new_thread": "notice",
    "signal.pthread_kill": "notice",
    # code: creating or running code from data.
    "exec": "warning",
    "compile": "warning",
    "code.__new__": "warning",
    "marshal.load": "warning",
    "marshal.loads": "warning",
    "marshal.dumps": "info",
    "pickle.find_class": "warning",
    # native: harmless bookkeeping vs. loading code and raw memory.
    "ctypes.addressof": "info",
    "ctypes.create_string_buffer": "info",
    "ctypes.create_unicode_buffer": "info",
    "ctypes.get_errno": "info",
    "ctypes.set_errno": "info",
    "ctypes.get_last_error": "info",
    "ctypes.set_last_error": "info",
    "ctypes.set_exception": "notice",
    "ctypes.dlsym": "notice",
    "ctypes.dlsym/handle": "notice",
    "ctypes.cdata/buffer": "notice",
    "mmap.__new__": "notice",
    # network: connecting, listening and fetching are warnings; lookups and sends notice.
    "socket.connect": "warning",
    "socket.bind": "warning",
    "socket.sethostname": "warning",
    "socket.gethostname": "info",
    "http.client.connect": "warning",
    "ftplib.connect": "warning",
    "smtplib.connect": "warning",
    "poplib.connect": "warning",
    "imaplib.open": "warning",
    "urllib.Request": "warning",
    "webbrowser.open": "warning",
    # introspection: hooks into every frame of the program.
    "sys.settrace": "warning",
    "sys.setprofile": "warning",
    "builtins.breakpoint": "notice",
    "pdb.Pdb": "notice",
    # interpreter: replacing the audit machinery itself.
    "sys.addaudithook": "warning",
    "setopencodehook": "warning",
    # windows
    "os.startfile": "warning",
    "os.startfile/2": "warning",
    "_winapi.CreateProcess": "warning",
    "_winapi.OpenProcess": "warning",
    "_winapi.TerminateProcess": "warning",
    "winreg.ConnectRegistry": "warning",
    "winreg.CreateKey": "warning",
    "winreg.DeleteKey": "warning",
    "winreg.DeleteValue": "warning",
    "winreg.LoadKey": "warning",
    "winreg.SaveKey": "warning",
    "winreg.SetValue": "warning",
    "winreg.OpenKey/result": "info",
    "winreg.PyHKEY.Detach": "info",
    "msvcrt.get_osfhandle": "info",
    # other
    "builtins.input": "notice",
    "builtins.input/result": "notice",
    "syslog.openlog": "notice",
    "syslog.syslog": "notice",
}

# --------------------------------------------------------------------------------------
# The CPython version whose audit hooks first raised an event.  Everything else is 3.8
# (PEP 578), including events that 3.8 point releases gained (early 2020).  Only versions
# backed by the docs' version notes, the function's own "added in" version or the CPython
# change that added the event are listed.
# --------------------------------------------------------------------------------------
ADDED: dict[str, str] = {
    "glob.glob/2": "3.10",  # root_dir/dir_fd arguments are new in 3.10
    "os.startfile/2": "3.10",  # arguments/cwd/show_cmd are new in 3.10
    "sys._current_exceptions": "3.10",  # the function is new in 3.10 (bpo-41435)
    "sqlite3.connect/handle": "3.10",  # "Changed in version 3.10: Added the ... event"
    "sqlite3.enable_load_extension": "3.10",  # same note in the sqlite3 docs
    "sqlite3.load_extension": "3.10",  # same note in the sqlite3 docs
    "_thread.start_new_thread": "3.12",  # gh-99377
    "sys._getframemodulename": "3.12",  # the function is new in 3.12
    "os.listdrives": "3.12",  # the functions are new in 3.12
    "os.listmounts": "3.12",
    "os.listvolumes": "3.12",
    "time.sleep": "3.13",  # "Changed in version 3.13: Raises an auditing event."
}

# Names CPython raises at run time that differ from the documented name.  The docs
# list sys.set_asyncgen_hooks_*, but sys.set_asyncgen_hooks() raises the singular form.
ALIASES: dict[str, str] = {
    "sys.set_asyncgen_hook_firstiter": "sys.set_asyncgen_hooks_firstiter",
    "sys.set_asyncgen_hook_finalizer": "sys.set_asyncgen_hooks_finalizer",
}

# --------------------------------------------------------------------------------------
# One-line English summaries.  Events missing here get one derived from the name.
# --------------------------------------------------------------------------------------
SUMMARIES: dict[str, str] = {
    "_thread.start_new_thread": "A new OS thread is being started (threading.Thread.start).",
    "array.__new__": "An array.array is being created.",
    "builtins.breakpoint": "breakpoint() was called and is about to enter the debugger hook.",
    "builtins.id": "id() was called on an object.",
    "builtins.input": "input() is about to prompt the user.",
    "builtins.input/result": "input() returned a line read from the user.",
    "code.__new__": "A code object is being built directly (types.CodeType(...)).",
    "compile": "Source code or an AST is being compiled to a code object.",
    "cpython.PyInterpreterState_Clear": "An interpreter state is being cleared.",
    "cpython.PyInterpreterState_New": "A new interpreter state (e.g. a subinterpreter) is "
    "being created.",
    "cpython._PySys_ClearAuditHooks": "The interpreter is finalizing and clearing its audit hooks.",
    "cpython.run_command": "The interpreter is running a -c command.",
    "cpython.run_file": "The interpreter is running a script file as __main__.",
    "cpython.run_interactivehook": "The interactive-mode hook (sys.__interactivehook__) is "
    "about to run.",
    "cpython.run_module": "The interpreter is running a module with -m.",
    "cpython.run_startup": "The interactive interpreter is running the PYTHONSTARTUP file.",
    "cpython.run_stdin": "The interpreter is reading a program from standard input or "
    "starting the REPL.",
    "ctypes.addressof": "ctypes.addressof() asked for the address of a C data object.",
    "ctypes.call_function": "A foreign (C) function is being called through ctypes.",
    "ctypes.cdata": "A ctypes object is being created over an arbitrary memory address "
    "(from_address).",
    "ctypes.cdata/buffer": "A ctypes object is being created over an existing buffer.",
    "ctypes.create_string_buffer": "A mutable C char buffer is being created.",
    "ctypes.create_unicode_buffer": "A mutable C wchar_t buffer is being created.",
    "ctypes.dlopen": "A shared library is being loaded (CDLL, LoadLibrary).",
    "ctypes.dlsym": "A symbol is being looked up in a loaded shared library.",
    "ctypes.dlsym/handle": "A symbol is being looked up through a raw library handle.",
    "ctypes.get_errno": "ctypes' private copy of errno is being read.",
    "ctypes.get_last_error": "ctypes' private copy of the Windows last error is being read.",
    "ctypes.set_errno": "ctypes' private copy of errno is being set.",
    "ctypes.set_exception": "A foreign function raised a Windows structured exception.",
    "ctypes.set_last_error": "ctypes' private copy of the Windows last error is being set.",
    "ctypes.string_at": "Raw memory at an address is being read as a byte string.",
    "ctypes.wstring_at": "Raw memory at an address is being read as a wide string.",
    "ensurepip.bootstrap": "ensurepip is installing pip into an environment.",
    "exec": "A code object is being executed (exec(), eval(), module execution on import).",
    "fcntl.fcntl": "fcntl() is performing a control operation on a file descriptor.",
    "fcntl.flock": "flock() is locking or unlocking a file.",
    "fcntl.ioctl": "ioctl() is sending a device-specific request to a file descriptor.",
    "fcntl.lockf": "lockf() is locking or unlocking part of a file.",
    "ftplib.connect": "An FTP client is connecting to a server.",
    "ftplib.sendcmd": "An FTP client is sending a command.",
    "function.__new__": "A function object is being built directly (types.FunctionType(...)).",
    "gc.get_objects": "gc.get_objects() is listing objects tracked by the garbage collector.",
    "gc.get_referents": "gc.get_referents() is listing the objects an object refers to.",
    "gc.get_referrers": "gc.get_referrers() is searching for objects that refer to an object.",
    "glob.glob": "A filename pattern is being expanded (glob, iglob).",
    "glob.glob/2": "A filename pattern is being expanded relative to a directory.",
    "http.client.connect": "An HTTP client connection is being opened.",
    "http.client.send": "Data is being sent over an HTTP client connection.",
    "imaplib.open": "An IMAP4 client is connecting to a server.",
    "imaplib.send": "Data is being sent to an IMAP4 server.",
    "import": "A module is being imported.",
    "marshal.dumps": "An object is being serialised with marshal.",
    "marshal.load": "Data is being deserialised with marshal.load() from a file.",
    "marshal.loads": "Bytes are being deserialised with marshal (can yield code objects).",
    "mmap.__new__": "A file or anonymous memory region is being memory-mapped.",
    "msvcrt.get_osfhandle": "The Windows handle behind a C file descriptor is being looked up.",
    "msvcrt.locking": "A region of a file is being locked or unlocked (Windows).",
    "msvcrt.open_osfhandle": "A C file descriptor is being created from a Windows handle.",
    "object.__delattr__": "An attribute of a type or special attribute is being deleted.",
    "object.__getattr__": "A restricted attribute (e.g. a frame or code internal) is being read.",
    "object.__setattr__": "An attribute of a type or special attribute is being set.",
    "open": "A file is being opened (open(), io.open(), os.open()).",
    "os.add_dll_directory": "A directory is being added to the DLL search path (Windows).",
    "os.chdir": "The current working directory is changing.",
    "os.chflags": "File flags are being changed (chflags, lchflags).",
    "os.chmod": "File permissions are being changed.",
    "os.chown": "File ownership is being changed.",
    "os.exec": "The process is being replaced by another program (os.exec*).",
    "os.fork": "The process is forking.",
    "os.forkpty": "The process is forking with a new pseudo-terminal.",
    "os.fwalk": "A directory tree is being walked with file descriptors (os.fwalk).",
    "os.getxattr": "An extended file attribute is being read.",
    "os.kill": "A signal is being sent to a process.",
    "os.killpg": "A signal is being sent to a process group.",
    "os.link": "A hard link is being created.",
    "os.listdir": "A directory is being listed.",
    "os.listdrives": "The drive letters of the system are being listed (Windows).",
    "os.listmounts": "The mount points of a volume are being listed (Windows).",
    "os.listvolumes": "The volumes of the system are being listed (Windows).",
    "os.listxattr": "The extended attributes of a file are being listed.",
    "os.lockf": "A region of an open file is being locked or unlocked.",
    "os.mkdir": "A directory is being created.",
    "os.posix_spawn": "A new program is being started with posix_spawn.",
    "os.putenv": "An environment variable is being set.",
    "os.remove": "A file is being deleted.",
    "os.removexattr": "An extended file attribute is being removed.",
    "os.rename": "A file or directory is being renamed or moved.",
    "os.rmdir": "A directory is being removed.",
    "os.scandir": "A directory is being scanned (os.scandir).",
    "os.setxattr": "An extended file attribute is being set.",
    "os.spawn": "A new program is being started with os.spawn* (Windows).",
    "os.startfile": "A file is being opened with its associated application (Windows).",
    "os.startfile/2": "A file is being opened with its associated application, with "
    "arguments (Windows).",
    "os.symlink": "A symbolic link is being created.",
    "os.system": "A shell command is being run with os.system().",
    "os.truncate": "A file is being truncated or extended to a given length.",
    "os.unsetenv": "An environment variable is being removed.",
    "os.utime": "File access and modification times are being set.",
    "os.walk": "A directory tree is being walked (os.walk).",
    "pathlib.Path.glob": "A pathlib glob pattern is being expanded.",
    "pathlib.Path.rglob": "A recursive pathlib glob pattern is being expanded.",
    "pdb.Pdb": "A pdb debugger instance is being created.",
    "pickle.find_class": "An unpickler is resolving a global (module, name): the step "
    "that lets pickles call code.",
    "poplib.connect": "A POP3 client is connecting to a server.",
    "poplib.putline": "A line is being sent to a POP3 server.",
    "pty.spawn": "A program is being started on a new pseudo-terminal.",
    "resource.prlimit": "A process's resource limits are being read or changed.",
    "resource.setrlimit": "This process's resource limits are being changed.",
    "setopencodehook": "A hook for io.open_code() (how code files are opened) is being installed.",
    "shutil.chown": "File ownership is being changed by user or group name.",
    "shutil.copyfile": "A file's contents are being copied.",
    "shutil.copymode": "Permission bits are being copied from one file to another.",
    "shutil.copystat": "Permissions, times and flags are being copied between files.",
    "shutil.copytree": "A directory tree is being copied.",
    "shutil.make_archive": "An archive (zip, tar) is being created.",
    "shutil.move": "A file or directory is being moved.",
    "shutil.rmtree": "A directory tree is being deleted.",
    "shutil.unpack_archive": "An archive is being extracted.",
    "signal.pthread_kill": "A signal is being sent to a thread of this process.",
    "smtplib.connect": "An SMTP client is connecting to a server.",
    "smtplib.send": "Data is being sent to an SMTP server.",
    "socket.__new__": "A socket is being created.",
    "socket.bind": "A socket is being bound to a local address (e.g. to listen).",
    "socket.connect": "A socket is connecting to a remote address.",
    "socket.getaddrinfo": "A host name and port are being resolved (getaddrinfo).",
    "socket.gethostbyaddr": "An IP address is being resolved to a host name.",
    "socket.gethostbyname": "A host name is being resolved to an IP address.",
    "socket.gethostname": "The machine's host name is being read.",
    "socket.getnameinfo": "A socket address is being resolved to host and service names.",
    "socket.getservbyname": "A service name is being resolved to a port number.",
    "socket.getservbyport": "A port number is being resolved to a service name.",
    "socket.sendmsg": "A message is being sent on a socket to an explicit address.",
    "socket.sendto": "A datagram is being sent on a socket to an explicit address.",
    "socket.sethostname": "The machine's host name is being changed.",
    "sqlite3.connect": "A SQLite database is being opened.",
    "sqlite3.connect/handle": "A SQLite connection was opened and its handle is available.",
    "sqlite3.enable_load_extension": "Loading of SQLite extensions is being enabled or disabled.",
    "sqlite3.load_extension": "A SQLite extension (a shared library) is being loaded.",
    "subprocess.Popen": "A child process is being started with subprocess.Popen.",
    "sys._current_exceptions": "The current exception of every thread is being read.",
    "sys._current_frames": "The current frame of every thread is being read.",
    "sys._getframe": "A frame object is being taken from the call stack.",
    "sys._getframemodulename": "The module name of a caller's frame is being looked up.",
    "sys.addaudithook": "A new audit hook is being added.",
    "sys.excepthook": "An uncaught exception is being handled by sys.excepthook.",
    "sys.set_asyncgen_hooks_finalizer": "The async-generator finalizer hook is being set.",
    "sys.set_asyncgen_hooks_firstiter": "The async-generator first-iteration hook is being set.",
    "sys.setprofile": "A profile function is being installed or removed.",
    "sys.settrace": "A trace function is being installed or removed.",
    "sys.unraisablehook": "An unraisable exception is being handled by sys.unraisablehook.",
    "syslog.closelog": "The connection to the system log is being closed.",
    "syslog.openlog": "A connection to the system log is being opened.",
    "syslog.setlogmask": "The system log priority mask is being changed.",
    "syslog.syslog": "A message is being written to the system log.",
    "tempfile.mkdtemp": "A temporary directory is being created.",
    "tempfile.mkstemp": "A temporary file is being created.",
    "time.sleep": "The thread is going to sleep.",
    "urllib.Request": "A URL is being opened with urllib.request.",
    "webbrowser.open": "A URL is being opened in a web browser.",
    "winreg.ConnectRegistry": "A registry handle on this or a remote computer is being opened.",
    "winreg.CreateKey": "A registry key is being created or opened.",
    "winreg.DeleteKey": "A registry key is being deleted.",
    "winreg.DeleteValue": "A registry value is being deleted.",
    "winreg.DisableReflectionKey": "Registry reflection is being disabled for a key.",
    "winreg.EnableReflectionKey": "Registry reflection is being re-enabled for a key.",
    "winreg.EnumKey": "The subkeys of a registry key are being enumerated.",
    "winreg.EnumValue": "The values of a registry key are being enumerated.",
    "winreg.ExpandEnvironmentStrings": "Environment variables in a string are being expanded.",
    "winreg.LoadKey": "Registry data is being loaded from a file into a key.",
    "winreg.OpenKey": "A registry key is being opened.",
    "winreg.OpenKey/result": "A registry key was opened or created; this is its handle.",
    "winreg.PyHKEY.Detach": "A registry handle is being detached from its Python object.",
    "winreg.QueryInfoKey": "Information about a registry key is being read.",
    "winreg.QueryReflectionKey": "The reflection state of a registry key is being read.",
    "winreg.QueryValue": "A registry value is being read.",
    "winreg.SaveKey": "A registry key is being saved to a file.",
    "winreg.SetValue": "A registry value is being written.",
    "_winapi.CreateFile": "A file or device is being opened with CreateFile (internal).",
    "_winapi.CreateJunction": "An NTFS directory junction is being created (internal).",
    "_winapi.CreateNamedPipe": "A named pipe is being created (internal).",
    "_winapi.CreatePipe": "An anonymous pipe is being created (internal).",
    "_winapi.CreateProcess": "A child process is being created with CreateProcess "
    "(internal, subprocess on Windows).",
    "_winapi.OpenProcess": "A handle to another process is being opened (internal).",
    "_winapi.TerminateProcess": "A process is being terminated (internal).",
    "ctypes.PyObj_FromPtr": "A raw address is being turned back into a Python object (internal).",
}

# Hugo page slugs that are not the real docs page name (dots became underscores).
PAGE_SLUGS: dict[str, str] = {
    "http_client": "http.client",
    "urllib_request": "urllib.request",
}

# Hugo top-level folders -> docs.python.org folders.
SECTIONS: dict[str, str] = {
    "library": "library",
    "c_api": "c-api",
    "c-api": "c-api",
    "reference": "reference",
    "using": "using",
    "tutorial": "tutorial",
    "howto": "howto",
    "extending": "extending",
    "faq": "faq",
}

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
