/* A C audit hook that does nothing but count: the floor under any audit hook, as
   bench/run.py's "C hook" configuration (a sitecustomize imports this module). */
#include <Python.h>

static unsigned long long events;

static int
count(const char *event, void *args, void *data)
{
    events++;
    return 0;
}

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_count_hook", NULL, -1, NULL};

PyMODINIT_FUNC
PyInit__count_hook(void)
{
    if (PySys_AddAuditHook((Py_AuditHookFunction)count, NULL) < 0)
        return NULL;
    return PyModule_Create(&module);
}
