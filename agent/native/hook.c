/* The hook: each event's time, its decision (cached by the name's address), its
 * encoding into the buffer and, for flush events, the send.  Two entry points: the
 * C-level hook (PySys_AddAuditHook, 3.11+) and the Agent called as a Python hook.
 * Nothing it does may reach the target but KeyboardInterrupt and friends.  Part of
 * module.c's translation unit: the compiler inlines the buffer and encoder into it.
 */

static inline double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Whether the time-stamp counter ticks at a constant rate, through sleep states too
   (CPUID's invariant TSC bit).  Two CPUID instructions, which a virtual machine traps
   (microseconds each), so a process is asked only once it has raised TSC_ASK_AFTER events
   (most short ones never do). */
static int
invariant_tsc(void)
{
#ifdef HAVE_TSC
    unsigned int a, b, c, d;
    if (__get_cpuid_max(0x80000000, NULL) < 0x80000007)
        return 0;
    __cpuid(0x80000007, a, b, c, d);
    return (d >> 8) & 1;
#else
    return 0;
#endif
}

/* An event's time: the clock, or, where the time-stamp counter runs at a constant rate
   and has advanced fewer than CLOCK_REUSE_TICKS since the last read, that read again.
   Reading the counter is cheaper than reading the clock, and a
   dense stream of events pays for the clock once a microsecond or so; a time is at most
   that much early (a double holds an epoch time to a quarter of a microsecond anyway).
   Called under the GIL.  A counter behind the last read (another core's, or a forked
   child's) wraps the unsigned difference: the clock is read. */
static inline double
event_time(Agent *self)
{
#ifdef HAVE_TSC
    if (self->reuse_clock > 0) {
        uint64_t tsc = __rdtsc();
        if (tsc - self->clock_tsc < CLOCK_REUSE_TICKS)
            return self->clock_time;
        self->clock_tsc = tsc;
        self->clock_time = now();
        return self->clock_time;
    }
    if (self->reuse_clock < 0 && self->seq >= TSC_ASK_AFTER)
        self->reuse_clock = invariant_tsc();
#endif
    return now();
}

static int
is_quiet(Agent *self, unsigned long tid)
{
    for (int i = 0; i < self->nquiet; i++)
        if (self->quiet[i] == tid)
            return 1;
    return 0;
}

static long
decision(Agent *self, PyObject *name)
{
    PyObject *bits = PyDict_GetItemWithError(self->decisions, name);
    if (bits != NULL)
        return PyLong_AsLong(bits);
    if (PyErr_Occurred())
        return -1;
    PyObject *computed = PyObject_CallOneArg(self->decide, name);
    if (computed == NULL)
        return -1;
    long result = PyLong_AsLong(computed);
    Py_DECREF(computed);
    return result;
}

/* The decision for an event name: from the slot its address picks, else from Python. */
static long
cached_decision(Agent *self, const char *event, Py_ssize_t *length)
{
    uintptr_t h = ((uintptr_t)event >> 3) ^ ((uintptr_t)event >> 11);
    DecisionSlot *slot = &self->decided[h & (DECISION_SLOTS - 1)];
    if (slot->address == event && strcmp(slot->name, event) == 0) {
        *length = slot->length;
        return slot->how;
    }
    PyObject *name = PyUnicode_FromString(event);
    if (name == NULL)
        return -1;
    long how = decision(self, name);
    Py_DECREF(name);
    size_t n = strlen(event);
    *length = (Py_ssize_t)n;
    if (how >= 0 && n < DECISION_NAME) {
        slot->address = event;
        memcpy(slot->name, event, n + 1);
        slot->length = (Py_ssize_t)n;
        slot->how = how;
    }
    return how;
}

/* `time` < 0: the event is raised now.  `thread_name`: NULL, or the thread's name. */
static int
encode_event(Agent *self, Buffer *b, uint64_t seq, const char *name, Py_ssize_t name_length,
             PyObject *args, unsigned long tid, long how, double time, PyObject *thread_name)
{
    if (put1(b, thread_name != NULL ? 0x97 : 0x96) < 0 || pack_uint(b, seq) < 0
        || pack_double(b, time < 0 ? event_time(self) : time) < 0
        || pack_uint(b, (uint64_t)tid) < 0
        || pack_str_bytes(b, name, name_length) < 0
        || summarize_args(self, b, args) < 0)
        return -1;
    int r;
    if (how & STACK) {
        PyObject *frames = PyObject_CallFunction(self->stack, "k", tid);
        if (frames == NULL)
            return -1;
        r = pack_summary(self, b, frames);
        Py_DECREF(frames);
    }
    else
        r = put1(b, 0xc0);
    if (r == 0 && thread_name != NULL)
        r = pack_pystr(b, thread_name);
    return r;
}

/* Counters a writer thread reads without the GIL: stored whole, never torn. */
static inline void
bump(uint64_t *counter)
{
    __atomic_store_n(counter, *counter + 1, __ATOMIC_RELAXED);
}

/* The next seq, stored in the ring before the event is written there: an event cut by
   the process's death is counted, not lost silently. */
static inline uint64_t
number(Agent *self)
{
    uint64_t seq = ++self->seq;
    if (self->ring.map != NULL)
        ring_store(&self->ring, RING_NUMBERED_AT, seq);
    return seq;
}

/* One event numbered but dropped. */
static inline void
count_drop(Agent *self)
{
    bump(&self->dropped);
    if (self->ring.map != NULL)
        ring_store(&self->ring, RING_DROPPED_AT, self->dropped);
}

/* Keep an encoded event: in the ring (run mode), else in the buffer (attach mode's
   writer, or run mode's socket where no ring could be had).  0, or -1 where full. */
static inline int
keep(Agent *self, const Buffer *b, uint64_t seq)
{
    if (self->ring.map != NULL)
        return ring_write(&self->ring, b->data, b->len, self->link.fd);
    int kept = -1;
    pthread_mutex_lock(&self->lock);
    if (self->buf.len < self->limit && put(&self->buf, b->data, b->len) == 0) {
        if (self->count == 0)
            self->first_seq = seq;
        self->count++;
        kept = 0;
    }
    pthread_mutex_unlock(&self->lock);
    return kept;
}

/* Encode the event on its own, then append it whole: the Python summariser may run (and
   let another thread, or a nested audit event, append) while an event is encoded. */
static int
record(Agent *self, const char *name, Py_ssize_t name_length, PyObject *args,
       unsigned long tid, long how, double time)
{
    uint64_t seq = number(self);
    if (self->ring.map != NULL ? ring_full(&self->ring)
                               : __atomic_load_n(&self->buf.len, __ATOMIC_RELAXED) >= self->limit) {
        count_drop(self);
        return 0;
    }
    uint64_t thread = current_thread_id();
    PyObject *thread_name = thread == self->last_thread ? NULL
                                                        : thread_name_to_send(self, tid, thread);
    Buffer local = {NULL, 0, 0};
    Buffer *b = self->encoding ? &local : &self->scratch;
    self->encoding++;
    b->len = 0;
    int r = encode_event(self, b, seq, name, name_length, args, tid, how, time, thread_name);
    self->encoding--;
    int kept = r == 0 && keep(self, b, seq) == 0;
    if (!kept)
        count_drop(self);
    if (self->ring.peer_gone) /* the monitor is gone: record nothing more */
        link_gone(self);
    if (thread_name != NULL) {
        if (kept)
            thread_named(self, tid, thread_name);
        else {
            Py_DECREF(thread_name);
            self->last_thread = 0; /* its name goes with its next event */
        }
    }
    if (local.data != NULL) /* a nested event's only: the usual path makes no call */
        PyMem_RawFree(local.data);
    return r;
}

/* One event, from either entry point; -1 only to let KeyboardInterrupt and friends go
   on as they would have.  Nothing else ever reaches the target. */
static int
on_event(Agent *self, const char *event, PyObject *args, unsigned long tid)
{
    if (self->disabled)
        return 0;
    Py_ssize_t name_length = 0;
    long how = cached_decision(self, event, &name_length);
    if (how < 0 && !self->closed) {
        /* undecidable (the Python side's decider, its module torn down already): the
           event is numbered and counted as dropped, not lost silently */
        number(self);
        count_drop(self);
    }
    if (how > 0 && (how & PRELOAD)) {
        PyObject *r = PyObject_CallFunction(self->preload, "k", tid);
        Py_XDECREF(r);
    }
    if (how > 0 && (how & RECORD) && !self->closed) {
        if (record(self, event, name_length, args, tid, how, -1.0) == 0 && (how & FLUSH)) {
            /* exec or interpreter teardown: send now, the writer may not get to (the
               teardown events are FLUSH_EVENTS' cpython.* ones; Agent.flush_now in
               core.py tells them from os.exec alike) */
            int teardown = strncmp(event, "cpython.", 8) == 0;
            if (link_up(&self->link))
                link_flush(self, teardown);
            else {
                PyObject *r = PyObject_CallFunction(self->flush, "ks", tid, event);
                Py_XDECREF(r);
            }
            if (teardown)
                self->closed = 1; /* the interpreter is being torn down: nothing after */
        }
        else if (!self->link.running && self->link.fd >= 0 && self->ring.map == NULL)
            link_direct(self);
    }
    if (PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_Exception))
            return -1;
        PyErr_Clear();
    }
    return 0;
}

/* The events raised before the agent started, kept by the preload library's bootstrap
   hook, (name, args, time, thread) each: recorded as the hook would have (their stacks
   are gone; the flushes for exec and teardown can't apply), numbered before any other,
   and `dropped` more that were raised but not kept, numbered and counted as dropped.
   The Python hook's record_early does the same: change both.  -1 with an exception
   set where events is not such a list. */
static int
record_early(Agent *self, PyObject *events, unsigned long long dropped)
{
    if (!PyList_Check(events)) {
        PyErr_SetString(PyExc_TypeError, "record_early: events must be a list");
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(events); i++) {
        PyObject *event = PyList_GET_ITEM(events, i), *name, *args;
        double time;
        unsigned long tid;
        if (!PyArg_ParseTuple(event, "UO!dk", &name, &PyTuple_Type, &args, &time, &tid))
            return -1;
        Py_ssize_t length;
        const char *text = PyUnicode_AsUTF8AndSize(name, &length);
        long how = text ? decision(self, name) : -1;
        if (how < 0) { /* undecidable: numbered, and counted as dropped */
            PyErr_Clear();
            number(self);
            count_drop(self);
        }
        else if (how & RECORD && record(self, text, length, args, tid, RECORD, time) < 0)
            PyErr_Clear(); /* counted as dropped by record */
    }
    for (; dropped > 0; dropped--) {
        number(self);
        count_drop(self);
    }
    return 0;
}

/* record_early(events, dropped): see record_early above. */
static PyObject *
Agent_record_early(Agent *self, PyObject *args)
{
    PyObject *events;
    unsigned long long dropped;
    if (!PyArg_ParseTuple(args, "OK", &events, &dropped) || record_early(self, events, dropped) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* The C-level audit hook (PySys_AddAuditHook): CPython calls it without making a str of
   the event name or going through a Python call, which halves the cost per event.  It
   sees every interpreter of the process, so it keeps to the one that installed it, and
   keeps tracers and profilers out of the agent's code, as CPython does for Python hooks. */
#if PY_VERSION_HEX >= 0x030B0000
static int
c_hook(const char *event, PyObject *args, void *data)
{
    Agent *self = (Agent *)data;
    if (self->paused)
        return 0;
    PyThreadState *ts = PyThreadState_Get();
    if (PyThreadState_GetInterpreter(ts) != self->interp || args == NULL
        || !PyTuple_Check(args))
        return 0;
    unsigned long tid = PyThread_get_thread_ident();
    if (self->nquiet && is_quiet(self, tid))
        return 0;
    PyThreadState_EnterTracing(ts);
    int r = on_event(self, event, args, tid);
    PyThreadState_LeaveTracing(ts);
    return r;
}
#endif

/* hook(event, args): the same hook as a Python callable (tests, and interpreters older
   than 3.11, where it goes to sys.addaudithook).  Never raises into the target. */
static PyObject *
Agent_call(Agent *self, PyObject *const *argv, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (self->paused || nargs != 2 || !PyUnicode_Check(argv[0]) || !PyTuple_Check(argv[1]))
        Py_RETURN_NONE;
    unsigned long tid = PyThread_get_thread_ident();
    if (self->nquiet && is_quiet(self, tid))
        Py_RETURN_NONE;
    const char *event = PyUnicode_AsUTF8(argv[0]);
    if (event == NULL) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if (on_event(self, event, argv[1], tid) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* install(): add the C-level hook for this interpreter; False where it cannot be had. */
static PyObject *
Agent_install(Agent *self, PyObject *unused)
{
#if PY_VERSION_HEX >= 0x030B0000
    if (self->interp != NULL)
        Py_RETURN_TRUE;
    self->interp = PyThreadState_GetInterpreter(PyThreadState_Get());
    Py_INCREF(self); /* the runtime keeps the hook until it ends: it keeps us too */
    if (PySys_AddAuditHook(c_hook, self) < 0) {
        self->interp = NULL;
        Py_DECREF(self);
        return NULL;
    }
    Py_RETURN_TRUE;
#else
    Py_RETURN_FALSE;
#endif
}

/* forget_threads(): name every thread again, with its next event (a new monitor). */
static PyObject *
Agent_forget_threads(Agent *self, PyObject *unused)
{
    forget_thread_names(self);
    Py_RETURN_NONE;
}

/* forget(): drop the cached decisions (the decider changed). */
static PyObject *
Agent_forget(Agent *self, PyObject *unused)
{
    memset(self->decided, 0, sizeof self->decided);
    Py_RETURN_NONE;
}
