/* The Agent type: construction from the Python side's helpers and limits, and the
 * methods its writers and tests use (take, counters, reset, quiet threads, pack,
 * encode_args, set_helpers).  Part of module.c's translation unit.
 */

static PyObject *
Agent_take(Agent *self, PyObject *unused)
{
    pthread_mutex_lock(&self->lock);
    PyObject *result = NULL;
    PyObject *data = PyBytes_FromStringAndSize(self->buf.data, self->buf.len);
    if (data != NULL)
        result = Py_BuildValue("(nKN)", self->count, self->first_seq, data);
    if (result != NULL) {
        self->buf.len = 0;
        self->count = 0;
        if (self->buf.cap > 4 * 1024 * 1024) { /* give back a burst's memory */
            PyMem_RawFree(self->buf.data);
            self->buf.data = NULL;
            self->buf.cap = 0;
        }
    }
    pthread_mutex_unlock(&self->lock);
    return result;
}

static PyObject *
Agent_counted(Agent *self, PyObject *unused)
{
    return PyLong_FromUnsignedLongLong(self->seq);
}

static PyObject *
Agent_dropped(Agent *self, PyObject *unused)
{
    return PyLong_FromUnsignedLongLong(self->dropped);
}

static PyObject *
Agent_pending(Agent *self, PyObject *unused)
{
    return PyLong_FromSsize_t(self->count);
}

static PyObject *
Agent_reset(Agent *self, PyObject *unused)
{
    pthread_mutex_lock(&self->lock);
    self->buf.len = 0;
    self->encoding = 0;
    self->count = 0;
    self->seq = 0;
    self->dropped = 0;
    self->nquiet = 0;
    self->disabled = 0;
    self->paused = 0;
    pthread_mutex_unlock(&self->lock);
    forget_thread_names(self);
    self->main_tid = PyThread_get_thread_ident();
    Py_RETURN_NONE;
}

/* set_paused(flag): an injected agent that no monitor watches any more costs the target
   as little as a hook can: it returns at once, numbering nothing (attach.py). */
static PyObject *
Agent_set_paused(Agent *self, PyObject *arg)
{
    int flag = PyObject_IsTrue(arg);
    if (flag < 0)
        return NULL;
    self->paused = flag;
    Py_RETURN_NONE;
}

static PyObject *
Agent_set_limit(Agent *self, PyObject *arg)
{
    Py_ssize_t limit = PyLong_AsSsize_t(arg);
    if (limit < 0 && PyErr_Occurred())
        return NULL;
    self->limit = limit;
    Py_RETURN_NONE;
}

static int
quiet_insert(Agent *self, unsigned long tid)
{
    if (!is_quiet(self, tid)) {
        if (self->nquiet >= MAX_QUIET) {
            PyErr_SetString(PyExc_OverflowError, "too many quiet threads");
            return -1;
        }
        self->quiet[self->nquiet++] = tid;
    }
    return 0;
}

static void
quiet_remove(Agent *self, unsigned long tid)
{
    for (int i = 0; i < self->nquiet; i++)
        if (self->quiet[i] == tid) {
            self->quiet[i] = self->quiet[--self->nquiet];
            break;
        }
}

static PyObject *
Agent_quiet_add(Agent *self, PyObject *arg)
{
    unsigned long tid = PyLong_AsUnsignedLong(arg);
    if (PyErr_Occurred() || quiet_insert(self, tid) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
Agent_quiet_discard(Agent *self, PyObject *arg)
{
    unsigned long tid = PyLong_AsUnsignedLong(arg);
    if (PyErr_Occurred())
        return NULL;
    quiet_remove(self, tid);
    Py_RETURN_NONE;
}

/* pack(value): msgpack of an already summarised value (control messages: the agent
   then needs no Python encoder, nor struct, at start-up). */
static PyObject *
Agent_pack(Agent *self, PyObject *value)
{
    Buffer b = {NULL, 0, 0};
    PyObject *result = NULL;
    if (pack_summary(self, &b, value) == 0)
        result = PyBytes_FromStringAndSize(b.data ? b.data : "", b.len);
    PyMem_RawFree(b.data);
    return result;
}

/* encode(args): the summary bytes of an argument tuple (for tests: same as Python's). */
static PyObject *
Agent_encode_args(Agent *self, PyObject *args)
{
    if (!PyTuple_Check(args)) {
        PyErr_SetString(PyExc_TypeError, "a tuple");
        return NULL;
    }
    Buffer b = {NULL, 0, 0};
    PyObject *result = NULL;
    if (summarize_args(self, &b, args) == 0)
        result = PyBytes_FromStringAndSize(b.data ? b.data : "", b.len);
    PyMem_RawFree(b.data);
    return result;
}

static void
set_helpers(Agent *self, PyObject *decisions, PyObject *decide, PyObject *fallback,
            PyObject *stack, PyObject *flush, PyObject *preload, PyObject *wire_types)
{
    Py_INCREF(decisions); Py_XSETREF(self->decisions, decisions);
    Py_INCREF(decide); Py_XSETREF(self->decide, decide);
    Py_INCREF(fallback); Py_XSETREF(self->fallback, fallback);
    Py_INCREF(stack); Py_XSETREF(self->stack, stack);
    Py_INCREF(flush); Py_XSETREF(self->flush, flush);
    Py_INCREF(preload); Py_XSETREF(self->preload, preload);
    Py_INCREF(wire_types); Py_XSETREF(self->wire_types, wire_types);
}

/* set_helpers(decisions=, decide=, fallback=, stack=, flush=, preload=, wire_types=):
   the Python side taking over an agent that run mode started from C. */
static PyObject *
Agent_set_helpers(Agent *self, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"decisions", "decide", "fallback", "stack", "flush", "preload",
                            "wire_types", NULL};
    PyObject *decisions, *decide, *fallback, *stack, *flush, *preload, *wire_types;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!OOOOOO", names, &PyDict_Type,
                                     &decisions, &decide, &fallback, &stack, &flush, &preload,
                                     &wire_types))
        return NULL;
    set_helpers(self, decisions, decide, fallback, stack, flush, preload, wire_types);
    Py_RETURN_NONE;
}

static int
Agent_init(Agent *self, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"decisions", "decide", "fallback", "stack", "flush", "preload",
                            "wire_types", "type_module", "type_qualname",
                            "limit", "strlen", "depth", "width", "budget",
                            NULL};
    PyObject *decisions, *decide, *fallback, *stack, *flush, *preload, *wire_types;
    PyObject *type_module, *type_qualname;
    Py_ssize_t limit, strlen_;
    int depth;
    Py_ssize_t width;
    long budget;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!OOOOOOOOnninl", names, &PyDict_Type,
                                     &decisions, &decide, &fallback, &stack, &flush, &preload,
                                     &wire_types, &type_module, &type_qualname,
                                     &limit,
                                     &strlen_, &depth, &width, &budget))
        return -1;
    set_helpers(self, decisions, decide, fallback, stack, flush, preload, wire_types);
    Py_INCREF(type_module); Py_XSETREF(self->type_module, type_module);
    Py_INCREF(type_qualname); Py_XSETREF(self->type_qualname, type_qualname);
    self->limit = limit;
    self->strlen = strlen_;
    self->depth = depth;
    self->width = width;
    self->budget = budget;
    return 0;
}

static void
Agent_dealloc(Agent *self)
{
    ring_close(&self->ring);
    Py_XDECREF(self->decisions);
    Py_XDECREF(self->decide);
    Py_XDECREF(self->fallback);
    Py_XDECREF(self->stack);
    Py_XDECREF(self->flush);
    Py_XDECREF(self->preload);
    Py_XDECREF(self->wire_types);
    Py_XDECREF(self->cut_type);
    Py_XDECREF(self->described_type);
    Py_XDECREF(self->bigint_type);
    Py_XDECREF(self->type_module);
    Py_XDECREF(self->type_qualname);
    for (int i = 0; i < DESCRIPTION_SLOTS; i++)
        slot_clear(&self->described[i]);
    forget_thread_names(self);
    PyMem_RawFree(self->buf.data);
    PyMem_RawFree(self->scratch.data);
    PyMem_RawFree(self->link.out.data);
    pthread_mutex_destroy(&self->lock);
    pthread_mutex_destroy(&self->link.io);
    pthread_cond_destroy(&self->link.wake);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
Agent_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    Agent *self = (Agent *)type->tp_alloc(type, 0);
    if (self != NULL) {
        self->vectorcall = (vectorcallfunc)Agent_call;
        pthread_mutex_init(&self->lock, NULL);
        pthread_mutex_init(&self->link.io, NULL);
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&self->link.wake, &attr);
        pthread_condattr_destroy(&attr);
        self->link.fd = -1;
        self->ring.fd = -1;
        self->reuse_clock = -1; /* asked in event_time, once a process has many events */
        self->main_tid = PyThread_get_thread_ident();
    }
    return (PyObject *)self;
}

static PyMethodDef Agent_methods[] = {
    {"take", (PyCFunction)Agent_take, METH_NOARGS,
     "(count, first_seq, bytes) of the buffered events; empties the buffer."},
    {"record_early", (PyCFunction)Agent_record_early, METH_VARARGS,
     "record_early(events, dropped): the events kept before the agent started, first."},
    {"counted", (PyCFunction)Agent_counted, METH_NOARGS, "Events numbered so far."},
    {"dropped", (PyCFunction)Agent_dropped, METH_NOARGS, "Events dropped so far."},
    {"pending", (PyCFunction)Agent_pending, METH_NOARGS, "Events waiting in the buffer."},
    {"reset", (PyCFunction)Agent_reset, METH_NOARGS, "Start afresh (a forked child)."},
    {"set_limit", (PyCFunction)Agent_set_limit, METH_O, "Bytes buffered before dropping."},
    {"set_paused", (PyCFunction)Agent_set_paused, METH_O,
     "set_paused(flag): while set, the hook returns at once (nothing numbered)."},
    {"quiet_add", (PyCFunction)Agent_quiet_add, METH_O, "Ignore this thread's events."},
    {"quiet_discard", (PyCFunction)Agent_quiet_discard, METH_O, "Stop ignoring a thread."},
    {"encode_args", (PyCFunction)Agent_encode_args, METH_O, "Summary bytes of args."},
    {"pack", (PyCFunction)Agent_pack, METH_O, "msgpack of a summarised value."},
    {"install", (PyCFunction)Agent_install, METH_NOARGS,
     "Add the C-level audit hook; False where this interpreter has none."},
    {"forget", (PyCFunction)Agent_forget, METH_NOARGS, "Drop the cached decisions."},
    {"forget_threads", (PyCFunction)Agent_forget_threads, METH_NOARGS,
     "Name every thread again, with its next event."},
    {"open_ring", (PyCFunction)Agent_open_ring, METH_NOARGS,
     "Run mode's shared-memory ring, before the hello: its data size (0: none)."},
    {"connect", (PyCFunction)Agent_connect, METH_VARARGS,
     "connect(path, hello, interval, flush_timeout): run mode's link (and its ring)."},
    {"finish", (PyCFunction)Agent_finish, METH_O,
     "finish(final): stop the writer; flush and say goodbye from this thread."},
    {"abandon", (PyCFunction)Agent_abandon, METH_NOARGS,
     "Close the link without a goodbye; record nothing more."},
    {"set_helpers", (PyCFunction)(void (*)(void))Agent_set_helpers,
     METH_VARARGS | METH_KEYWORDS, "Replace the Python helpers (the Python side adopts)."},
    {NULL}};

static PyTypeObject AgentType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_auditmon_native.Agent",
    .tp_basicsize = sizeof(Agent),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = Agent_new,
    .tp_init = (initproc)Agent_init,
    .tp_dealloc = (destructor)Agent_dealloc,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Agent, vectorcall),
    .tp_methods = Agent_methods,
    .tp_doc = "The audit hook with its event buffer (see the module docstring).",
};
