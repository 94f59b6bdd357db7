"""The agent's start in a process already running, which ``auditmon attach`` brought it
into (_auditmon_bootstrap.inject): the package's ``start_injected``."""

import os
from _thread import get_ident as _get_ident

from . import core
from .config import Config
from .constants import ENV_MODE, MODE_ATTACH


def start(agent_dir, settings, report):
    """Start the agent in attach mode in a process already running (``settings``: the
    ``AUDITMON_*`` values ``auditmon env`` gives), and ``report`` how it went in one
    line, as the agent's own doing (unrecorded).

    The process's environment gets the same settings, and the agent's directory at the
    front of ``PYTHONPATH``, so that the Python processes it starts from now on carry the
    agent too, as under ``auditmon env``.  An agent already running is left as it is.
    Unlike theirs, this agent keeps nothing for the next monitor once the last one has
    gone: its hook pauses (an audit hook can't be removed) until a monitor attaches."""
    tid = _get_ident()
    if core.AGENT.installed:
        core.AGENT.hush(tid)
        try:
            report("ok: the agent was already running")
        finally:
            core.AGENT.unhush(tid)
        return
    config = Config(dict(settings, **{ENV_MODE: MODE_ATTACH}))
    core.AGENT.injected = True  # its hook pauses once no monitor watches (attach.py)
    core.start(config, None)  # its hook is added last: it sees none of the start
    core.AGENT.hush(tid)  # what this thread does next is the agent's own
    try:
        core.AGENT.start_time = _process_start() or core.AGENT.start_time
        for key, value in settings.items():
            os.environ[key] = value
        paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        if agent_dir not in paths:
            os.environ["PYTHONPATH"] = os.pathsep.join([agent_dir] + paths)
        report("ok: %s agent" % ("native" if core.AGENT.native is not None else "python"))
    finally:
        core.AGENT.unhush(tid)


def _process_start():
    """When this process started (epoch seconds, from /proc), or None."""
    try:
        with open("/proc/self/stat") as stat:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as machine:
            boot = next(int(line.split()[1]) for line in machine if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None
