"""The agent's settings, read once from ``AUDITMON_*`` environment variables.

The monitor (``auditmon run`` or ``auditmon env``) writes them; the target inherits
them, and so do its children.
"""

import os

MODE = "AUDITMON_MODE"  # "run" or "attach"; anything else leaves the agent off
SOCKET = "AUDITMON_SOCKET"  # run mode: the monitor's socket
EVENTS = "AUDITMON_EVENTS"  # comma-separated globs: only these events
EXCLUDE = "AUDITMON_EXCLUDE"  # comma-separated globs: never these events
STACK = "AUDITMON_STACK"  # comma-separated globs: capture a stack for these events
STACK_DEPTH = "AUDITMON_STACK_DEPTH"
STRLEN = "AUDITMON_STRLEN"
QUEUE = "AUDITMON_QUEUE"
RING = "AUDITMON_RING"
FLUSH_TIMEOUT = "AUDITMON_FLUSH_TIMEOUT"
INTERVAL = "AUDITMON_INTERVAL"
RUNTIME_DIR = "AUDITMON_RUNTIME_DIR"
DEBUG = "AUDITMON_DEBUG"
AGENT = "AUDITMON_AGENT"  # "python" forces the pure-Python hook

# The summariser's fixed limits: nesting depth, items per container, values per argument.
DEPTH = 4
WIDTH = 32
BUDGET = 256
# Ints msgpack carries as ints; others travel as text (BigInt).
INT64_MIN = -(1 << 63)
UINT64_MAX = (1 << 64) - 1


class Config(object):
    """Everything the agent is told by its environment."""

    def __init__(self, environ=None):
        env = os.environ if environ is None else environ
        self.mode = env.get(MODE, "")
        self.socket_path = env.get(SOCKET, "")
        self.events = _globs(env.get(EVENTS, ""))
        self.exclude = _globs(env.get(EXCLUDE, ""))
        self.stack = _globs(env.get(STACK, ""))
        self.stack_depth = _number(env.get(STACK_DEPTH), 8, int)
        self.strlen = _number(env.get(STRLEN), 1024, int)
        self.queue_size = _number(env.get(QUEUE), 65536, int)
        self.ring_size = _number(env.get(RING), 10000, int)
        self.flush_timeout = _number(env.get(FLUSH_TIMEOUT), 2.0, float)
        self.interval = _number(env.get(INTERVAL), 0.01, float)
        self._runtime_dir = env.get(RUNTIME_DIR)
        self._env = env
        self.debug = bool(env.get(DEBUG))
        self.native = env.get(AGENT, "") != "python"

    @property
    def runtime_dir(self):
        """Where attach mode listens; only attach mode asks (it costs a stat)."""
        return self._runtime_dir or default_runtime_dir(self._env)

    @property
    def active(self):
        return self.mode == "run" and bool(self.socket_path) or self.mode == "attach"


def default_runtime_dir(environ=None):
    """Where attachable processes put their sockets: private to this user."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg):
        return os.path.join(xdg, "auditmon")
    return "/tmp/auditmon-%d" % os.getuid()


def _globs(text):
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _number(text, default, kind):
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        return default
    return value if value >= 0 else default
