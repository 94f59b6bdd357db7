"""What the agent's C extension and its Python side must agree on: the one definition.

``tools/gen_constants.py`` writes ``agent/native/constants.h`` from this module (every
public upper-case name, in order), and the extension exports each one back as a module
attribute: tests check that the header is regenerated and that every value the built
extension holds is the one here.  Change a value here, then run the generator.

Plain values only (int, float, str, tuple of str): this module imports nothing, and the
monitor loads it too, with ``wire.py``.
"""

# -- the wire protocol (wire.py describes it) --------------------------------------------
WIRE_VERSION = 1
# Message kinds: each message is [kind, body].
WIRE_HELLO = 0
WIRE_EVENTS = 1
WIRE_DROPPED = 2
WIRE_GOODBYE = 3
WIRE_ERROR = 4
WIRE_STATUS = 5
# msgpack extension codes of summarised values.
EXT_CUT = 1  # payload [kept_prefix, original_length]
EXT_OBJECT = 2  # payload: UTF-8 description of a value the agent does not look into
EXT_BIGINT = 3  # payload: ASCII decimal of an int outside 64 bits

# A message of one byte, msgpack's nil: run mode's wake-up (the ring is filling up, read
# it now).  Sent without waiting; a monitor ignores it but for reading the ring.
WIRE_WAKE = 0xC0

# -- run mode's shared-memory ring: events outlive the process that raised them -----------
# Run mode's agents encode each event, as it is raised, into a ring of shared memory (a
# memfd whose descriptor goes to the monitor with the hello, SCM_RIGHTS; the hello's
# "ring" field is its data size); the socket carries the hello, the goodbye and wake-ups.
# A process that dies (SIGKILL, a crash, os._exit) leaves its events in the ring, which
# the monitor still holds.  Layout, in this machine's byte order: RING_HEADER bytes of
# header, then the data.  Each header field is a u64, stored and loaded whole:
RING_MAGIC = 0x31474E49524D41  # b"AMRING1\0" read little-endian: the layout's version
RING_MAGIC_AT = 0
RING_SIZE_AT = 8  # the data's size in bytes (a multiple of 8)
RING_HEAD_AT = 16  # bytes of whole events written since the start (the agent's)
RING_NUMBERED_AT = 24  # events numbered: the last seq handed out (stored before writing)
RING_DROPPED_AT = 32  # events numbered but dropped (the ring was full), in total
RING_LONE_AT = 40  # 1: the agent is lone (below), stored before the hello is sent
RING_TAIL_AT = 64  # bytes the monitor has read since the start (the monitor's)
# A lone agent's goodbye (see below): its length in bytes (0: none yet), stored last,
# then the GOODBYE message itself, at most RING_GOODBYE_MAX bytes.
RING_GOODBYE_AT = 128
RING_GOODBYE_MAX = 120
RING_HEADER = 4096
# Events are written one after another as msgpack arrays (the same bytes as in an
# EVENTS batch), at data offset position % size; one may wrap past the end to the start.
# The agent stores NUMBERED before it writes an event and HEAD after it (release): the
# monitor reads [TAIL, HEAD), whole events only, and then stores TAIL.  An event that
# doesn't fit in size - (HEAD - TAIL) is dropped and counted in DROPPED: the target never
# waits.  When the process is gone, NUMBERED - (events read) - DROPPED were numbered and
# never written whole (cut by its death): the monitor counts them as dropped.  Past half
# full, the agent sends one WIRE_WAKE so that the monitor reads at once.
# A lone agent (its socket could not be put out of the target's sight, at or above the
# soft RLIMIT_NOFILE, and the monitor said it can follow a process: ENV_LONE) stores
# RING_LONE_AT before its hello and closes the socket after it: it sends no wake-ups,
# writes its goodbye into the header (RING_GOODBYE_AT), and the monitor learns of the
# process's end from the process itself (a pidfd).

# -- the hook's decision for an event: bits -----------------------------------------------
RECORD = 1  # send the event
STACK = 2  # capture its Python stack
FLUSH = 4  # flush synchronously right after it (the process is about to vanish)
PRELOAD = 8  # load now what the agent loads lazily (another audit hook is being added)
# Event names whose decisions are remembered, at most (a program may make up names).
MAX_DECISIONS = 10000
# Raised just before another audit hook is added: the last moment the agent's own
# imports are sure to go unseen by the target's hooks.
HOOK_ADDED = "sys.addaudithook"
# Events after which the process image is gone: exec replaces it, and the interpreter
# teardown events are the last a hook can see (where module state still works; on
# CPython 3.11 it no longer does there, and atexit is the last flush).
FLUSH_EVENTS = (
    "os.exec",
    "cpython.PyInterpreterState_Clear",
    "cpython._PySys_ClearAuditHooks",
)

# -- the agent's own file descriptors -------------------------------------------------------
# Programs and their tests take the lowest free descriptors and count on them as theirs:
# each the agent owns (its sockets) goes at or above the soft RLIMIT_NOFILE, where
# open() never puts one, with FD_ROOM numbers to choose from (the limit raised for the
# moment of the move); where the soft limit is past FD_HIGHEST (the kernel's descriptor
# table grows to the highest number) or may not be raised, at FD_FLOOR under it, halved
# while the limit is lower, down to FD_FLOOR_MIN.  Always close-on-exec.
# (native/placement.h, which the native agent and the C helper follow, and
# transport.out_of_the_way's fallback.)
FD_FLOOR = 768
FD_FLOOR_MIN = 16
FD_ROOM = 64
FD_HIGHEST = 65536

# -- summaries ------------------------------------------------------------------------------
# The summariser's fixed limits: nesting depth, items per container, values per argument.
SUMMARY_DEPTH = 4
SUMMARY_WIDTH = 32
SUMMARY_BUDGET = 256
# The native buffer holds bytes: AUDITMON_QUEUE events of about this size.
BYTES_PER_EVENT = 128

# -- settings: the environment the monitor writes and the target inherits ---------------
ENV_MODE = "AUDITMON_MODE"  # MODE_RUN or MODE_ATTACH; anything else leaves the agent off
ENV_SOCKET = "AUDITMON_SOCKET"  # run mode: the monitor's socket
ENV_EVENTS = "AUDITMON_EVENTS"  # comma-separated globs: only these events
ENV_EXCLUDE = "AUDITMON_EXCLUDE"  # comma-separated globs: never these events
ENV_STACK = "AUDITMON_STACK"  # comma-separated globs: capture a stack for these events
ENV_STACK_DEPTH = "AUDITMON_STACK_DEPTH"
ENV_STRLEN = "AUDITMON_STRLEN"
ENV_QUEUE = "AUDITMON_QUEUE"
ENV_RING = "AUDITMON_RING"
ENV_FLUSH_TIMEOUT = "AUDITMON_FLUSH_TIMEOUT"
ENV_INTERVAL = "AUDITMON_INTERVAL"
ENV_RUNTIME_DIR = "AUDITMON_RUNTIME_DIR"
ENV_DEBUG = "AUDITMON_DEBUG"
ENV_AGENT = "AUDITMON_AGENT"  # AGENT_PYTHON forces the pure-Python hook
# "1": the monitor can do without the agent's socket where that socket would be in the
# target's sight: run mode's monitor follows a lone agent's process (above), attach
# mode's calls a lone agent (below).
ENV_LONE = "AUDITMON_LONE"
MODE_RUN = "run"
MODE_ATTACH = "attach"
AGENT_PYTHON = "python"
# What an unset or empty (or unreadable, or negative) number gives.
DEFAULT_STACK_DEPTH = 8
DEFAULT_STRLEN = 1024
DEFAULT_QUEUE = 65536
DEFAULT_RING = 10000
DEFAULT_FLUSH_TIMEOUT = 2.0
DEFAULT_INTERVAL = 0.01

# -- attach mode's rendezvous, in the runtime directory (0700) ---------------------------
# An agent listens at <pid>.sock.  A lone one (ENV_LONE, and a listener would sit in the
# target's sight) keeps no descriptor: it marks itself with a symlink <pid>.lone, and
# its writer thread reads the symlink <pid>.call at each tick.  A monitor that attaches
# listens at a name of its own (<pid>.<monitor pid>.<token>.back), points <pid>.call at
# it, and accepts the agent's connection (its SO_PEERCRED pid must be <pid>'s); from
# there on it goes as for an accepted one: the request line, then the answer.  A monitor
# that asks a 3.14+ process to start the agent (sys.remote_exec) leaves it the script
# <pid>.<token>.remote, which removes itself when it runs.
ATTACH_SOCKET = ".sock"
ATTACH_LONE = ".lone"
ATTACH_CALL = ".call"
ATTACH_BACK = ".back"
ATTACH_REMOTE = ".remote"

# -- the preload library (agent/preload/): LD_PRELOAD's way in ------------------------------
# Its file, beside sitecustomize.py in the agent's directory (a name no import can take).
PRELOAD_LIBRARY = "auditmon-preload.so"
# The Python its bootstrap hook runs to start the agent: <name>.py beside it.
BOOTSTRAP_MODULE = "_auditmon_bootstrap"
# The audit event sitecustomize raises, with an empty list, to be handed the events the
# bootstrap hook kept before it ran: the hook appends (events, dropped) to the list.
EARLY_EVENTS = "auditmon.early_events"
# Events the bootstrap hook keeps before the agent starts; those after are counted as
# dropped (an embedded interpreter may never start it: what is kept stays bounded).
EARLY_MAX = 4096

# -- the pure-Python agent's C helper (agent/helper/): its ring's writer, its socket's place --
# Built for every CPython 3.8+ (the stable ABI): <name>.abi3.so in the agent's directory.
HELPER = "_auditmon_helper"

# -- the injection library (agent/inject/): ``auditmon attach`` on a process without agent --
# Its file, beside the preload library; gdb loads it into the target (inject.c).
INJECT_LIBRARY = "auditmon-inject.so"

# -- never monitored -----------------------------------------------------------------------
# auditmon's own processes: a command of this name, or ``-m`` this package (or one of its
# modules).  The check itself exists twice: __init__.is_auditmon_itself and the
# extension's auditmon_itself (native/start.c).
AUDITMON_COMMAND = "auditmon"
