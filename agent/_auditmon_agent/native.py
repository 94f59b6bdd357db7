"""The Python side of the C hook (``_auditmon_native``, built from ``agent/native/``):
making it with this agent's helpers, the summariser it defers to, run mode's link, and
the hand-over when the agent adopts a hook that run mode started in C.

Loaded only where the C hook is in use: the pure-Python agent never imports it.
"""

import sys

from .constants import (
    BYTES_PER_EVENT,
    SUMMARY_BUDGET,
    SUMMARY_DEPTH,
    SUMMARY_WIDTH,
    WIRE_HELLO,
    WIRE_VERSION,
)


def make_for(agent, extension):
    """The C hook with ``agent``'s decisions and helpers, for its settings."""
    config = agent.config
    return make_native_agent(
        extension,
        DeferredSummarizer(agent, config.strlen),
        agent.decisions,
        agent.decide_now,
        agent.native_stack,
        agent.flush_now,
        config.queue_size * BYTES_PER_EVENT,
    )


def make_native_agent(
    native, summarizer, decisions, decide, stack, flush, limit, fallback=None, preload=None
):
    """The C hook, with the Python summariser's limits and fallbacks."""
    from .core import AGENT

    return native.Agent(
        decisions=decisions,
        decide=decide,
        fallback=fallback or summarizer.value,
        stack=stack,
        flush=flush,
        preload=preload or AGENT.preload,
        wire_types=AGENT.wire_types,
        type_module=type.__dict__["__module__"].__get__,
        type_qualname=type.__dict__["__qualname__"].__get__,
        limit=limit,
        strlen=summarizer.strlen,
        depth=summarizer.depth,
        width=summarizer.width,
        budget=summarizer.budget,
    )


def adopt(agent, native):
    """Hand the C hook that run mode started to ``agent`` (``Agent.adopt``): its link
    and, from now on, the agent's helpers.  Without globs the extension keeps deciding
    by itself: a decision then never needs the agent's modules, whose globals the
    interpreter's teardown may already have cleared."""
    config = agent.config
    agent.writer = NativeLink(agent, config)
    extension = sys.modules.get("_auditmon_native")
    plain = extension is not None and not (config.events or config.exclude or config.stack)
    native.set_helpers(
        decisions=agent.decisions,
        decide=extension.decide if plain else agent.decide_now,
        fallback=DeferredSummarizer(agent, config.strlen).value,
        stack=agent.native_stack,
        flush=agent.flush_now,
        preload=agent.preload,
        wire_types=agent.wire_types,
    )


class DeferredSummarizer(object):
    """The summariser's limits at once, the summariser itself only when the native hook
    first hands it a value (most processes never do): start-up does not import it."""

    def __init__(self, agent, strlen):
        self.agent = agent
        self.strlen = strlen
        self.depth = SUMMARY_DEPTH
        self.width = SUMMARY_WIDTH
        self.budget = SUMMARY_BUDGET
        self.loaded = None

    def value(self, value, level, budget):
        if self.loaded is None:
            summarize = self.agent.own_import(__package__ + ".summarize")
            self.loaded = summarize.Summarizer(self.strlen, self.depth, self.width, self.budget)
        return self.loaded.value(value, level, budget)


class NativeLink(object):
    """Run mode with the C hook: the extension makes the shared-memory ring the hook
    writes every event into (ring.c), connects, and says goodbye at exit; this supplies
    the hello."""

    def __init__(self, agent, config):
        self.agent = agent
        self.config = config
        self.pid = agent.pid

    def start(self):
        native = self.agent.native
        fields = self.agent.identity()
        fields["v"] = WIRE_VERSION
        fields["mode"] = self.config.mode
        ring = native.open_ring()  # before the hello, which gives its size
        fields["events"] = native.counted()
        if ring:
            fields["ring"] = ring
        hello = native.pack([WIRE_HELLO, fields])
        config = self.config
        native.connect(config.socket_path, hello, config.interval, config.flush_timeout)

    def stop(self):
        self.agent.native.finish(False)

    def flush_from_caller(self, final):
        self.agent.native.finish(final)

    def abandon(self):
        self.agent.native.abandon()

    def forget_after_fork(self):
        pass  # the extension's own fork handler closed the parent's connection
