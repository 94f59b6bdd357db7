/* The agent's types and tunables: the Agent object (the hook's state, its buffer and run
 * mode's link), the caches it keeps, and the system headers every part uses.  Included
 * first by module.c, which holds the whole extension as one translation unit.
 */
#ifndef AUDITMON_AGENT_H
#define AUDITMON_AGENT_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>
#include <frameobject.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <x86intrin.h>
#define HAVE_TSC 1
/* Ticks of the time-stamp counter within which an event takes the time of the one before
   (see event_time): under a microsecond at the 2 GHz and more of today's counters. */
#define CLOCK_REUSE_TICKS 2048
/* Events a process raises before it asks whether the counter may be used (see
   invariant_tsc): until then, every event reads the clock. */
#define TSC_ASK_AFTER 64
#endif

/* What the Python side must agree with (protocol numbers, decision bits, limits, the
   settings' names and defaults): generated from _auditmon_agent/constants.py. */
#include "constants.h"

/* The extension's own sizes and tunables, which the Python side never sees. */
#define MAX_QUIET 16
#define DECISION_SLOTS 256
#define DECISION_NAME 48
#define DESCRIPTION_SLOTS 128
#define THREAD_SLOTS 64
/* Run mode sends the first events from the hook itself (one send each) and starts the
   writer thread only after this many, or once this share of the socket's send buffer has
   gone that way (so such a send never waits for the monitor). */
#define DIRECT_EVENTS 16
#define DIRECT_SHARE_OF_SNDBUF 4

/* The hook's decision for an event name, keyed by the name's address (CPython passes
   the same literal every time) and confirmed by its text (a Python string's buffer can
   be freed and its address reused). */
typedef struct {
    const char *address;
    long how;
    Py_ssize_t length; /* strlen(name), which each event's encoding needs */
    char name[DECISION_NAME];
} DecisionSlot;

/* A thread named to the monitor (a thread's first event carries its name): the name
   sent, a reference, in the slot its ident picks.  A collision or a reused ident with
   another name sends the name again, which costs the monitor nothing. */
typedef struct {
    unsigned long tid;
    PyObject *name;
} ThreadSlot;

/* The encoded description of a class, of a class's instances or of a function.  The
   object is held by a weak reference only (the cache must not keep the target's objects
   alive); a class is confirmed by its version tag, which CPython changes whenever the
   class or its bases are modified, a function by its name objects. */
enum { KIND_CLASS = 1, KIND_INSTANCE, KIND_FUNCTION, KIND_METHOD };
typedef struct {
    PyObject *key;       /* borrowed address, compared only */
    int kind;
    PyObject *ref;       /* weak reference to key */
    unsigned int tag;    /* classes: tp_version_tag when encoded */
    PyObject *qualname;  /* functions: the name objects the text was made from */
    PyObject *module;
    int fallback;        /* instances: the Python summariser must see each one */
    char *bytes;         /* the encoded ext value */
    Py_ssize_t len;
} DescriptionSlot;

typedef struct {
    char *data;
    Py_ssize_t len;
    Py_ssize_t cap;
} Buffer;

/* Run mode's shared-memory ring (ring.c): the mapping, and the agent's own copies of
   what it stores there. */
typedef struct {
    char *map;           /* header and data, shared with the monitor; NULL: no ring */
    uint64_t size;       /* the data's size, a power of two */
    uint64_t head;       /* bytes written since the start (stored at RING_HEAD_AT) */
    uint64_t room_until; /* head may reach this before the monitor's tail is read again */
    uint64_t wake_at;    /* head past which the monitor is woken */
    int fd;              /* the memfd until the monitor has it, else -1 */
    int peer_gone;       /* a wake-up found the monitor gone */
} Ring;

/* Run mode's connection to the monitor and the writer thread that feeds it (started on
   demand: see link_direct). */
typedef struct {
    int fd;                  /* -1: not connected (attach mode, gone, or lone) */
    int lone;                /* the socket closed after the hello: the goodbye goes into
                                the ring's header (constants.py's RING_GOODBYE_AT) */
    dev_t dev;               /* the socket's identity: fd is still it (link_owns_fd) */
    ino_t ino;
    pthread_mutex_t io;      /* serialises sends: the writer against the exiting thread */
    pthread_cond_t wake;     /* with the agent's lock: wakes the writer early */
    int running;             /* the writer thread exists */
    int stopping;            /* the writer should end (exit, or disable) */
    int said_goodbye;
    uint64_t goodbye_seq;    /* the last_seq the last goodbye gave */
    uint64_t reported_drops;
    double interval;         /* seconds between the writer's sends */
    double flush_timeout;    /* the most the exiting thread waits for the monitor */
    Buffer out;              /* the buffer being sent (swapped with the hook's) */
    int direct;              /* events the hook may still send itself, before a writer */
    Py_ssize_t direct_bytes; /* and bytes */
} Link;

/* Whether run mode's link is up: a socket, or a lone agent's ring. */
static inline int
link_up(const Link *l)
{
    return l->fd >= 0 || l->lone;
}

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    pthread_mutex_t lock;  /* guards buf, count and first_seq: the hook vs the writer */
    Link link;
    Ring ring;             /* run mode: where events go as they are raised (else buf) */
    int disabled;          /* record nothing more (the monitor went away) */
    int paused;            /* an injected agent with no monitor: the hook returns at once */
    Buffer buf;
    Buffer scratch;        /* where the hook encodes one event before appending it */
    int encoding;          /* hooks encoding right now (nested, or on other threads) */
    Py_ssize_t limit;      /* bytes the buffer may hold before events are dropped */
    Py_ssize_t count;      /* events in the buffer */
    uint64_t first_seq;    /* seq of the first event in the buffer */
    uint64_t seq;          /* events numbered */
    uint64_t dropped;      /* events dropped */
    int reuse_clock;       /* the time-stamp counter is invariant (-1: not asked yet) */
    uint64_t clock_tsc;    /* the counter at the last clock read, and that read */
    double clock_time;
    Py_ssize_t strlen;
    int depth;
    Py_ssize_t width;
    long budget;
    PyObject *decisions;   /* dict: event name -> bits */
    PyObject *decide;      /* callable(name) -> bits, fills decisions */
    PyObject *fallback;    /* callable(value, level, budget_list) -> summary */
    PyObject *stack;       /* callable(tid) -> list of frames or None */
    PyObject *flush;       /* callable(tid, name) */
    PyObject *preload;     /* callable(tid): import now what may be needed later */
    PyObject *wire_types;  /* callable() -> (wire.Cut, wire.Described, wire.BigInt) */
    PyObject *cut_type;    /* NULL until a summary first needs them */
    PyObject *described_type;
    PyObject *bigint_type;
    PyObject *type_module;   /* type.__dict__["__module__"].__get__ */
    PyObject *type_qualname; /* type.__dict__["__qualname__"].__get__ */
    unsigned long quiet[MAX_QUIET];
    int nquiet;
    PyInterpreterState *interp; /* where install() ran: the C hook ignores other ones */
    int closed;            /* the interpreter is being torn down */
    DecisionSlot decided[DECISION_SLOTS];
    DescriptionSlot described[DESCRIPTION_SLOTS];
    uint64_t last_thread;   /* the thread state of the last event recorded (0: none) */
    unsigned long main_tid; /* the thread that started the agent (a fork's: its own) */
    ThreadSlot threads[THREAD_SLOTS];
} Agent;

/* Declared ahead of their definitions, which come after a first use. */
static int pack_summary(Agent *self, Buffer *b, PyObject *v);        /* encode.c */
static int summarize_into(Agent *self, Buffer *b, PyObject *v, int level,
                          long *budget);                             /* summarize.c */
static int link_flush(Agent *self, int final);                       /* link.c */
static void link_direct(Agent *self);                                /* link.c */
static void link_gone(Agent *self);                                  /* link.c */

#endif
