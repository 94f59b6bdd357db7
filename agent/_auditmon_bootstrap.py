"""The agent's start where sitecustomize did not start it: the preload library's bootstrap
hook (agent/preload/preload.c) calls ``start`` at the first safe point of an interpreter
that PYTHONPATH did not bring the agent into (-I, -E, -S, a PYTHONPATH replaced or
removed).

The hook runs this file's code in a namespace of its own: nothing of it stays in
``sys.modules``.  It imports only what every interpreter has loaded before its program
runs (built-in and frozen modules: under -S even ``os`` is not there, and the agent must
not bring in what site would have), then the agent itself, loaded as sitecustomize.py
loads it: change both.  Setting names and values are constants.py's, spelled out
(tests/test_constants.py checks them).
"""


def start(agent_dir, early):
    """Start the agent in this process, from ``agent_dir``, with ``early``, the events the
    bootstrap hook kept: ``(events, dropped)``."""
    import posix

    native = None
    if posix.environ.get(b"AUDITMON_AGENT") != b"python":
        native = _load_extension(agent_dir)
    if native is not None and native.start_run(agent_dir, early):
        return
    _load_package(agent_dir).start_from_environment(early)


def inject(agent_dir, settings, outcome):
    """Start the agent in attach mode in a process that is already running (the
    injection library's thread calls this with the GIL: ``auditmon attach`` on a process
    started without auditmon).  ``settings``: ``KEY=VALUE`` lines, the attach settings
    ``auditmon env`` would have given it; ``outcome``: the file that tells the monitor
    how it went."""
    environ = dict(line.split("=", 1) for line in settings.splitlines() if "=" in line)
    try:
        if environ.get("AUDITMON_AGENT") != "python":
            _load_extension(agent_dir)
        package = _load_package(agent_dir)
        package.start_injected(agent_dir, environ, lambda said: _write(outcome, said + "\n"))
    except Exception as error:  # everything: nothing may escape into the target
        _write(outcome, "error: %s: %s\n" % (type(error).__name__, error))


def _write(path, text):
    """``text`` to ``path`` whole, for a reader that waits for the file (0600)."""
    import posix

    temporary = path + ".tmp"
    fd = posix.open(temporary, posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC, 0o600)
    try:
        posix.write(fd, text.encode("utf-8", "surrogateescape"))
    finally:
        posix.close(fd)
    posix.rename(temporary, path)


def _load_extension(agent_dir):
    """The agent's C extension, where it was built for this interpreter, else None."""
    import _frozen_importlib
    import _frozen_importlib_external
    import _imp
    import sys

    name = "_auditmon_native"
    path = agent_dir + "/" + name + _imp.extension_suffixes()[0]
    loader = _frozen_importlib_external.ExtensionFileLoader(name, path)
    spec = _frozen_importlib.ModuleSpec(name, loader, origin=path)
    spec.has_location = True
    try:
        module = _frozen_importlib.module_from_spec(spec)
        loader.exec_module(module)
    except ImportError:
        return None
    sys.modules[name] = module
    return module


def _load_package(agent_dir):
    """The agent's Python package, from ``agent_dir`` (never on this ``sys.path``)."""
    import _frozen_importlib
    import _frozen_importlib_external
    import sys

    package = sys.modules.get("_auditmon_agent")
    if package is None:
        spec = _frozen_importlib_external.PathFinder.find_spec("_auditmon_agent", [agent_dir])
        package = _frozen_importlib._load(spec)
    return package
