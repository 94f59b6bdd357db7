"""The auditmon agent: an audit hook that streams a process's events to auditmon.

Stdlib only, CPython 3.8+ syntax, and it imports nothing from auditmon: it runs inside
the monitored program, whose interpreter may have none of auditmon's dependencies.
"""

import os
import sys


def load_own(*names):
    """Load these modules of this package, in this order (each after those it imports),
    from this package's folder as import would load them, but without searching
    ``sys.meta_path`` for each (in a process's start-up, the search costs as much as
    the loading), and from the cached bytecode by the shortest way (``_cached_code``)
    where it is up to date.  A module already loaded is left as it is; one that fails
    to load is left to the import statement that needs it, which says why."""
    import _frozen_importlib
    import _frozen_importlib_external

    package = sys.modules[__name__]
    for name in names:
        full = __name__ + "." + name
        if full in sys.modules:
            continue
        path = os.path.join(__path__[0], name + ".py")
        spec = _frozen_importlib.ModuleSpec(
            full, _frozen_importlib_external.SourceFileLoader(full, path), origin=path
        )
        spec.has_location = True  # a __file__ and a __cached__, as import gives
        try:
            spec.cached = _frozen_importlib_external.cache_from_source(path)
            code = _cached_code(path, spec.cached, _frozen_importlib_external.MAGIC_NUMBER)
            with _frozen_importlib._ModuleLockManager(full):  # as import locks it
                module = sys.modules.get(full)
                if module is None:
                    module = _frozen_importlib.module_from_spec(spec)
                    module.__builtins__ = own_builtins()
                    sys.modules[full] = module
                    try:
                        if code is None:  # compiled (and cached) by import's own loader
                            spec.loader.exec_module(module)
                        else:
                            exec(code, module.__dict__)
                    except BaseException:
                        del sys.modules[full]
                        raise
        except Exception:
            return
        setattr(package, name, module)


_builtins = []  # [own_builtins']


def own_builtins():
    """The agent's modules' builtins: a copy of the interpreter's, made once.  Its
    teardown empties theirs before its last audit event (``cpython.
    PyInterpreterState_Clear``), which the Python hook records as the C hook does,
    with ``len`` and the rest still at hand; and what a program puts in the builtins
    (its own ``open``, say) is not the agent's to call."""
    if not _builtins:
        import builtins

        _builtins.append(dict(builtins.__dict__))
    return _builtins[0]


def _cached_code(path, cached, magic):
    """The code object in ``cached``, the bytecode import cached for the source file
    ``path``: None unless it is import's usual kind (stamped with the source's time and
    size, not a hash) and still matches the source.  Import's own loader would read
    it the same way, through a dozen more calls."""
    import marshal

    try:
        source = os.stat(path)
        fd = os.open(cached, os.O_RDONLY | os.O_CLOEXEC)
        try:
            size = os.fstat(fd).st_size
            data = os.read(fd, size)
        finally:
            os.close(fd)
    except OSError:
        return None
    if (
        len(data) != size
        or data[:4] != magic
        or data[4:8] != b"\0\0\0\0"  # flags: 0, stamped with the source's time and size
        or int.from_bytes(data[8:12], "little") != int(source.st_mtime) & 0xFFFFFFFF
        or int.from_bytes(data[12:16], "little") != source.st_size & 0xFFFFFFFF
    ):
        return None
    try:
        return marshal.loads(memoryview(data)[16:])
    except (EOFError, ValueError, TypeError):
        return None


def stdlib_extension(name):
    """The standard library's C module ``name`` (``_stdlib_spec``), a copy of the
    agent's own, left out of ``sys.modules``: the target's import finds what it would
    have found (its own ``resource.py`` beside its script, say)."""
    module = _own_copies.get(name)
    if module is None:
        spec = _stdlib_spec(name)
        module = _own_copy(spec) if spec is not None else None
        _own_copies[name] = module = module or __import__(name)
    return module


_own_copies = {}  # stdlib_extension's and own_extension's, by name


def stdlib_module(name):
    """The standard library's C module ``name`` (``_stdlib_spec``), in ``sys.modules``
    as import puts it: for names no program's file takes (``_socket``, ``_struct``)."""
    module = sys.modules.get(name)
    if module is None:
        spec = _stdlib_spec(name)
        if spec is not None:
            import _frozen_importlib

            try:
                return _frozen_importlib._load(spec)  # locked, in sys.modules, as import does
            except ImportError:
                pass
        module = __import__(name)
    return module


def _stdlib_spec(name):
    """The spec of module ``name``, built in or in the interpreter's ``lib-dynload``
    folder, or None (no such folder: import then).  Not searched for on ``sys.path``,
    where the target's folders may come first (a ``resource.py`` on its PYTHONPATH is
    not the agent's to run) and the search costs about as much as the loading."""
    if name in sys.builtin_module_names:
        import _frozen_importlib

        return _frozen_importlib.ModuleSpec(
            name, _frozen_importlib.BuiltinImporter, origin="built-in"
        )
    import _imp

    for entry in sys.path:
        if os.path.basename(entry) == "lib-dynload":
            return _extension_spec(name, os.path.join(entry, name + _imp.extension_suffixes()[0]))
    return None


def own_extension(name):
    """The agent's own C module ``name``, built for every CPython 3.8+ (the stable ABI:
    ``name.abi3.so`` beside this package), left out of ``sys.modules``; None where it
    was not built."""
    try:
        return _own_copies[name]
    except KeyError:
        path = os.path.join(os.path.dirname(__path__[0]), name + ".abi3.so")
        try:
            os.stat(path)  # (a stat costs less than the loader's failing to find it)
        except OSError:
            module = None
        else:
            module = _own_copy(_extension_spec(name, path))
        _own_copies[name] = module
        return module


def _extension_spec(name, path):
    import _frozen_importlib
    import _frozen_importlib_external

    loader = _frozen_importlib_external.ExtensionFileLoader(name, path)
    spec = _frozen_importlib.ModuleSpec(name, loader, origin=path)
    spec.has_location = True  # a __file__, as import gives
    return spec


def _own_copy(spec):
    """A module from ``spec``, not put in ``sys.modules`` (the one there, if from the
    same origin, is taken); None where it can't be loaded."""
    import _frozen_importlib

    name = spec.name
    before = sys.modules.get(name)
    if getattr(getattr(before, "__spec__", None), "origin", None) == spec.origin:
        return before
    try:
        module = _frozen_importlib.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    except ImportError:
        return None
    finally:  # a single-phase module puts itself in sys.modules: undo that
        if sys.modules.get(name, before) is not before:
            if before is None:
                del sys.modules[name]
            else:
                sys.modules[name] = before


def start_from_environment(early=None):
    """Start the agent if the environment asks for it; return whether it started.

    ``early``: ``(events, dropped)``, the events the preload library's bootstrap hook
    kept before the agent started, numbered first (see ``core.Agent.start``)."""
    load_own("constants", "config")
    from .config import Config

    config = Config()
    if not config.active or is_auditmon_itself():
        return False
    load_own("core")
    from . import core

    core.start(config, early)
    return True


def start_injected(agent_dir, settings, report):
    """Start the agent in attach mode in a process already running (``injected.start``
    says how): a module of its own, which no other start loads."""
    load_own("constants", "config", "core", "injected")
    from . import injected

    injected.start(agent_dir, settings, report)


def is_auditmon_itself():
    """True in auditmon's own processes, which must never monitor themselves.

    The extension's start makes the same check in C (auditmon_itself, native/start.c):
    change both; tests/test_agents_agree.py runs both."""
    from .constants import AUDITMON_COMMAND

    argv = list(getattr(sys, "orig_argv", None) or sys.argv or [])
    if argv and os.path.basename(argv[0]) == AUDITMON_COMMAND:
        return True
    for i, arg in enumerate(argv[:-1]):
        if arg == "-m" and argv[i + 1].split(".")[0] == AUDITMON_COMMAND:
            return True
    return False


def disable():
    """Stop recording in this process, for good."""
    native = sys.modules.get("_auditmon_native")
    if native is not None and native.agent() is not None:
        native.disable()  # run mode started in C (and adopted here, or not)
        return
    core = sys.modules.get(__name__ + ".core")
    if core is not None:
        core.disable()
