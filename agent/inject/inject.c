/* auditmon's injection library (auditmon-inject.so): brings the agent up in a running
 * CPython that was started without it, for `auditmon attach PID`.
 *
 * A debugger (auditmon/sources/gdb_inject.py, or lldb_inject.py) stops the target at a
 * safe point (the entry of an allocator or of PyErr_CheckSignals, or with gdb a thread
 * blocked in a system call that holds no lock), dlopens this library and calls
 * auditmon_inject(), which copies its arguments, starts a thread and returns at once;
 * the debugger then leaves.  Nothing of Python runs on the interrupted thread.  The new thread waits for the GIL
 * (PyGILState_Ensure) and runs _auditmon_bootstrap.py's inject() in a namespace of its
 * own, which starts the agent in attach mode and writes its outcome to a file the
 * monitor waits for.  A thread that gets the GIL only after `patience_ms` (the
 * monitor has given up and said so) does nothing, and writes that.
 *
 * Nothing of Python is linked in: every function is looked up by name (python_api.h),
 * so one build serves CPython 3.8 and later, statically linked interpreters included.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../native/constants.h" /* the values shared with the agent (no Python.h here) */
#include "../preload/python_api.h"
#include "../preload/bootstrap.h"

typedef struct {
    char *agent_dir;
    char *settings; /* KEY=VALUE lines: the agent's attach settings */
    char *outcome;  /* the file inject() (or this library) writes its outcome to */
    double deadline; /* CLOCK_MONOTONIC seconds after which the thread does nothing */
} Request;

static struct {
    int (*Ensure)(void);
    void (*Release)(int);
    int (*IsInitialized)(void);
    int (*IsFinalizing)(void);
} gil;

static double
monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The outcome, for the monitor: written whole under a temporary name, then renamed. */
static void
write_outcome(const char *path, const char *text)
{
    char temporary[PATH_MAX];
    if (snprintf(temporary, sizeof temporary, "%s.tmp", path) >= (int)sizeof temporary)
        return;
    int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    size_t n = strlen(text);
    int whole = write(fd, text, n) == (ssize_t)n;
    close(fd);
    if (whole)
        rename(temporary, path);
    else
        unlink(temporary);
}

static void
forget(Request *r)
{
    free(r->agent_dir);
    free(r->settings);
    free(r->outcome);
    free(r);
}

static void *
inject_main(void *arg)
{
    Request *r = arg;
    if (!gil.IsInitialized() || (gil.IsFinalizing != NULL && gil.IsFinalizing())) {
        write_outcome(r->outcome, "error: the interpreter is not running\n");
        forget(r);
        return NULL;
    }
    int state = gil.Ensure();
    if (monotonic() > r->deadline)
        write_outcome(r->outcome, "late: the GIL came after the monitor had given up\n");
    else {
        PyObject *names;
        PyObject *inject = bootstrap_function(r->agent_dir, "inject", &names);
        PyObject *done = inject ? py.CallFunction(inject, "sss", r->agent_dir, r->settings,
                                                  r->outcome)
                                : NULL;
        if (done == NULL) {
            py.ErrClear();
            write_outcome(r->outcome, "error: the agent's bootstrap could not run\n");
        }
        PyObject *held[] = {done, inject, names};
        for (size_t i = 0; i < sizeof held / sizeof *held; i++)
            if (held[i] != NULL)
                py.DecRef(held[i]);
    }
    gil.Release(state);
    forget(r);
    return NULL;
}

/* Called by the debugger: 0 once the thread is started, -1 where it cannot be (no
   CPython 3.8+ here, no memory, no thread); the outcome file says why.  Only copies,
   looks up and starts a thread, with every signal blocked in it (the target's signal
   handlers stay on its own threads). */
__attribute__((visibility("default"))) int
auditmon_inject(const char *agent_dir, const char *settings, const char *outcome,
                long patience_ms)
{
    *(void **)&py.AddAuditHook = dlsym(RTLD_DEFAULT, "PySys_AddAuditHook");
    *(void **)&gil.Ensure = dlsym(RTLD_DEFAULT, "PyGILState_Ensure");
    *(void **)&gil.Release = dlsym(RTLD_DEFAULT, "PyGILState_Release");
    *(void **)&gil.IsInitialized = dlsym(RTLD_DEFAULT, "Py_IsInitialized");
    *(void **)&gil.IsFinalizing = dlsym(RTLD_DEFAULT, "Py_IsFinalizing"); /* 3.13 */
    if (gil.IsFinalizing == NULL)
        *(void **)&gil.IsFinalizing = dlsym(RTLD_DEFAULT, "_Py_IsFinalizing");
    if (py.AddAuditHook == NULL || gil.Ensure == NULL || gil.Release == NULL
        || gil.IsInitialized == NULL || !python_api_found()) {
        write_outcome(outcome, "error: not a CPython 3.8 or later\n");
        return -1;
    }
    Request *r = calloc(1, sizeof *r);
    if (r == NULL)
        return -1;
    r->agent_dir = strdup(agent_dir);
    r->settings = strdup(settings);
    r->outcome = strdup(outcome);
    r->deadline = monotonic() + (double)patience_ms / 1000.0;
    if (r->agent_dir == NULL || r->settings == NULL || r->outcome == NULL) {
        forget(r);
        return -1;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, before;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &before);
    pthread_t thread;
    int failed = pthread_create(&thread, &attr, inject_main, r);
    pthread_sigmask(SIG_SETMASK, &before, NULL);
    pthread_attr_destroy(&attr);
    if (failed) {
        write_outcome(outcome, "error: no thread could be started in the process\n");
        forget(r);
        return -1;
    }
    return 0;
}
