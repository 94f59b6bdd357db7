/* Thread names for the monitor: a thread's first event (and the first after a new thread
 * took over an ident) carries the thread's threading name.  Part of module.c's
 * translation unit, before hook.c, which calls these on every event of a thread other
 * than the last event's.
 */

/* Thread names: an event of a thread other than the last event's looks up that thread's
   name, and carries it as a seventh field if the monitor has not been sent it: a dict
   look-up in threading._active and an attribute read, as the Python hook's
   first_of_thread does (change both).  "Another thread" is told by its thread state's
   unique id, not by its ident, which a new thread reuses once an old one has ended.
   Before threading is imported the agent's own thread is "MainThread", as threading
   will call it.  Never raises. */
static inline uint64_t
current_thread_id(void)
{
#if PY_VERSION_HEX >= 0x03090000
    return PyThreadState_GetID(PyThreadState_Get());
#else
    return PyThreadState_Get()->id;
#endif
}

static inline ThreadSlot *
thread_slot(Agent *self, unsigned long tid)
{
    return &self->threads[((tid >> 12) ^ tid) & (THREAD_SLOTS - 1)];
}

/* The name to send with this event of thread `tid` (a new reference), or NULL. */
static PyObject *
thread_name_to_send(Agent *self, unsigned long tid, uint64_t thread)
{
    self->last_thread = thread;
    PyObject *name = NULL;
    PyObject *modules = PySys_GetObject("modules"); /* borrowed; NULL at teardown */
    PyObject *threading = modules != NULL && PyDict_Check(modules)
                              ? PyDict_GetItemString(modules, "threading")
                              : NULL;
    if (threading != NULL && PyModule_Check(threading)) {
        PyObject *active = PyDict_GetItemString(PyModule_GetDict(threading), "_active");
        PyObject *key = active != NULL && PyDict_Check(active) ? PyLong_FromUnsignedLong(tid)
                                                                : NULL;
        PyObject *thread = key != NULL ? PyDict_GetItemWithError(active, key) : NULL;
        Py_XDECREF(key);
        if (thread != NULL)
            name = PyObject_GetAttrString(thread, "_name");
    }
    else if (threading == NULL && tid == self->main_tid)
        name = PyUnicode_FromString("MainThread");
    ThreadSlot *slot = thread_slot(self, tid);
    if (name == NULL || !PyUnicode_CheckExact(name) || PyUnicode_GET_LENGTH(name) == 0) {
        PyErr_Clear();
        Py_XDECREF(name);
        /* a thread of no name reuses a named one's ident: "" ends that name */
        if (slot->tid == tid && slot->name != NULL && PyUnicode_GET_LENGTH(slot->name) > 0)
            return PyUnicode_New(0, 0);
        return NULL;
    }
    if (slot->tid == tid && slot->name != NULL
        && (slot->name == name || PyUnicode_Compare(slot->name, name) == 0)) {
        Py_DECREF(name);
        return NULL;
    }
    PyErr_Clear();
    return name;
}

/* The monitor has been sent `name` (a reference, taken) for thread `tid`. */
static void
thread_named(Agent *self, unsigned long tid, PyObject *name)
{
    ThreadSlot *slot = thread_slot(self, tid);
    slot->tid = tid;
    Py_XSETREF(slot->name, name);
}

/* Name every thread again, with its next event (a fork's child, a new monitor). */
static void
forget_thread_names(Agent *self)
{
    for (int i = 0; i < THREAD_SLOTS; i++) {
        self->threads[i].tid = 0;
        Py_CLEAR(self->threads[i].name);
    }
    self->last_thread = 0;
}
