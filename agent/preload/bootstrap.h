/* _auditmon_bootstrap.py's namespace: its code run in a dict of its own (nothing of it
 * stays in sys.modules), its bytecode cached as imports cache it.  The preload library
 * calls its start(), the injection library its inject().  Needs python_api.h's `py`.
 */
#ifndef AUDITMON_BOOTSTRAP_H
#define AUDITMON_BOOTSTRAP_H
#include <limits.h>
#include <stdio.h>

/* The function `function` of _auditmon_bootstrap.py in `directory` (a new reference),
   with the namespace that holds it in *names; NULL with an exception set, or where the
   path is too long. */
static PyObject *
bootstrap_function(const char *directory, const char *function, PyObject **names)
{
    char path[PATH_MAX];
    *names = NULL;
    if (snprintf(path, sizeof path, "%s/%s.py", directory, BOOTSTRAP_MODULE)
        >= (int)sizeof path)
        return NULL;
    PyObject *external = py.ImportModule("_frozen_importlib_external"); /* loaded */
    PyObject *builtins = external ? py.ImportModule("builtins") : NULL;
    PyObject *loader = builtins ? py.CallMethod(external, "SourceFileLoader", "ss",
                                                BOOTSTRAP_MODULE, path)
                                : NULL;
    PyObject *code = loader ? py.CallMethod(loader, "get_code", "s", BOOTSTRAP_MODULE) : NULL;
    PyObject *space = code ? py.DictNew() : NULL;
    PyObject *name = space ? py.BuildValue("s", BOOTSTRAP_MODULE) : NULL;
    PyObject *file = name ? py.BuildValue("s", path) : NULL;
    PyObject *done = NULL, *found = NULL;
    if (file != NULL && py.DictSetItemString(space, "__builtins__", builtins) == 0
        && py.DictSetItemString(space, "__name__", name) == 0
        && py.DictSetItemString(space, "__file__", file) == 0)
        done = py.EvalCode(code, space, space);
    if (done != NULL)
        found = py.DictGetItemString(space, function); /* borrowed */
    if (found != NULL) {
        py.IncRef(found);
        *names = space;
        space = NULL;
    }
    PyObject *held[] = {done, file, name, space, code, loader, builtins, external};
    for (size_t i = 0; i < sizeof held / sizeof *held; i++)
        if (held[i] != NULL)
            py.DecRef(held[i]);
    return found;
}

#endif
