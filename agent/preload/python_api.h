/* The few CPython functions the preload library calls, found by name in the running
 * process (dlsym with RTLD_DEFAULT): in the libpython it loaded, or in an interpreter
 * linked statically that exports its symbols, as CPython's own builds do.  Nothing of
 * Python is linked in, so that every program can load the library; only a process
 * that turns out to be CPython 3.8+ looks any of these up.  Only functions, with
 * signatures that have not changed from 3.8 to 3.13, and no structure is looked into
 * (reference counts go through Py_IncRef and Py_DecRef).  Part of preload.c's
 * translation unit.
 */
#ifndef AUDITMON_PYTHON_API_H
#define AUDITMON_PYTHON_API_H
#include <dlfcn.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct _object PyObject;
typedef ssize_t Py_ssize_t;
typedef int (*AuditHook)(const char *event, PyObject *args, void *data);

static struct {
    int (*AddAuditHook)(AuditHook, void *);
    /* which interpreter an event is raised in: the main one only */
    void *(*ThreadStateUnchecked)(void);    /* NULL when no thread state (3.8 at start) */
    void *(*ThreadStateInterpreter)(void *); /* 3.9+ */
    void *(*InterpreterGet)(void);          /* 3.8: _PyInterpreterState_Get */
    void *(*InterpreterMain)(void);
    unsigned long (*ThreadIdent)(void);
    void (*IncRef)(PyObject *);
    void (*DecRef)(PyObject *);
    PyObject *(*ObjectType)(PyObject *);
    PyObject *ListType;
    PyObject *UnicodeType;
    Py_ssize_t (*TupleSize)(PyObject *);
    PyObject *(*TupleGetItem)(PyObject *, Py_ssize_t);
    PyObject *(*TupleNew)(Py_ssize_t);
    int (*TupleSetItem)(PyObject *, Py_ssize_t, PyObject *);
    PyObject *(*ListNew)(Py_ssize_t);
    int (*ListAppend)(PyObject *, PyObject *);
    PyObject *(*ListGetSlice)(PyObject *, Py_ssize_t, Py_ssize_t);
    int (*UnicodeEqualsASCII)(PyObject *, const char *); /* 0 when equal, as strcmp */
    PyObject *(*BuildValue)(const char *, ...);
    PyObject *(*ImportModule)(const char *);
    PyObject *(*CallMethod)(PyObject *, const char *, const char *, ...);
    PyObject *(*CallFunction)(PyObject *, const char *, ...);
    PyObject *(*DictNew)(void);
    int (*DictSetItemString)(PyObject *, const char *, PyObject *);
    PyObject *(*DictGetItemString)(PyObject *, const char *);
    PyObject *(*EvalCode)(PyObject *, PyObject *, PyObject *);
    PyObject *(*ErrOccurred)(void);
    void (*ErrClear)(void);
    int (*ErrExceptionMatches)(PyObject *);
    void (*ErrPrintEx)(int);
    PyObject **ExcException;
} py;

static void *
python_symbol(const char *name)
{
    return dlsym(RTLD_DEFAULT, name);
}

/* Look everything up; 0 where something is missing (not a CPython this library knows:
   it then stays out of the way). */
static int
python_api_found(void)
{
#define FIND(field, name) (*(void **)&py.field = python_symbol(name))
    FIND(ThreadStateUnchecked, "PyThreadState_GetUnchecked"); /* 3.13 */
    if (py.ThreadStateUnchecked == NULL)
        FIND(ThreadStateUnchecked, "_PyThreadState_UncheckedGet");
    FIND(ThreadStateInterpreter, "PyThreadState_GetInterpreter");
    if (py.ThreadStateInterpreter == NULL)
        FIND(InterpreterGet, "_PyInterpreterState_Get");
    FIND(InterpreterMain, "PyInterpreterState_Main");
    FIND(ThreadIdent, "PyThread_get_thread_ident");
    FIND(IncRef, "Py_IncRef");
    FIND(DecRef, "Py_DecRef");
    FIND(ObjectType, "PyObject_Type");
    FIND(ListType, "PyList_Type");
    FIND(UnicodeType, "PyUnicode_Type");
    FIND(TupleSize, "PyTuple_Size");
    FIND(TupleGetItem, "PyTuple_GetItem");
    FIND(TupleNew, "PyTuple_New");
    FIND(TupleSetItem, "PyTuple_SetItem");
    FIND(ListNew, "PyList_New");
    FIND(ListAppend, "PyList_Append");
    FIND(ListGetSlice, "PyList_GetSlice");
    FIND(UnicodeEqualsASCII, "PyUnicode_CompareWithASCIIString");
    FIND(BuildValue, "Py_BuildValue");
    FIND(ImportModule, "PyImport_ImportModule");
    FIND(CallMethod, "PyObject_CallMethod");
    FIND(CallFunction, "PyObject_CallFunction");
    FIND(DictNew, "PyDict_New");
    FIND(DictSetItemString, "PyDict_SetItemString");
    FIND(DictGetItemString, "PyDict_GetItemString");
    FIND(EvalCode, "PyEval_EvalCode");
    FIND(ErrOccurred, "PyErr_Occurred");
    FIND(ErrClear, "PyErr_Clear");
    FIND(ErrExceptionMatches, "PyErr_ExceptionMatches");
    FIND(ErrPrintEx, "PyErr_PrintEx");
    FIND(ExcException, "PyExc_Exception");
#undef FIND
    if (py.ThreadStateInterpreter == NULL && py.InterpreterGet == NULL)
        return 0;
    void **slots = (void **)&py;
    for (size_t i = 0; i < sizeof py / sizeof(void *); i++) {
        int either = &slots[i] == (void **)&py.ThreadStateInterpreter
                     || &slots[i] == (void **)&py.InterpreterGet;
        if (slots[i] == NULL && !either)
            return 0;
    }
    return 1;
}

/* Whether the event comes from the main interpreter (with a thread state, so the GIL
   held): sub-interpreters are left alone, as by the agent. */
static inline int
in_main_interpreter(void)
{
    void *tstate = py.ThreadStateUnchecked();
    if (tstate == NULL)
        return 0;
    void *interp = py.ThreadStateInterpreter ? py.ThreadStateInterpreter(tstate)
                                             : py.InterpreterGet();
    return interp != NULL && interp == py.InterpreterMain();
}

#endif
