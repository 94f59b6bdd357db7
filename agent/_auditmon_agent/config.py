"""The agent's settings, read once from ``AUDITMON_*`` environment variables, and the
decisions they imply for each event.

The monitor (``auditmon run`` or ``auditmon env``) writes them; the target inherits
them, and so do its children.  Their names and defaults are ``constants.py``'s, which
the C extension's own start (native/start.c) reads too.
"""

import os

from .constants import (
    AGENT_PYTHON,
    DEFAULT_FLUSH_TIMEOUT,
    DEFAULT_INTERVAL,
    DEFAULT_QUEUE,
    DEFAULT_RING,
    DEFAULT_STACK_DEPTH,
    DEFAULT_STRLEN,
    ENV_AGENT,
    ENV_DEBUG,
    ENV_EVENTS,
    ENV_EXCLUDE,
    ENV_FLUSH_TIMEOUT,
    ENV_INTERVAL,
    ENV_LONE,
    ENV_MODE,
    ENV_QUEUE,
    ENV_RING,
    ENV_RUNTIME_DIR,
    ENV_SOCKET,
    ENV_STACK,
    ENV_STACK_DEPTH,
    ENV_STRLEN,
    FLUSH,
    FLUSH_EVENTS,
    HOOK_ADDED,
    MAX_DECISIONS,
    MODE_ATTACH,
    MODE_RUN,
    PRELOAD,
    RECORD,
    STACK,
)

# Ints msgpack carries as ints; others travel as text (BigInt).
INT64_MIN = -(1 << 63)
UINT64_MAX = (1 << 64) - 1


class Config(object):
    """Everything the agent is told by its environment."""

    def __init__(self, environ=None):
        env = os.environ if environ is None else environ
        self.mode = env.get(ENV_MODE, "")
        self.socket_path = env.get(ENV_SOCKET, "")
        self.events = _globs(env.get(ENV_EVENTS, ""))
        self.exclude = _globs(env.get(ENV_EXCLUDE, ""))
        self.stack = _globs(env.get(ENV_STACK, ""))
        self.stack_depth = _number(env.get(ENV_STACK_DEPTH), DEFAULT_STACK_DEPTH, int)
        self.strlen = _number(env.get(ENV_STRLEN), DEFAULT_STRLEN, int)
        self.queue_size = _number(env.get(ENV_QUEUE), DEFAULT_QUEUE, int)
        self.ring_size = _number(env.get(ENV_RING), DEFAULT_RING, int)
        self.flush_timeout = _number(env.get(ENV_FLUSH_TIMEOUT), DEFAULT_FLUSH_TIMEOUT, float)
        self.interval = _number(env.get(ENV_INTERVAL), DEFAULT_INTERVAL, float)
        self._runtime_dir = env.get(ENV_RUNTIME_DIR)
        self._env = env
        self.debug = bool(env.get(ENV_DEBUG))
        self.native = env.get(ENV_AGENT, "") != AGENT_PYTHON
        self.lone = env.get(ENV_LONE) == "1"

    @property
    def runtime_dir(self):
        """Where attach mode listens; only attach mode asks (it costs a stat)."""
        return self._runtime_dir or default_runtime_dir(self._env)

    @property
    def active(self):
        return self.mode == MODE_RUN and bool(self.socket_path) or self.mode == MODE_ATTACH


def default_runtime_dir(environ=None):
    """Where attachable processes put their sockets: private to this user."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg):
        return os.path.join(xdg, "auditmon")
    return "/tmp/auditmon-%d" % os.getuid()


def _globs(text):
    return tuple(part.strip() for part in text.split(",") if part.strip())


# The extension's start reads these numbers too (env_number, native/start.c), and leaves
# the start to this module where it can't read one exactly as this does.
def _number(text, default, kind):
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        return default
    return value if value >= 0 else default


def make_decider(config, decisions):
    """A function event name -> decision bits, memoised in ``decisions`` (which the
    hooks read first).  Without globs the extension decides by itself in C (run_decide,
    native/adopt.c): change both; tests/test_native.py compares them."""
    events, exclude, stack = config.events, config.exclude, config.stack

    def decide(event):
        how = RECORD | (FLUSH if event in FLUSH_EVENTS else 0)
        if event == HOOK_ADDED:
            how |= PRELOAD
        if len(decisions) < MAX_DECISIONS:
            decisions[event] = how
        return how

    if not (events or exclude or stack):
        return decide  # no globs: no fnmatch (and no re) to import at start-up

    from fnmatch import fnmatchcase

    def decide_with_globs(event):
        how = 0
        if (not events or any(fnmatchcase(event, g) for g in events)) and not any(
            fnmatchcase(event, g) for g in exclude
        ):
            how = RECORD
            if stack and any(fnmatchcase(event, g) for g in stack):
                how |= STACK
            if event in FLUSH_EVENTS:
                how |= FLUSH
        if event == HOOK_ADDED:
            how |= PRELOAD
        if len(decisions) < MAX_DECISIONS:
            decisions[event] = how
        return how

    return decide_with_globs


def never(event):
    """The decider of a disabled agent: nothing is recorded."""
    return 0
