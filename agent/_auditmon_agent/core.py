"""The agent in this process: its state (``Agent``), the hook it installs, and its start,
fork and exit.

The hook is the C extension's (``_auditmon_native``, whose Python side is ``native``)
where it was built for this interpreter, else the pure-Python one (``python_hook``):
the same decisions, numbering and summaries, and the same bytes on the wire.  In run
mode either hook writes each event into a shared-memory ring the monitor reads (the C
hook's ``ring.c``, the Python hook's ``ring``), and the link (the extension's, or
``transport``) only says hello and goodbye; in attach mode a writer thread (``attach``)
drains the hook's queue.  ``AUDITMON_AGENT=python`` forces the Python hook.  Nothing
here may raise into the target.

Start-up is paid by every process, so what only one path needs is imported by that
path.  Plain run mode with the C hook starts in the extension without this module,
which ``adopt``s that agent when one of its helpers is first needed; the native paths
load neither ``transport`` nor ``wire`` nor ``_socket``.
"""

import _thread
import atexit
import os
import sys
import time

from . import config as _settings
from . import load_own as _load_own
from . import stdlib_module as _stdlib_module
from .constants import FLUSH_EVENTS, MODE_ATTACH, MODE_RUN

_get_ident = _thread.get_ident


class Agent(object):
    """The agent's state in this process.  Its writers (``transport``, ``attach``,
    ``native.NativeLink``) use ``config``, ``pid``, ``native``, ``hush``/``unhush``,
    ``debug``, ``take``, ``pending``, ``counted``, ``dropped``, ``identity`` and
    ``disable``."""

    def __init__(self):
        self.config = None
        self.decisions = {}  # event name -> RECORD|STACK|FLUSH|PRELOAD bits, 0 to ignore
        self.decide = None  # fills ``decisions``
        # Threads whose events are the agent's own: a plain set, which the hook tests on
        # every event (a subclass is slower to test); hush and unhush mirror it into the
        # C hook.  Emptied in place, never replaced: the Python hook holds it.
        self.quiet = set()
        self.native = None  # the C hook, when in use
        self.python_hook = None  # the Python hook, its queue and counters, when in use
        self.writer = None
        self.pid = 0
        self.start_time = 0.0
        # its interpreter's start-up events are among its events: the preload library
        # kept them (or it is a forked child, which has no start-up of its own)
        self.startup_seen = False
        self.installed = False
        self.pack = None  # the Python writer's event encoder, made on first use
        # brought into a running process by ``auditmon attach``: once no monitor watches,
        # the hook pauses (attach.py); its forked children are like any agent-started one
        self.injected = False
        self.kept = None  # keep_to_the_end's
        self.modules = []  # keep_modules'

    # -- start ---------------------------------------------------------------------------
    def start(self, config, early=None):
        """Install the hook and start the writer; called once, from sitecustomize or the
        preload library's bootstrap (_auditmon_bootstrap.py).  ``early``: ``(events,
        dropped)``, what the bootstrap hook kept before this start, each event ``(name,
        args, time, thread)``: numbered before any other, so the hello counts them."""
        if self.installed:
            return
        events, dropped = early or ((), 0)
        self.startup_seen = early is not None
        start_time = time.time()
        if events:
            start_time = min(start_time, events[0][2])  # its first event came before
        self.settle(config, start_time)
        if config.native:
            try:
                import _auditmon_native as extension
            except ImportError:
                extension = None
            if extension is not None:
                _load_own("native")
                from . import native

                self.native = native.make_for(self, extension)
        if self.native is None:
            self.use_python_hook()
        if events or dropped:
            (self.native or self.python_hook).record_early(events, dropped)
        self.start_writer()
        atexit.register(self.at_exit)
        if self.python_hook is not None:  # the child must not write into the parent's ring
            hook = self.python_hook
            os.register_at_fork(before=hook.before_fork, after_in_parent=hook.after_fork_in_parent)
        os.register_at_fork(after_in_child=self.after_fork_in_child)
        keep_to_the_end(self)  # (its code.__new__ event comes before the hook)
        if self.native is None or not self.native.install():
            sys.addaudithook(self.native if self.native is not None else self.python_hook.hook)
        self.installed = True

    def settle(self, config, start_time):
        """The state both hooks need: the settings, the decider and this identity."""
        self.config = config
        self.decide = _settings.make_decider(config, self.decisions)
        for event in FLUSH_EVENTS:  # decided now: at teardown no Python may run to decide
            self.decide(event)
        self.pid = os.getpid()
        self.start_time = start_time

    def use_python_hook(self):
        """The Python hook, with its summariser and an empty queue."""
        _load_own("wire", "summarize", "python_hook")
        from .python_hook import PythonHook

        self.python_hook = PythonHook(self, self.config.strlen, self.config.queue_size)
        return self.python_hook

    def adopt(self, native, start_time):
        """Take over the C hook that run mode started without this module (``start_run``
        in ``_auditmon_native``): the state ``start`` would have left, and this module's
        helpers for the agent from now on.  The extension installed the hook and its own
        exit and fork handlers (which call this module's once it has adopted)."""
        if self.installed:
            return
        self.settle(_settings.Config(), start_time)
        self.native = native
        from . import native as native_side

        native_side.adopt(self, native)
        self.installed = True

    def start_writer(self):
        tid = _get_ident()
        self.hush(tid)  # connecting and starting a thread raise events: they are ours
        try:
            if self.config.mode == MODE_RUN and self.native is not None:
                from .native import NativeLink as writer_class
            elif self.config.mode == MODE_ATTACH:
                _load_own("wire", "transport", "rendezvous", "attach")
                from .attach import AttachWriter as writer_class
            else:
                _load_own("wire", "transport")
                from .transport import RunWriter as writer_class
            if self.native is None:
                # The encoder's imports open files: here, before the target goes on, not
                # on the writer thread, racing the target's own open() for low numbers.
                # struct's C half first, found without a search (the encoders', the ring's).
                _stdlib_module("_struct")
                self.python_pack()
            self.writer = writer_class(self, self.config)
            self.writer.start()
        finally:
            self.unhush(tid)

    # -- fork and exit -------------------------------------------------------------------
    def after_fork_in_child(self):
        """A forked child is a new process: new identity, empty queue, its own connection.
        The extension does the same in C for the agent it started while nothing adopted
        it (restart_in_child, native/adopt.c): change both; tests/test_agents_agree.py
        runs both."""
        if not self.installed:
            return
        try:
            if self.native is not None:
                self.native.reset()
            else:
                self.python_hook.restart()
            self.quiet.clear()
            self.injected = False
            self.pid = os.getpid()
            self.start_time = time.time()
            self.startup_seen = True
            if self.writer is not None:
                self.writer.forget_after_fork()
            self.start_writer()
            # multiprocessing's fork children end with os._exit() after threading's
            # shutdown, never running atexit: flush there too.
            threading = sys.modules.get("threading")
            register = getattr(threading, "_register_atexit", None)
            if register is not None:
                register(self.at_exit)
        except Exception:
            self.debug("fork")
            self.disable()

    def at_exit(self):
        """Normal exit (or multiprocessing's child shutdown): flush all, say goodbye."""
        tid = _get_ident()
        self.hush(tid)
        try:
            if self.writer is not None and self.writer.pid == self.pid:
                self.writer.stop()
        except Exception:
            self.debug("exit")
        finally:
            self.unhush(tid)
        if self.python_hook is not None:
            self.keep_modules()

    def keep_modules(self):
        """Take the agent's modules out of ``sys.modules``, kept with the agent.  The
        interpreter's teardown clears every module still there, one name at a time, and
        the Python hook, which records to the end (a finalizer's events are the
        program's too), would then find its globals gone; taken out, they are neither
        cleared nor freed (keep_to_the_end).  Nothing of the agent's is imported after
        this: the last thing the process runs is its teardown.  Its modules are found
        as the package's attributes (import and load_own set them), not by a scan of
        sys.modules, which costs a process's exit more."""
        modules = sys.modules
        package = modules.pop(__package__, None)
        if package is None:
            return
        kept = [package]
        for name, value in list(vars(package).items()):
            if type(value) is type(package):  # a module: the package's own, or os, sys
                full = __package__ + "." + name
                if modules.get(full) is value:
                    kept.append(modules.pop(full))
        self.modules = kept

    def flush_now(self, tid, event):
        """Send what is queued before exec or interpreter teardown takes the writer away
        (the C hook tells teardown from exec alike, in on_event, native/hook.c)."""
        self.hush(tid)
        try:
            if self.writer is not None and self.writer.pid == self.pid:
                self.writer.flush_from_caller(final=event != "os.exec")
        except Exception:
            self.debug("flush")
        finally:
            self.unhush(tid)

    def disable(self):
        """Stop recording for good in this process (auditmon's own processes call this)."""
        self.decide = _settings.never
        self.decisions.clear()
        if self.python_hook is not None:
            self.python_hook.limit(0)
        if self.native is not None:
            self.native.set_limit(0)
            self.native.forget()
        if self.writer is not None:
            self.writer.abandon()

    # -- what the writers use ------------------------------------------------------------
    def take(self, first_seq=True):
        """The queued events, encoded: ``(count, first_seq, bytes)``.

        The bytes are the msgpack of each event ``[seq, time, thread, name, args, stack]``
        one after another: a batch message is an array header and these.  Only attach
        mode's ring needs ``first_seq``: asked not to, the Python hook's queue spares a
        comparison per event and gives 0 (the native hook keeps it anyway, at no cost).
        """
        if self.native is not None:
            return self.native.take()
        return self.python_hook.take(first_seq, self.python_pack())

    def pending(self):
        """Events waiting to be taken."""
        return self.native.pending() if self.native is not None else len(self.python_hook.queue)

    def counted(self):
        """How many events this process has numbered so far (sent or dropped)."""
        if self.native is not None:
            return self.native.counted()
        return self.python_hook.counted()

    def dropped(self):
        """How many events were dropped so far."""
        if self.native is not None:
            return self.native.dropped()
        return self.python_hook.dropped()

    def forget_threads(self):
        """Name each thread again, with its next event: a monitor that attaches gets the
        ring, whose events may not include the ones that carried the names."""
        if self.native is not None:
            self.native.forget_threads()
        elif self.python_hook is not None:
            self.python_hook.forget_threads()

    def pause(self, paused):
        """An injected agent with no monitor left: while ``paused`` its hook returns at
        once, numbering nothing (the next monitor's hello counts from where it stopped)."""
        if self.native is not None:
            self.native.set_paused(paused)
        elif self.python_hook is not None:
            self.python_hook.pause(paused)

    def hush(self, tid):
        """Make a thread's events the agent's own, in the native hook too."""
        self.quiet.add(tid)
        if self.native is not None:
            self.native.quiet_add(tid)

    def unhush(self, tid):
        """Undo ``hush``."""
        self.quiet.discard(tid)
        if self.native is not None:
            self.native.quiet_discard(tid)

    def identity(self):
        """This process's hello fields (in C, hello_message in native/start.c gives the
        same, in this order: change both)."""
        argv = list(getattr(sys, "orig_argv", None) or sys.argv or [])
        try:
            cwd = os.getcwd()
        except OSError:
            cwd = None
        return {
            "pid": self.pid,
            "ppid": os.getppid(),
            "argv": [a if type(a) is str else str(a) for a in argv],
            "executable": sys.executable or "",
            "cwd": cwd,
            "python": "%s %d.%d.%d" % ((sys.implementation.name,) + tuple(sys.version_info[:3])),
            "start": self.start_time,
            "startup": self.startup_seen,
            "agent": "native" if self.native is not None else "python",
        }

    def debug(self, where):
        if self.config is not None and self.config.debug:
            import traceback

            sys.stderr.write("auditmon agent: error in %s\n" % where)
            traceback.print_exc()

    # -- the hooks' helpers --------------------------------------------------------------
    def decide_now(self, event):
        """The native hook's way to the current decider (``disable`` swaps it)."""
        return self.decide(event)

    def stack(self, tid, skip=2):
        """The caller's frames (file, line, function), innermost first, without recursing.

        Frame 0 is this method, 1 the Python hook (or ``native_stack``), 2 the event's
        raiser (``skip`` frames up: 3 from the Python hook's ``special``).
        """
        self.hush(tid)
        try:
            frame = sys._getframe(skip)
            depth = self.config.stack_depth
            frames = []
            while frame is not None and len(frames) < depth:
                code = frame.f_code
                frames.append((code.co_filename, frame.f_lineno, code.co_name))
                frame = frame.f_back
            return frames
        except Exception:
            return None
        finally:
            self.unhush(tid)

    def native_stack(self, tid):
        return self.stack(tid)

    def own_import(self, name):
        """A module the agent loads when it first needs it, from wherever it is (the hook
        included): the events its import raises are the agent's own, so the thread is
        quiet meanwhile (and stays quiet if it already was)."""
        module = sys.modules.get(name)
        if module is not None:
            return module
        tid = _get_ident()
        was_quiet = tid in self.quiet
        self.hush(tid)
        try:
            if name.startswith(__package__ + "."):
                _load_own(name[len(__package__) + 1 :])
            __import__(name)
            return sys.modules[name]
        finally:
            if not was_quiet:
                self.unhush(tid)

    def wire_types(self):
        """The protocol's value classes, for the native encoder when it first meets one."""
        wire = self.own_import(__package__ + ".wire")
        return wire.Cut, wire.Described, wire.BigInt

    def python_pack(self):
        """The Python writer's encoder (msgpack's, if importable): made on first use."""
        if self.pack is None:
            self.pack = self.own_import(__package__ + ".wire").make_events_packer()
        return self.pack

    def python_event_packers(self):
        """Run mode's encoders of one event, for the Python hook's ring."""
        return self.own_import(__package__ + ".wire").make_event_packers()

    def preload(self, tid):
        """Import everything the agent would otherwise import later, on first need: an
        audit hook the target is adding would see those imports' events; it is not added
        yet."""
        self.hush(tid)
        try:
            self.own_import(__package__ + ".summarize")  # the native hook's fallback (and wire)
            if self.native is None:
                self.python_pack()
            if self.config is not None and self.config.mode == MODE_ATTACH:
                self.own_import("select")  # the attach writer's
        except Exception:
            self.debug("preload")
        finally:
            self.unhush(tid)


def keep_to_the_end(agent):
    """Keep ``agent``, and all it holds (its modules' code, its hook's state, the ring),
    until the process ends.  At teardown the interpreter frees what its audit hooks
    hold, object by object, about as much work as loading it was; the exit that follows
    takes all the memory back at once, so that work is for nothing (the writer thread
    that run mode had before the ring kept it all alive the same way).  A code object's
    constants are references the garbage collector does not follow (code objects are
    not tracked), so the cycle agent -> code -> agent looks held from outside and is
    never collected.  An embedding program that finalizes Python and starts it again
    keeps the old agent's memory, as it kept its thread before."""
    agent.kept = (lambda: None).__code__.replace(co_consts=(agent,))


#: The agent of this process.  What sitecustomize, the package's ``__init__`` and the C
#: extension (adopt.c) call, by these names:
AGENT = Agent()
start = AGENT.start
adopt = AGENT.adopt
disable = AGENT.disable
at_exit = AGENT.at_exit
after_fork_in_child = AGENT.after_fork_in_child
