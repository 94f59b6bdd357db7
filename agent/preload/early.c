/* The events raised before the agent starts, kept by the bootstrap hook to be handed to
 * it (the agent numbers them first): each one's name (copied: a name from sys.audit()
 * lives only as long as its str), its arguments (a reference; lists among them copied,
 * as the import event's sys.path is changed in place by site and by sitecustomize),
 * time and thread, as the agent's own hook would take them.  At most EARLY_MAX: those
 * after are counted, and the agent counts them as dropped.  Only ever touched under
 * the main interpreter's GIL.  Part of preload.c's translation unit.
 */

typedef struct {
    char *name;
    PyObject *args;
    double time;
    unsigned long thread;
} EarlyEvent;

static EarlyEvent *early;
static size_t early_count, early_capacity;
static unsigned long long early_dropped;
/* The events before this index were raised before sitecustomize was imported; those
   from it on are the loading of auditmon's own sitecustomize (see hand_over). */
static size_t before_sitecustomize = (size_t)-1;

static double
wall_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
is_exactly(PyObject *value, PyObject *type)
{
    PyObject *its = py.ObjectType(value);
    if (its == NULL)
        return 0;
    py.DecRef(its);
    return its == type;
}

/* args, or a copy of it whose lists are copies (a new reference); NULL on an error. */
static PyObject *
copied_args(PyObject *args)
{
    Py_ssize_t n = py.TupleSize(args);
    if (n < 0)
        return NULL;
    int lists = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        lists += is_exactly(py.TupleGetItem(args, i), py.ListType);
    if (!lists) {
        py.IncRef(args);
        return args;
    }
    PyObject *copy = py.TupleNew(n);
    for (Py_ssize_t i = 0; copy != NULL && i < n; i++) {
        PyObject *item = py.TupleGetItem(args, i);
        if (is_exactly(item, py.ListType))
            item = py.ListGetSlice(item, 0, (Py_ssize_t)(((size_t)-1) >> 1));
        else
            py.IncRef(item);
        if (item == NULL || py.TupleSetItem(copy, i, item) < 0) {
            py.DecRef(copy);
            copy = NULL;
        }
    }
    return copy;
}

static int
is_sitecustomize_import(const char *event, PyObject *args)
{
    if (strcmp(event, "import") != 0 || py.TupleSize(args) < 1)
        return 0;
    PyObject *module = py.TupleGetItem(args, 0);
    return module != NULL && is_exactly(module, py.UnicodeType)
           && py.UnicodeEqualsASCII(module, "sitecustomize") == 0;
}

/* Keep one event; one that can't be kept is counted as dropped. */
static void
keep(const char *event, PyObject *args)
{
    if (early_count == early_capacity && early_count < EARLY_MAX) {
        size_t wanted = early_capacity ? early_capacity * 2 : 256;
        EarlyEvent *grown = realloc(early, (wanted < EARLY_MAX ? wanted : EARLY_MAX)
                                               * sizeof *early);
        if (grown != NULL) {
            early = grown;
            early_capacity = wanted < EARLY_MAX ? wanted : EARLY_MAX;
        }
    }
    EarlyEvent *slot = early_count < early_capacity ? &early[early_count] : NULL;
    if (slot != NULL && (slot->name = strdup(event)) != NULL) {
        slot->args = copied_args(args);
        if (slot->args != NULL) {
            slot->time = wall_time();
            slot->thread = py.ThreadIdent();
            early_count++;
            if (is_sitecustomize_import(event, args))
                before_sitecustomize = early_count;
            return;
        }
        free(slot->name);
    }
    if (py.ErrOccurred() != NULL)
        py.ErrClear();
    early_dropped++;
}

/* Forget what was kept, from index `from` on (references given back). */
static void
forget_from(size_t from)
{
    for (size_t i = from; i < early_count; i++) {
        free(early[i].name);
        py.DecRef(early[i].args);
    }
    if (from < early_count)
        early_count = from;
}

/* The first `count` kept events as the agent takes them, (events, dropped) with events
   a list of (name, args, time, thread), a new reference; the rest forgotten, and
   nothing kept any more.  NULL on an error (the events are forgotten all the same). */
static PyObject *
hand_kept_events(size_t count)
{
    if (count > early_count)
        count = early_count;
    forget_from(count);
    PyObject *events = py.ListNew(0);
    for (size_t i = 0; i < early_count; i++) {
        PyObject *event = NULL;
        if (events != NULL) /* N: the kept reference to args goes into the tuple */
            event = py.BuildValue("(sNdk)", early[i].name, early[i].args, early[i].time,
                                  early[i].thread);
        else
            py.DecRef(early[i].args);
        if (event == NULL || py.ListAppend(events, event) < 0) {
            early_dropped++;
            if (py.ErrOccurred() != NULL)
                py.ErrClear();
        }
        if (event != NULL)
            py.DecRef(event);
        free(early[i].name);
    }
    free(early);
    early = NULL;
    early_count = early_capacity = 0;
    PyObject *answer = events ? py.BuildValue("(NK)", events, early_dropped) : NULL;
    early_dropped = 0;
    return answer;
}
