/* Run mode, started from C.  Every monitored process pays the agent's start-up.  In run
 * mode with this hook and no event globs, nothing of the agent's Python package is
 * needed to start, so none of it is imported: sitecustomize calls start_run(), which
 * reads the environment, connects, says hello and installs the hook from here.  The
 * Python core is imported ("adopts" this agent, see adopt.c) the first time one of its
 * helpers is needed: a value only the Python summariser describes, another audit hook
 * being added, a fork, disable().  Anything unusual in the environment leaves the start
 * to the Python side, which reads it exactly.  Part of module.c's translation unit.
 */

/* Whether the environment is blank there: unset, or only commas and spaces (no globs). */
static int
env_blank(const char *name)
{
    const char *text = getenv(name);
    for (; text != NULL && *text; text++)
        if (*text != ',' && *text != ' ' && *text != '\t')
            return 0;
    return 1;
}

/* An AUDITMON_* number as config.py reads it: unset or empty gives the default, a plain
   decimal its value (a negative one the default).  0 for anything else: Python's int()
   and float() read more forms, so the Python side starts the agent then. */
static int
env_number(const char *name, double fallback, int integral, double *out)
{
    const char *text = getenv(name);
    *out = fallback;
    if (text == NULL || *text == '\0')
        return 1;
    for (const char *p = text; *p; p++)
        if (!((*p >= '0' && *p <= '9') || *p == '-' || *p == '+'
              || (!integral && (*p == '.' || *p == 'e' || *p == 'E'))))
            return 0;
    char *end;
    errno = 0;
    double value = integral ? (double)strtoll(text, &end, 10) : strtod(text, &end);
    if (*end != '\0' || errno != 0)
        return 0;
    if (value >= 0)
        *out = value;
    return 1;
}

/* The command line as the Python side takes it: sys.orig_argv, else sys.argv (borrowed;
   NULL, or not a list, where neither is usable). */
static PyObject *
command_line(void)
{
    PyObject *argv = PySys_GetObject("orig_argv");
    if (argv == NULL || !PyList_Check(argv) || PyList_GET_SIZE(argv) == 0)
        argv = PySys_GetObject("argv");
    return argv;
}

/* 1 if this is auditmon itself (never monitored), 0 if not, -1 if the argv is unusual
   (the Python side then decides).  The same check as is_auditmon_itself in
   _auditmon_agent/__init__.py: change both (tests/test_agents_agree.py runs both). */
static int
auditmon_itself(void)
{
    const size_t command_len = sizeof AUDITMON_COMMAND - 1;
    PyObject *argv = command_line();
    if (argv == NULL || !PyList_Check(argv))
        return -1;
    Py_ssize_t n = PyList_GET_SIZE(argv);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *arg = PyList_GET_ITEM(argv, i);
        const char *text = PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL;
        if (text == NULL) {
            PyErr_Clear();
            return -1;
        }
        if (i == 0) {
            const char *slash = strrchr(text, '/');
            if (strcmp(slash ? slash + 1 : text, AUDITMON_COMMAND) == 0)
                return 1;
        }
        if (i > 0 && strcmp(PyUnicode_AsUTF8(PyList_GET_ITEM(argv, i - 1)), "-m") == 0
            && strncmp(text, AUDITMON_COMMAND, command_len) == 0
            && (text[command_len] == '\0' || text[command_len] == '.'))
            return 1;
    }
    return 0;
}

/* Agent.identity() (core.py) and NativeLink's hello fields (native.py), in the same
   order: change both. */
static PyObject *
hello_message(Agent *self)
{
    PyObject *fields = PyDict_New(), *value = NULL, *message = NULL;
    if (fields == NULL)
        return NULL;
    PyObject *argv = command_line();
    PyObject *executable = PySys_GetObject("executable");
    PyObject *implementation = PySys_GetObject("implementation");
    PyObject *version = PySys_GetObject("version_info");
    PyObject *name = implementation ? PyObject_GetAttrString(implementation, "name") : NULL;
    if (name == NULL || version == NULL || !PyTuple_Check(version) || PyTuple_GET_SIZE(version) < 3)
        goto done;
#define FIELD(key, make) \
    if ((value = (make)) == NULL || PyDict_SetItemString(fields, key, value) < 0) \
        goto done; \
    Py_CLEAR(value);
    FIELD("pid", PyLong_FromLong((long)getpid()));
    FIELD("ppid", PyLong_FromLong((long)getppid()));
    FIELD("argv", PyList_New(0));
    PyObject *list = PyDict_GetItemString(fields, "argv");
    for (Py_ssize_t i = 0; argv != NULL && PyList_Check(argv) && i < PyList_GET_SIZE(argv); i++) {
        PyObject *arg = PyList_GET_ITEM(argv, i);
        PyObject *text = PyUnicode_CheckExact(arg) ? (Py_INCREF(arg), arg) : PyObject_Str(arg);
        if (text == NULL || PyList_Append(list, text) < 0) {
            Py_XDECREF(text);
            goto done;
        }
        Py_DECREF(text);
    }
    int has_executable = executable != NULL && PyObject_IsTrue(executable) == 1;
    FIELD("executable", has_executable ? (Py_INCREF(executable), executable)
                                       : PyUnicode_FromString(""));
    char *cwd = getcwd(NULL, 0); /* os.getcwd(): decoded as file names are; None if gone */
    value = cwd ? PyUnicode_DecodeFSDefault(cwd) : (Py_INCREF(Py_None), Py_None);
    free(cwd);
    FIELD("cwd", value);
    FIELD("python", PyUnicode_FromFormat("%S %S.%S.%S", name, PyTuple_GET_ITEM(version, 0),
                                         PyTuple_GET_ITEM(version, 1),
                                         PyTuple_GET_ITEM(version, 2)));
    FIELD("start", PyFloat_FromDouble(started_at));
    FIELD("startup", PyBool_FromLong(startup_seen));
    FIELD("agent", PyUnicode_FromString("native"));
    FIELD("v", PyLong_FromLong(WIRE_VERSION));
    FIELD("mode", PyUnicode_FromString(MODE_RUN));
    FIELD("events", PyLong_FromUnsignedLongLong(self->seq));
    if (self->ring.map != NULL)
        FIELD("ring", PyLong_FromUnsignedLongLong(self->ring.size));
#undef FIELD
    value = Py_BuildValue("[iO]", WIRE_HELLO, fields);
    if (value != NULL)
        message = Agent_pack(self, value);
done:
    Py_XDECREF(value);
    Py_XDECREF(name);
    Py_DECREF(fields);
    return message;
}

/* type.__dict__[name].__get__, as summarize.py takes it.  Asked for, not read from
   tp_dict: CPython 3.12+ keeps the dict of a static type like `type` elsewhere. */
static PyObject *
type_getter(const char *name)
{
    PyObject *dict = PyObject_GetAttrString((PyObject *)&PyType_Type, "__dict__");
    PyObject *descriptor = dict ? PyMapping_GetItemString(dict, name) : NULL;
    PyObject *getter = descriptor ? PyObject_GetAttrString(descriptor, "__get__") : NULL;
    Py_XDECREF(descriptor);
    Py_XDECREF(dict);
    return getter;
}

/* A new agent with run mode's settings and the late helpers. */
static Agent *
run_agent(double queue, double strlen_)
{
    Agent *self = (Agent *)Agent_new(&AgentType, NULL, NULL);
    if (self == NULL)
        return NULL;
    PyObject *decisions = PyDict_New();
    PyObject *decide = PyCFunction_New(&run_decide_def, NULL);
    for (long i = 0; i < LATE_COUNT && decisions != NULL; i++)
        if (late[i] == NULL) {
            PyObject *which = PyLong_FromLong(i);
            late[i] = which ? PyCFunction_New(&late_def, which) : NULL;
            Py_XDECREF(which);
            if (late[i] == NULL)
                Py_CLEAR(decisions);
        }
    if (decisions == NULL || decide == NULL
        || (self->type_module = type_getter("__module__")) == NULL
        || (self->type_qualname = type_getter("__qualname__")) == NULL) {
        Py_XDECREF(decisions);
        Py_XDECREF(decide);
        Py_DECREF(self);
        return NULL;
    }
    set_helpers(self, decisions, decide, late[LATE_FALLBACK], late[LATE_STACK],
                late[LATE_FLUSH], late[LATE_PRELOAD], late[LATE_WIRE_TYPES]);
    Py_DECREF(decisions);
    Py_DECREF(decide);
    self->limit = (Py_ssize_t)(queue * BYTES_PER_EVENT);
    self->strlen = (Py_ssize_t)strlen_;
    self->depth = SUMMARY_DEPTH;
    self->width = SUMMARY_WIDTH;
    self->budget = SUMMARY_BUDGET;
    return self;
}

/* As core.start: flush at exit, start afresh in a forked child. */
static int
run_handlers(void)
{
    PyObject *atexit = PyImport_ImportModule("atexit");
    PyObject *os_name = PyUnicode_FromString("os");
    PyObject *os = os_name ? PyImport_GetModule(os_name) : NULL; /* loaded already, by site */
    Py_XDECREF(os_name);
    if (os == NULL && !PyErr_Occurred())
        os = PyImport_ImportModule("os");
    PyObject *at_exit = PyCFunction_New(&at_exit_def, NULL);
    PyObject *after_fork = PyCFunction_New(&after_fork_def, NULL);
    PyObject *registered = NULL, *register_at_fork = NULL, *none = NULL, *kwargs = NULL;
    int r = -1;
    if (atexit == NULL || os == NULL || at_exit == NULL || after_fork == NULL)
        goto done;
    registered = PyObject_CallMethod(atexit, "register", "O", at_exit);
    register_at_fork = PyObject_GetAttrString(os, "register_at_fork");
    kwargs = Py_BuildValue("{sO}", "after_in_child", after_fork);
    none = PyTuple_New(0);
    if (registered == NULL || register_at_fork == NULL || kwargs == NULL || none == NULL)
        goto done;
    Py_DECREF(registered);
    registered = PyObject_Call(register_at_fork, none, kwargs);
    r = registered == NULL ? -1 : 0;
done:
    Py_XDECREF(registered);
    Py_XDECREF(register_at_fork);
    Py_XDECREF(kwargs);
    Py_XDECREF(none);
    Py_XDECREF(at_exit);
    Py_XDECREF(after_fork);
    Py_XDECREF(atexit);
    Py_XDECREF(os);
    return r;
}

/* The C-level hook where the interpreter has it, else the agent as a Python hook. */
static int
run_install(Agent *self)
{
    PyObject *installed = Agent_install(self, NULL);
    if (installed == NULL)
        return -1;
    int done = installed == Py_True;
    Py_DECREF(installed);
    if (done)
        return 0;
    PyObject *sys = PyImport_ImportModule("sys");
    PyObject *r = sys ? PyObject_CallMethod(sys, "addaudithook", "O", (PyObject *)self) : NULL;
    Py_XDECREF(sys);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* start_run(agent_dir, early=None): start run mode here if it needs nothing of the
   Python side; True if that was done (or if this process is auditmon itself, which is
   never monitored), False to leave the start to the Python side.  OSError if the monitor
   can't be reached.  agent_dir is where the agent's package is, for when it is needed;
   early, (events, dropped), what the preload library's bootstrap hook kept before the
   start (record_early, hook.c): numbered first, so that the hello counts them. */
static PyObject *
start_run(PyObject *module, PyObject *args)
{
    PyObject *directory, *early = Py_None, *events = NULL;
    unsigned long long dropped = 0;
    if (!PyArg_ParseTuple(args, "U|O:start_run", &directory, &early))
        return NULL;
    if (early != Py_None && !PyArg_ParseTuple(early, "OK:start_run", &events, &dropped))
        return NULL;
    const char *mode = getenv(ENV_MODE), *path = getenv(ENV_SOCKET);
    const char *kind = getenv(ENV_AGENT);
    double queue, strlen_, interval, flush_timeout;
    if (started != NULL || mode == NULL || strcmp(mode, MODE_RUN) != 0 || path == NULL
        || *path == '\0' || (kind != NULL && strcmp(kind, AGENT_PYTHON) == 0)
        || !env_blank(ENV_EVENTS) || !env_blank(ENV_EXCLUDE) || !env_blank(ENV_STACK)
        || !env_number(ENV_QUEUE, DEFAULT_QUEUE, 1, &queue)
        || !env_number(ENV_STRLEN, DEFAULT_STRLEN, 1, &strlen_)
        || !env_number(ENV_INTERVAL, DEFAULT_INTERVAL, 0, &interval)
        || !env_number(ENV_FLUSH_TIMEOUT, DEFAULT_FLUSH_TIMEOUT, 0, &flush_timeout))
        Py_RETURN_FALSE;
    int itself = auditmon_itself();
    if (itself != 0)
        return PyBool_FromLong(itself > 0);
    Agent *self = run_agent(queue, strlen_);
    if (self == NULL)
        return NULL;
    free(run_path);
    run_path = strdup(path);
    run_interval = interval;
    run_flush_timeout = flush_timeout;
    double first_time = 0; /* the process was there at its first kept event */
    startup_seen = early != Py_None; /* the preload library kept the start-up's events */
    if (events != NULL && (record_early(self, events, dropped) < 0
                           || (PyList_GET_SIZE(events) > 0
                               && !PyArg_ParseTuple(PyList_GET_ITEM(events, 0), "OOd|O",
                                                    &module, &module, &first_time, &module))))
        goto fail;
    if (run_link(self, first_time) < 0)
        goto fail;
    Py_INCREF(directory);
    Py_XSETREF(agent_dir, directory);
    started = self; /* for good: the handlers below and the hook use it until the end */
    if (run_handlers() < 0 || run_install(self) < 0) {
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        Py_XDECREF(Agent_abandon(self, NULL));
        PyErr_Restore(type, value, traceback);
        return NULL;
    }
    if (self->count > 0)
        link_direct(self); /* the kept events go now, as the hook would have sent them */
    Py_RETURN_TRUE;
fail:
    Py_DECREF(self);
    return NULL;
}

/* agent(): the agent start_run() started, or None. */
static PyObject *
run_started(PyObject *module, PyObject *unused)
{
    PyObject *agent = started ? (PyObject *)started : Py_None;
    Py_INCREF(agent);
    return agent;
}

/* disable(): record nothing more in this process (auditmon's own processes). */
static PyObject *
run_disable(PyObject *module, PyObject *unused)
{
    if (core_module != NULL)
        return PyObject_CallMethod(core_module, "disable", NULL);
    if (started == NULL)
        Py_RETURN_NONE;
    started->limit = 0;
    return Agent_abandon(started, NULL);
}
