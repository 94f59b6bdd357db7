"""auditmon's agent bootstrap: found first on PYTHONPATH, so Python imports it at start.

It loads the agent, takes its own directory back off ``sys.path`` (so it shadows nothing
else), finds the ``sitecustomize`` it shadowed, starts the agent when the ``AUDITMON_*``
environment asks for it, and then runs the shadowed module as Python would have.  Only
that last step happens under the hook: the rest is the agent's own doing, not the
target's.  ``PYTHONPATH`` stays in the environment, so child processes load the agent.
"""

import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))


def _debug():
    if os.environ.get("AUDITMON_DEBUG"):
        import traceback

        traceback.print_exc()


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


def _start_agent(agent):
    try:
        agent.start_from_environment()
    except Exception:
        _debug()


def _run_shadowed(spec):
    import _frozen_importlib

    module = _frozen_importlib.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


try:
    import _auditmon_agent
except Exception:
    _auditmon_agent = None
    _debug()
_unshadow()
_spec = _shadowed_spec()
if _auditmon_agent is not None:
    _start_agent(_auditmon_agent)
if _spec is not None and _spec.loader is not None:
    _run_shadowed(_spec)
