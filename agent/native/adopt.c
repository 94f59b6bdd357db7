/* Run mode started from C, until and after the Python side adopts it: the started
 * agent and its settings, the decisions it makes without the Python side, the "late"
 * helpers that import the Python core on first need (adopt), and the exit and fork
 * handlers that hand over to the core once it has adopted.  start.c starts it.  Part of
 * module.c's translation unit.
 */

static Agent *started;         /* the agent start_run() made */
static double started_at;      /* its start time (the hello's "start") */
static int startup_seen;       /* its start-up events are among its events (hello's "startup") */
static PyObject *agent_dir;    /* where the agent's package is (off sys.path by then) */
static PyObject *core_module;  /* _auditmon_agent.core, once it adopted the agent */
static int adopt_failed;
static char *run_path;         /* run mode's settings, for a forked child's own link */
static double run_interval, run_flush_timeout;

/* The helpers a started agent has until the Python side adopts it: each adopts, then
   calls the helper the Python side put in its place. */
enum { LATE_FALLBACK, LATE_STACK, LATE_FLUSH, LATE_PRELOAD, LATE_WIRE_TYPES, LATE_COUNT };
static PyObject *late[LATE_COUNT];

/* decide(name): the decision bits for an event when no globs are set, memoised in the
   agent's decisions as config.make_decider's decider does (change both). */
static PyObject *
run_decide(PyObject *module, PyObject *name)
{
    const char *event = PyUnicode_AsUTF8(name);
    if (event == NULL)
        return NULL;
    static const char *const flush_events[] = FLUSH_EVENTS;
    long how = RECORD;
    for (size_t i = 0; i < FLUSH_EVENTS_COUNT; i++)
        if (strcmp(event, flush_events[i]) == 0)
            how |= FLUSH;
    if (strcmp(event, HOOK_ADDED) == 0)
        how |= PRELOAD;
    PyObject *bits = PyLong_FromLong(how);
    if (bits != NULL && started != NULL && PyDict_GET_SIZE(started->decisions) < MAX_DECISIONS
        && PyDict_SetItem(started->decisions, name, bits) < 0)
        Py_CLEAR(bits);
    return bits;
}

/* The agent's Python package, from agent_dir, as sitecustomize's _load_package loads it
   (change both; tests/test_agents_agree.py checks that both ignore a namesake on the path).
   That function is not kept instead: it would keep sitecustomize's globals, and os with
   them, alive to the interpreter's teardown, which then wipes those modules one by one
   (0.4 M instructions at every exit).  New reference; NULL with an exception. */
static PyObject *
load_package(void)
{
    PyObject *name = PyUnicode_FromString("_auditmon_agent");
    if (name == NULL)
        return NULL;
    PyObject *package = PyImport_GetModule(name);
    if (package != NULL || PyErr_Occurred()) {
        Py_DECREF(name);
        return package;
    }
    PyObject *external = PyImport_ImportModule("_frozen_importlib_external");
    PyObject *bootstrap = external ? PyImport_ImportModule("_frozen_importlib") : NULL;
    PyObject *finder = bootstrap ? PyObject_GetAttrString(external, "PathFinder") : NULL;
    PyObject *spec = finder ? PyObject_CallMethod(finder, "find_spec", "O[O]", name, agent_dir)
                            : NULL;
    if (spec == Py_None)
        PyErr_Format(PyExc_ImportError, "auditmon agent: no _auditmon_agent in %R", agent_dir);
    else if (spec != NULL)
        package = PyObject_CallMethod(bootstrap, "_load", "O", spec);
    Py_XDECREF(spec);
    Py_XDECREF(finder);
    Py_XDECREF(bootstrap);
    Py_XDECREF(external);
    Py_DECREF(name);
    return package;
}

/* Import the agent's Python core and have it take the started agent over (core.adopt),
   quietly: those imports are the agent's own.  Borrowed; NULL with an exception. */
static PyObject *
adopt(void)
{
    if (core_module != NULL)
        return core_module;
    if (started == NULL || adopt_failed) {
        PyErr_SetString(PyExc_RuntimeError, "auditmon agent: no Python side to adopt the agent");
        return NULL;
    }
    unsigned long tid = PyThread_get_thread_ident();
    int was_quiet = is_quiet(started, tid);
    if (!was_quiet && quiet_insert(started, tid) < 0)
        return NULL;
    PyObject *core = NULL;
    PyObject *package = load_package();
    if (package != NULL) {
        Py_DECREF(package);
        core = PyImport_ImportModule("_auditmon_agent.core");
    }
    if (core != NULL) {
        PyObject *r = PyObject_CallMethod(core, "adopt", "Od", (PyObject *)started, started_at);
        if (r == NULL)
            Py_CLEAR(core);
        Py_XDECREF(r);
    }
    if (!was_quiet)
        quiet_remove(started, tid);
    if (core == NULL)
        adopt_failed = 1;
    core_module = core;
    return core;
}

static PyObject **
helper_slot(Agent *a, long which)
{
    switch (which) {
    case LATE_FALLBACK: return &a->fallback;
    case LATE_STACK: return &a->stack;
    case LATE_FLUSH: return &a->flush;
    case LATE_PRELOAD: return &a->preload;
    default: return &a->wire_types;
    }
}

static PyObject *
late_call(PyObject *which, PyObject *const *args, Py_ssize_t nargs)
{
    long w = PyLong_AsLong(which);
    if (adopt() == NULL)
        return NULL;
    PyObject *helper = *helper_slot(started, w);
    if (helper == late[w]) {
        PyErr_SetString(PyExc_RuntimeError, "auditmon agent: the Python side gave no helper");
        return NULL;
    }
    Py_INCREF(helper);
    PyObject *r = PyObject_Vectorcall(helper, args, (size_t)nargs, NULL);
    Py_DECREF(helper);
    return r;
}

static PyMethodDef run_decide_def = {"decide", run_decide, METH_O,
                                     "Decision bits for an event, without globs."};

static PyMethodDef late_def = {"late_helper", (PyCFunction)(void (*)(void))late_call,
                               METH_FASTCALL, "Adopt, then call the Python side's helper."};

/* atexit: flush and say goodbye (the Python side's core.at_exit once it adopted). */
static PyObject *
run_at_exit(PyObject *module, PyObject *unused)
{
    if (core_module != NULL)
        return PyObject_CallMethod(core_module, "at_exit", NULL);
    if (started != NULL && link_up(&started->link))
        return Agent_finish(started, Py_False);
    Py_RETURN_NONE;
}

static PyMethodDef at_exit_def;
static PyObject *hello_message(Agent *self);

/* Run mode's hello, as of now, and the link to the monitor (run_path): at start and in a
   forked child.  `since` > 0: the process started then, not now (its first event kept
   by the preload library came then).  -1 with an exception set. */
static int
run_link(Agent *self, double since)
{
    if (run_path == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    started_at = now();
    if (since > 0 && since < started_at)
        started_at = since;
    link_ring(self); /* where there is none, events go over the socket */
    PyObject *hello = hello_message(self);
    if (hello == NULL)
        return -1;
    int linked = link_open(self, run_path, PyBytes_AS_STRING(hello), PyBytes_GET_SIZE(hello),
                           run_interval, run_flush_timeout);
    Py_DECREF(hello);
    if (linked < 0) {
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, run_path);
        return -1;
    }
    return 0;
}

/* A forked child is a new process: as core.after_fork_in_child does, but here, so that a
   child of a process the Python side never adopted doesn't import it (milliseconds per
   fork): an empty queue, a new identity and hello, its own connection.  multiprocessing's
   fork children end with os._exit() after threading's shutdown, never running atexit:
   the flush is registered there too.  Change both; tests/test_agents_agree.py runs both.
   -1 with an exception set. */
static int
restart_in_child(Agent *self)
{
    Py_XDECREF(Agent_reset(self, NULL));
    startup_seen = 1; /* a forked child has no start-up of its own */
    if (run_link(self, 0) < 0)
        return -1;
    PyObject *name = PyUnicode_FromString("threading");
    PyObject *threading = name ? PyImport_GetModule(name) : NULL;
    Py_XDECREF(name);
    if (threading == NULL)
        return PyErr_Occurred() ? -1 : 0; /* not loaded: no multiprocessing child */
    PyObject *at_exit = PyCFunction_New(&at_exit_def, NULL);
    PyObject *r = at_exit ? PyObject_CallMethod(threading, "_register_atexit", "O", at_exit)
                          : NULL;
    Py_XDECREF(at_exit);
    Py_DECREF(threading);
    if (r == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear(); /* an interpreter without it: atexit only, as on the Python side */
        return 0;
    }
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* os.register_at_fork(after_in_child=): a forked child is a new process, set up here or,
   once the Python side has adopted the agent, by it.  Never raises into the child. */
static PyObject *
run_after_fork(PyObject *module, PyObject *unused)
{
    if (core_module == NULL && started != NULL && !adopt_failed) {
        if (restart_in_child(started) < 0) {
            PyErr_Clear();
            started->disabled = 1;
        }
        Py_RETURN_NONE;
    }
    PyObject *core = adopt();
    PyObject *r = core ? PyObject_CallMethod(core, "after_fork_in_child", NULL) : NULL;
    if (r == NULL) {
        PyErr_Clear();
        if (started != NULL)
            started->disabled = 1;
    }
    Py_XDECREF(r);
    Py_RETURN_NONE;
}

static PyMethodDef at_exit_def = {"at_exit", run_at_exit, METH_NOARGS, "Flush, say goodbye."};
static PyMethodDef after_fork_def = {"after_fork_in_child", run_after_fork, METH_NOARGS,
                                     "Start afresh in a forked child."};
