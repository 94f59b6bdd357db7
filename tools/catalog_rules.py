"""The catalog's rules: categories, risk levels and the per-event choices that
tools/build_catalog.py applies to the CPython audit events table.  Data only."""

from __future__ import annotations

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
