/* auditmon agent fast path (_auditmon_native): the audit hook, argument summaries,
 * msgpack encoding and, in run mode, the connection to the monitor, in C.
 *
 * The hook runs with the GIL held (audit hooks always do) and encodes each event.  In
 * run mode it copies it into the shared-memory ring the monitor reads (ring.c), so that
 * events outlive the process, and no thread is started.  In attach mode (and in run
 * mode where no shared memory can be had) it appends the event to a byte buffer under a
 * short lock, which the Python writer takes with take() (or, in run mode, a writer
 * thread of this module's own that never takes the GIL sends).  The bytes are exactly what the
 * pure-Python agent sends (wire.py): tests compare the two on shared inputs.
 *
 * Common argument types are summarised here; anything else (dicts, subclasses, user
 * objects) is handed to the Python summariser, whose result is encoded here, so odd
 * values get the very same treatment on both paths.
 *
 * This file is the extension's only translation unit: it includes the parts below, in
 * this order (each uses only what comes before it, or what agent.h declares ahead).  One
 * unit, rather than parts compiled apart, keeps every static function visible to the
 * compiler where the hook calls it, so the per-event path is inlined as it was when the
 * parts were one file.  setup.py compiles this file and records the SHA-256 of them all.
 */
#include "agent.h"        /* system headers, constants.h, the Agent type, tunables */
#include "buffer.h"       /* the byte buffer and msgpack's primitives */
#include "encode.c"       /* already summarised values: plain data, Cut, Described, BigInt */
#include "describe.c"     /* descriptions of classes, instances, functions, code, frames */
#include "summarize.c"    /* summaries of the common exact types, the fallback to Python */
#include "threads.c"      /* thread names, sent with a thread's first event */
#include "ring.c"         /* run mode's shared-memory ring: events outlive the process */
#include "hook.c"         /* the audit hook: time, decision, encoding, flush events */
#include "connect.c"      /* run mode's socket: out of the target's way, whole sends */
#include "link.c"         /* run mode: the link, hello and goodbye, exit and fork */
#include "agent_type.c"   /* the Agent type and its methods */
#include "adopt.c"        /* run mode started from C until the Python side adopts it */
#include "start.c"        /* run mode started from C: start_run() and what it reads */

/* -- the module ------------------------------------------------------------------------ */
/* __getattr__(name): the constants shared with the Python side (constants.h), made
   when asked for rather than at every import. */
static PyObject *
module_getattr(PyObject *module, PyObject *name)
{
    const char *text = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
    /* The import system asks for __file__ and the like as it loads the module: a miss
       stays cheap (no message formatted). */
    PyObject *value = text != NULL && *text >= 'A' && *text <= 'Z' ? shared_constant(text)
                                                                  : NULL;
    if (value == NULL && !PyErr_Occurred())
        PyErr_SetObject(PyExc_AttributeError, name);
    return value;
}

static PyMethodDef module_methods[] = {
    {"start_run", start_run, METH_VARARGS,
     "start_run(agent_dir, early=None): start run mode from C if it needs nothing of\n"
     "Python, with the events the preload library kept before."},
    {"agent", run_started, METH_NOARGS, "The agent start_run() started, or None."},
    {"disable", run_disable, METH_NOARGS, "Record nothing more in this process."},
    {"decide", run_decide, METH_O, "Decision bits for an event when no globs are set."},
    {"__getattr__", module_getattr, METH_O, "The constants shared with the Python side."},
    {NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_auditmon_native",
    "The auditmon agent's fast path: hook, summaries and msgpack encoding in C, and run\n"
    "mode's start-up and connection.", -1, module_methods,
};

PyMODINIT_FUNC
PyInit__auditmon_native(void)
{
    if (PyType_Ready(&AgentType) < 0)
        return NULL;
    lookup_probe = PyUnicode_InternFromString("__module__");
    if (lookup_probe == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&AgentType);
    if (PyModule_AddObject(m, "Agent", (PyObject *)&AgentType) < 0) {
        Py_DECREF(&AgentType);
        Py_DECREF(m);
        return NULL;
    }
#ifdef AUDITMON_SOURCE_SHA256 /* setup.py's: which sources this was built from */
    if (PyModule_AddStringConstant(m, "SOURCE_SHA256", AUDITMON_SOURCE_SHA256) < 0) {
        Py_DECREF(m);
        return NULL;
    }
#endif
    return m;
}
