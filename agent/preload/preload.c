/* auditmon's preload library (auditmon-preload.so): `auditmon run` and `auditmon env` put
 * it in LD_PRELOAD, so that the agent reaches every CPython of a process tree whatever
 * its parents did to PYTHONPATH (pip's and build's isolated builds, env -u PYTHONPATH,
 * a subprocess given env= without it) and whatever its flags (-I, -E, -S).
 *
 * Why this way.  The dynamic loader runs this library's constructor in every
 * dynamically linked program before main(), and the environment carries LD_PRELOAD to
 * every descendant: -I and -E make CPython ignore the PYTHON* variables, never LD_*.
 * CPython lets an audit hook be added before the interpreter is initialised
 * (PySys_AddAuditHook), so the constructor adds a bootstrap hook, which
 *   - keeps the events raised before the agent starts (the interpreter's own start-up
 *     imports), to be numbered first (early.c);
 *   - starts the agent at the first safe point, a cpython.run_* event (the interpreter
 *     initialised, its main thread, before the program's own code runs), or at the
 *     first sys.addaudithook (a hook of the program's about to be added: the agent's
 *     start must come before it, unseen by it), by running _auditmon_bootstrap.py from
 *     the agent's directory, this library's own;
 *   - or hands what it kept to sitecustomize, where PYTHONPATH brought that in first
 *     (site imports it before any cpython.run_* event): sitecustomize raises the
 *     EARLY_EVENTS audit event with an empty list, this hook answers into it, and
 *     sitecustomize starts the agent.  Either starts it, never both.
 * Weighed and left: restoring PYTHONPATH from the constructor (reaches neither -I nor -E
 * nor -S, and shows in the program's os.environ); re-adding the agent where Popen or
 * exec hands a child an environment without it (can't reach -I or -S, nor past a
 * program that is not Python: sh, make, a compiler driver); a .pth file (auditmon never
 * writes into a target's site-packages); a debugger's attach (permissions, and too late
 * for start-up).
 *
 * What everything else pays.  A program that is not CPython 3.8+ pays for loading this
 * small library, one getenv and one dlsym.  Nothing of Python is linked in: every
 * Python function is looked up by name (python_api.h).  Setuid programs: the loader
 * ignores LD_PRELOAD paths with slashes for them (and glibc drops LD_PRELOAD from their
 * environment); statically linked programs have no loader: both are left alone.  A
 * process whose AUDITMON_MODE is not run or attach (AUDITMON_MODE=off: opted out) takes
 * this library back out of its LD_PRELOAD, so its children are free of it too;
 * otherwise LD_PRELOAD is left as it is, for the grandchildren.
 *
 * Interpreters embedded in another program raise no cpython.run_* event: sitecustomize
 * reaches them (PYTHONPATH) or nothing does, and what the hook keeps for them stays
 * bounded (EARLY_MAX).  Sub-interpreters are left alone, as by the agent.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../native/constants.h" /* the values shared with the agent (no Python.h here) */
#include "python_api.h"
#include "bootstrap.h"
#include "early.c"

/* Exported, yet bound to this copy's own definition from within it (protected). */
#define EXPORTED __attribute__((visibility("protected")))

/* What the bootstrap hook does with the next event. */
enum { IDLE, KEEPING, STARTING, DONE };
static int phase = IDLE;

/* Another copy of this library (a second auditmon's, say) got in first when dlsym
   finds its marker before this one's: one bootstrap hook per process. */
EXPORTED const char auditmon_preload_marker[] = PRELOAD_LIBRARY;

/* This library's file, as LD_PRELOAD named it (a full path); NULL if unknown. */
static const char *
this_library(void)
{
    Dl_info info;
    if (dladdr((void *)&this_library, &info) == 0)
        return NULL;
    return info.dli_fname;
}

/* The agent's directory: this library's own. */
static int
agent_directory(char *out, size_t size)
{
    const char *file = this_library();
    if (file == NULL)
        return -1;
    const char *slash = strrchr(file, '/');
    size_t n = slash ? (size_t)(slash - file) : 0;
    if (slash == NULL || n >= size)
        return -1;
    memcpy(out, file, n);
    out[n] = '\0';
    return 0;
}

static int
debugging(void)
{
    const char *debug = getenv(ENV_DEBUG);
    return debug != NULL && *debug;
}

/* After the agent's start failed: an Exception is the agent's business, printed with
   AUDITMON_DEBUG and gone; KeyboardInterrupt and friends go on as they would have
   (-1: the event that started the agent raises it). */
static int
after_failure(void)
{
    if (py.ErrOccurred() == NULL)
        return 0;
    if (!py.ErrExceptionMatches(*py.ExcException))
        return -1;
    if (debugging())
        py.ErrPrintEx(0); /* 0: sys.last_exc and friends are left as they are */
    else
        py.ErrClear();
    return 0;
}

/* _auditmon_bootstrap.py's start(agent_dir, early) (bootstrap.h). */
static void
run_bootstrap(const char *directory, PyObject *early)
{
    PyObject *names;
    PyObject *start = bootstrap_function(directory, "start", &names);
    PyObject *started = start ? py.CallFunction(start, "sO", directory, early) : NULL;
    PyObject *held[] = {started, start, names};
    for (size_t i = 0; i < sizeof held / sizeof *held; i++)
        if (held[i] != NULL)
            py.DecRef(held[i]);
}

/* A safe point: start the agent with what was kept.  Its own events (imports, the
   connection) come while STARTING: not kept, and its hook is not there yet. */
static int
start_agent(void)
{
    __atomic_store_n(&phase, STARTING, __ATOMIC_RELAXED);
    char directory[PATH_MAX];
    PyObject *kept = hand_kept_events(early_count);
    if (kept == NULL) {
        py.ErrClear();
        kept = py.BuildValue("([]i)", 0); /* none: the agent starts all the same */
    }
    if (kept != NULL && agent_directory(directory, sizeof directory) == 0)
        run_bootstrap(directory, kept);
    if (kept != NULL)
        py.DecRef(kept);
    __atomic_store_n(&phase, DONE, __ATOMIC_RELAXED);
    return after_failure();
}

/* sitecustomize's request (EARLY_EVENTS, with a list): append (events, dropped) to it,
   the events up to site's import of sitecustomize (after it comes the loading of
   auditmon's own module, not the program's doing), and leave the start to it. */
static int
hand_over(PyObject *args)
{
    PyObject *reply = py.TupleSize(args) == 1 ? py.TupleGetItem(args, 0) : NULL;
    if (reply == NULL || !is_exactly(reply, py.ListType)) {
        if (py.ErrOccurred() != NULL)
            py.ErrClear();
        return 0; /* not sitecustomize's: kept on */
    }
    __atomic_store_n(&phase, DONE, __ATOMIC_RELAXED);
    PyObject *kept = hand_kept_events(before_sitecustomize);
    if (kept == NULL || py.ListAppend(reply, kept) < 0)
        py.ErrClear();
    if (kept != NULL)
        py.DecRef(kept);
    return 0;
}

static int
bootstrap_hook(const char *event, PyObject *args, void *unused)
{
    (void)unused;
    if (__atomic_load_n(&phase, __ATOMIC_RELAXED) != KEEPING)
        return 0;
    if (!in_main_interpreter())
        return 0;
    if (strncmp(event, "cpython.run_", 12) == 0 || strcmp(event, HOOK_ADDED) == 0)
        return start_agent();
    if (strcmp(event, EARLY_EVENTS) == 0)
        return hand_over(args);
    keep(event, args);
    return 0;
}

/* auditmon's own processes are never monitored (the agent's is_auditmon_itself). */
static int
auditmon_itself(int argc, char **argv)
{
    for (int i = 0; argv != NULL && i < argc && argv[i] != NULL; i++) {
        const char *slash = strrchr(argv[i], '/');
        if (i == 0 && strcmp(slash ? slash + 1 : argv[0], AUDITMON_COMMAND) == 0)
            return 1;
        if (i > 0 && strcmp(argv[i - 1], "-m") == 0
            && strncmp(argv[i], AUDITMON_COMMAND, sizeof AUDITMON_COMMAND - 1) == 0
            && (argv[i][sizeof AUDITMON_COMMAND - 1] == '\0'
                || argv[i][sizeof AUDITMON_COMMAND - 1] == '.'))
            return 1;
    }
    return 0;
}

/* Opted out: LD_PRELOAD without this library, for this process's children. */
static void
leave_ld_preload(void)
{
    const char *list = getenv("LD_PRELOAD");
    const char *file = this_library();
    if (list == NULL || file == NULL)
        return;
    size_t ours = strlen(file);
    char *kept = malloc(strlen(list) + 1);
    if (kept == NULL)
        return;
    size_t n = 0;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ": ");
        if (len > 0 && !(len == ours && strncmp(p, file, len) == 0)) {
            if (n > 0)
                kept[n++] = ':';
            memcpy(kept + n, p, len);
            n += len;
        }
        p += len;
        p += *p != '\0';
    }
    kept[n] = '\0';
    if (n == 0)
        unsetenv("LD_PRELOAD");
    else if (strcmp(kept, list) != 0)
        setenv("LD_PRELOAD", kept, 1);
    free(kept);
}

static int
mode_is(const char *mode, const char *wanted)
{
    return mode != NULL && strcmp(mode, wanted) == 0;
}

/* Runs in every program the loader starts with this library preloaded: return at once
   in all but a CPython 3.8+ that the environment asks to monitor.  glibc passes the
   program's arguments to a library's constructors. */
__attribute__((constructor)) static void
preload(int argc, char **argv, char **envp)
{
    (void)envp;
    const char *mode = getenv(ENV_MODE);
    if (!mode_is(mode, MODE_RUN) && !mode_is(mode, MODE_ATTACH)) {
        leave_ld_preload();
        return;
    }
    *(void **)&py.AddAuditHook = dlsym(RTLD_DEFAULT, "PySys_AddAuditHook");
    if (py.AddAuditHook == NULL)
        return; /* not CPython, or older than 3.8 */
    const char *monitor = getenv(ENV_SOCKET);
    if ((mode_is(mode, MODE_RUN) && (monitor == NULL || *monitor == '\0'))
        || dlsym(RTLD_DEFAULT, "auditmon_preload_marker") != auditmon_preload_marker
        || auditmon_itself(argc, argv) || !python_api_found())
        return;
    phase = KEEPING;
    if (py.AddAuditHook(bootstrap_hook, NULL) < 0)
        phase = IDLE;
}
