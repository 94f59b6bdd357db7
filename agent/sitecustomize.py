"""auditmon's agent bootstrap: found first on PYTHONPATH, so Python imports it at start.

It takes its own directory back off ``sys.path`` (so it shadows nothing else), finds the
``sitecustomize`` it shadowed, starts the agent when the ``AUDITMON_*`` environment asks
for it, and then runs the shadowed module as Python would have.  Only that last step
happens under the hook: the rest is the agent's own doing, not the target's.
``PYTHONPATH`` stays in the environment, so child processes load the agent.

Where auditmon's preload library is in the process too (LD_PRELOAD: agent/preload/),
its bootstrap hook has kept the events raised before this module was imported (the
interpreter's own start-up imports): this module asks for them and hands them to the
agent, which numbers them first.  Where PYTHONPATH does not bring this module in, the
bootstrap hook starts the agent itself (_auditmon_bootstrap.py); never both.

Every process started under auditmon pays for this module, so it does the least it can:
plain run mode starts in the C extension (``_auditmon_native``), and the agent's Python
package is loaded only where that is not enough, or later, when first needed.
"""

import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
# The settings' names and values are constants.py's (ENV_*, MODE_*, AGENT_PYTHON,
# EARLY_EVENTS), as literals: importing it would load the agent's package, which plain
# run mode never does.  tests/test_constants.py checks that they agree.
_MODES = ("run", "attach")
_EARLY_EVENTS = "auditmon.early_events"


def _debug():
    if os.environ.get("AUDITMON_DEBUG"):
        import traceback

        traceback.print_exc()


def _native():
    """The agent's C extension, unless the pure-Python agent is asked for (or it was not
    built for this interpreter).  Loaded from where it must be, as import would load it
    but without searching ``sys.meta_path`` and ``sys.path`` for it (a tenth of a
    millisecond at every start)."""
    if os.environ.get("AUDITMON_AGENT") == "python":
        return None
    try:
        import _frozen_importlib
        import _frozen_importlib_external
        import _imp

        name = "_auditmon_native"
        path = os.path.join(_here, name + _imp.extension_suffixes()[0])
        loader = _frozen_importlib_external.ExtensionFileLoader(name, path)
        spec = _frozen_importlib.ModuleSpec(name, loader, origin=path)
        spec.has_location = True  # a __file__, as import gives
        module = _frozen_importlib.module_from_spec(spec)
        loader.exec_module(module)
        sys.modules[name] = module
        return module
    except ImportError:
        return None


def _started():
    """Whether the agent runs already: the preload library's bootstrap hook starts it
    before the program's first audit hook, which a .pth file may add before site imports
    this module."""
    native = sys.modules.get("_auditmon_native")
    if native is not None and native.agent() is not None:
        return True
    core = sys.modules.get("_auditmon_agent.core")
    return core is not None and core.AGENT.installed


def _early_events():
    """What the preload library's bootstrap hook kept of this process's events until
    now, ``(events, dropped)``; None where it is not in this process.  The request is an
    audit event: no audit hook of the program's exists yet (the bootstrap hook would have
    started the agent before it), and the agent's is not installed."""
    reply = []
    sys.audit(_EARLY_EVENTS, reply)
    return reply[0] if reply else None


def _unshadow():
    def same(entry):
        if entry == _here:
            return True
        if entry[:1] == "/":  # site made absolute entries absolute and normal already
            return False
        try:
            return os.path.abspath(entry or os.curdir) == _here
        except Exception:
            return False

    sys.path[:] = [entry for entry in sys.path if not same(entry)]


def _shadowed_spec():
    # The import system's own (frozen, already loaded) modules: importing importlib's
    # public wrappers would cost the target several milliseconds at start-up.
    try:
        import _frozen_importlib_external

        return _frozen_importlib_external.PathFinder.find_spec("sitecustomize", sys.path)
    except Exception:
        _debug()
        return None


# The extension's load_package (native/adopt.c) does the same from C: it keeps this
# directory, not this function, which would keep this module's globals alive to the
# end.  Change both.
def _load_package():
    """The agent's Python package, from this directory (no longer on ``sys.path``)."""
    package = sys.modules.get("_auditmon_agent")
    if package is None:
        import _frozen_importlib
        import _frozen_importlib_external

        # The spec PathFinder.find_spec("_auditmon_agent", [_here]) gives, without a
        # finder for this directory (and its listing) made first.
        name = "_auditmon_agent"
        folder = os.path.join(_here, name)
        path = os.path.join(folder, "__init__.py")
        loader = _frozen_importlib_external.SourceFileLoader(name, path)
        spec = _frozen_importlib.ModuleSpec(name, loader, origin=path, is_package=True)
        spec.submodule_search_locations.append(folder)
        spec.has_location = True  # a __file__ and a __cached__, as import gives
        package = _frozen_importlib._load(spec)  # as import does: locked, in sys.modules
    return package


def _start_agent(native, early):
    try:
        if native is not None and native.start_run(_here, early):
            return
        _load_package().start_from_environment(early)
    except Exception:
        _debug()


def _run_shadowed(spec):
    import _frozen_importlib

    module = _frozen_importlib.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


_active = os.environ.get("AUDITMON_MODE") in _MODES and not _started()
_early = _early_events() if _active else None  # first: what follows is the agent's own
_extension = _native() if _active else None  # found here, before leaving sys.path
_unshadow()
_spec = _shadowed_spec()
if _active:
    _start_agent(_extension, _early)
del _early  # the arguments of the kept events are not this module's to keep alive
if _spec is not None and _spec.loader is not None:
    _run_shadowed(_spec)
