/* auditmon agent fast path: the audit hook, argument summaries, msgpack encoding and, in
 * run mode, the connection to the monitor, in C.
 *
 * The hook runs with the GIL held (audit hooks always do) and appends each encoded event
 * to a byte buffer under a short lock.  In run mode a writer thread of this module's own
 * (a plain thread that never takes the GIL, so the target never waits for it) swaps the
 * buffer out and sends it; until a process has raised a few events the hook sends each
 * one itself, so a short-lived process never pays for a thread.  In attach mode the
 * Python writer takes the buffer with take().  The
 * bytes are exactly what the pure-Python agent sends (wire.py): tests compare the two
 * on shared inputs.
 *
 * Common argument types are summarised here; anything else (dicts, subclasses, user
 * objects) is handed to the Python summariser, whose result is encoded here, so odd
 * values get the very same treatment on both paths.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>
#include <frameobject.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <x86intrin.h>
#define HAVE_TSC 1
/* Ticks of the time-stamp counter within which an event takes the time of the one before
   (see event_time): under a microsecond at the 2 GHz and more of today's counters. */
#define CLOCK_REUSE_TICKS 2048
/* Events a process raises before it asks whether the counter may be used (see
   invariant_tsc): until then, every event reads the clock. */
#define TSC_ASK_AFTER 64
#endif

/* Message kinds and protocol version: wire.py is the definition (a test compares). */
#define WIRE_VERSION 1
#define WIRE_HELLO 0
#define WIRE_EVENTS 1
#define WIRE_DROPPED 2
#define WIRE_GOODBYE 3

#define RECORD 1
#define STACK 2
#define FLUSH 4
#define PRELOAD 8 /* another audit hook is being added: load what we load lazily now */
#define MAX_QUIET 16
#define DECISION_SLOTS 256
#define DECISION_NAME 48
#define DESCRIPTION_SLOTS 128
/* Run mode sends the first events from the hook itself (one send each) and starts the
   writer thread only after this many, or once this share of the socket's send buffer has
   gone that way (so such a send never waits for the monitor). */
#define DIRECT_EVENTS 16
#define DIRECT_SHARE_OF_SNDBUF 4

/* The hook's decision for an event name, keyed by the name's address (CPython passes
   the same literal every time) and confirmed by its text (a Python string's buffer can
   be freed and its address reused). */
typedef struct {
    const char *address;
    long how;
    Py_ssize_t length; /* strlen(name), which each event's encoding needs */
    char name[DECISION_NAME];
} DecisionSlot;

/* The encoded description of a class, of a class's instances or of a function.  The
   object is held by a weak reference only (the cache must not keep the target's objects
   alive); a class is confirmed by its version tag, which CPython changes whenever the
   class or its bases are modified, a function by its name objects. */
enum { KIND_CLASS = 1, KIND_INSTANCE, KIND_FUNCTION, KIND_METHOD };
typedef struct {
    PyObject *key;       /* borrowed address, compared only */
    int kind;
    PyObject *ref;       /* weak reference to key */
    unsigned int tag;    /* classes: tp_version_tag when encoded */
    PyObject *qualname;  /* functions: the name objects the text was made from */
    PyObject *module;
    int fallback;        /* instances: the Python summariser must see each one */
    char *bytes;         /* the encoded ext value */
    Py_ssize_t len;
} DescriptionSlot;

typedef struct {
    char *data;
    Py_ssize_t len;
    Py_ssize_t cap;
} Buffer;

/* Run mode's connection to the monitor and the writer thread that feeds it (started on
   demand: see link_direct). */
typedef struct {
    int fd;                  /* -1: not connected (attach mode, or gone) */
    pthread_mutex_t io;      /* serialises sends: the writer against the exiting thread */
    pthread_cond_t wake;     /* with the agent's lock: wakes the writer early */
    int running;             /* the writer thread exists */
    int stopping;            /* the writer should end (exit, or disable) */
    int said_goodbye;
    uint64_t reported_drops;
    double interval;         /* seconds between the writer's sends */
    double flush_timeout;    /* the most the exiting thread waits for the monitor */
    Buffer out;              /* the buffer being sent (swapped with the hook's) */
    int direct;              /* events the hook may still send itself, before a writer */
    Py_ssize_t direct_bytes; /* and bytes */
} Link;

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    pthread_mutex_t lock;  /* guards buf, count and first_seq: the hook vs the writer */
    Link link;
    int disabled;          /* record nothing more (the monitor went away) */
    Buffer buf;
    Buffer scratch;        /* where the hook encodes one event before appending it */
    int encoding;          /* hooks encoding right now (nested, or on other threads) */
    Py_ssize_t limit;      /* bytes the buffer may hold before events are dropped */
    Py_ssize_t count;      /* events in the buffer */
    uint64_t first_seq;    /* seq of the first event in the buffer */
    uint64_t seq;          /* events numbered */
    uint64_t dropped;      /* events dropped */
    int reuse_clock;       /* the time-stamp counter is invariant (-1: not asked yet) */
    uint64_t clock_tsc;    /* the counter at the last clock read, and that read */
    double clock_time;
    Py_ssize_t strlen;
    int depth;
    Py_ssize_t width;
    long budget;
    PyObject *decisions;   /* dict: event name -> bits */
    PyObject *decide;      /* callable(name) -> bits, fills decisions */
    PyObject *fallback;    /* callable(value, level, budget_list) -> summary */
    PyObject *stack;       /* callable(tid) -> list of frames or None */
    PyObject *flush;       /* callable(tid, name) */
    PyObject *preload;     /* callable(tid): import now what may be needed later */
    PyObject *wire_types;  /* callable() -> (wire.Cut, wire.Described, wire.BigInt) */
    PyObject *cut_type;    /* NULL until a summary first needs them */
    PyObject *described_type;
    PyObject *bigint_type;
    PyObject *type_module;   /* type.__dict__["__module__"].__get__ */
    PyObject *type_qualname; /* type.__dict__["__qualname__"].__get__ */
    unsigned long quiet[MAX_QUIET];
    int nquiet;
    PyInterpreterState *interp; /* where install() ran: the C hook ignores other ones */
    int closed;            /* the interpreter is being torn down */
    DecisionSlot decided[DECISION_SLOTS];
    DescriptionSlot described[DESCRIPTION_SLOTS];
} Agent;

/* -- buffer ------------------------------------------------------------------------ */
static int
grow(Buffer *b, Py_ssize_t extra)
{
    Py_ssize_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + extra)
        cap *= 2;
    char *data = PyMem_RawRealloc(b->data, cap);
    if (data == NULL)
        return -1;
    b->data = data;
    b->cap = cap;
    return 0;
}

/* Room for `extra` more bytes: inline where there is (nearly always), else grow. */
static inline int
reserve(Buffer *b, Py_ssize_t extra)
{
    return b->len + extra <= b->cap ? 0 : grow(b, extra);
}

static inline int
put(Buffer *b, const void *p, Py_ssize_t n)
{
    if (reserve(b, n) < 0)
        return -1;
    char *to = b->data + b->len;
    if (n <= 16) { /* short strings: a call to memcpy costs more than the copy */
        const char *from = p;
        for (Py_ssize_t i = 0; i < n; i++)
            to[i] = from[i];
    }
    else
        memcpy(to, p, n);
    b->len += n;
    return 0;
}

static inline int
put1(Buffer *b, unsigned char c)
{
    if (b->len >= b->cap && reserve(b, 1) < 0)
        return -1;
    b->data[b->len++] = (char)c;
    return 0;
}

/* A tag and the low `bytes` (1 to 8) bytes of v, big-endian.  Where there is room for
   9 bytes: one 8-byte store of the shifted, byte-swapped value (the bytes past the
   value are overwritten by what follows, or lie past len). */
static inline int
put_be(Buffer *b, unsigned char tag, uint64_t v, int bytes)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (b->len + 9 <= b->cap) {
        char *p = b->data + b->len;
        uint64_t be = __builtin_bswap64(v << (8 * (8 - bytes)));
        p[0] = (char)tag;
        memcpy(p + 1, &be, 8);
        b->len += 1 + bytes;
        return 0;
    }
#endif
    unsigned char tmp[9];
    tmp[0] = tag;
    for (int i = 0; i < bytes; i++)
        tmp[1 + i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    return put(b, tmp, 1 + bytes);
}

/* -- msgpack, the same choices as msgpack-python's packer (use_bin_type=True) ------- */
static inline int
pack_uint(Buffer *b, uint64_t n)
{
    if (n < 0x80)
        return put1(b, (unsigned char)n);
    if (n < 0x100)
        return put_be(b, 0xcc, n, 1);
    if (n < 0x10000)
        return put_be(b, 0xcd, n, 2);
    if (n < 0x100000000ULL)
        return put_be(b, 0xce, n, 4);
    return put_be(b, 0xcf, n, 8);
}

static int
pack_int(Buffer *b, int64_t n)
{
    if (n >= 0)
        return pack_uint(b, (uint64_t)n);
    if (n >= -32)
        return put1(b, (unsigned char)(int8_t)n);
    if (n >= -0x80)
        return put_be(b, 0xd0, (uint64_t)n, 1);
    if (n >= -0x8000)
        return put_be(b, 0xd1, (uint64_t)n, 2);
    if (n >= -0x80000000LL)
        return put_be(b, 0xd2, (uint64_t)n, 4);
    return put_be(b, 0xd3, (uint64_t)n, 8);
}

static int
pack_double(Buffer *b, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, 8);
    return put_be(b, 0xcb, bits, 8);
}

/* An array's or a map's header: the fix form, then 16 and 32 bits (tags tag16, tag16+1). */
static int
pack_container_header(Buffer *b, Py_ssize_t n, unsigned char fix, unsigned char tag16)
{
    if (n < 16)
        return put1(b, (unsigned char)(fix | n));
    if (n < 0x10000)
        return put_be(b, tag16, (uint64_t)n, 2);
    return put_be(b, (unsigned char)(tag16 + 1), (uint64_t)n, 4);
}

static int
pack_array_header(Buffer *b, Py_ssize_t n)
{
    return pack_container_header(b, n, 0x90, 0xdc);
}

static int
pack_map_header(Buffer *b, Py_ssize_t n)
{
    return pack_container_header(b, n, 0x80, 0xde);
}

/* A length in the smallest of msgpack's 8-, 16- and 32-bit forms (str, bin and ext
   each have the three, tagged `tag8` and the next two codes). */
static int
pack_length(Buffer *b, Py_ssize_t n, unsigned char tag8)
{
    if (n < 0x100)
        return put_be(b, tag8, (uint64_t)n, 1);
    if (n < 0x10000)
        return put_be(b, tag8 + 1, (uint64_t)n, 2);
    return put_be(b, tag8 + 2, (uint64_t)n, 4);
}

static inline int
pack_str_bytes(Buffer *b, const char *s, Py_ssize_t n)
{
    int r = n < 32 ? put1(b, (unsigned char)(0xa0 | n)) : pack_length(b, n, 0xd9);
    return r < 0 ? -1 : put(b, s, n);
}

static int
pack_bin(Buffer *b, const char *s, Py_ssize_t n)
{
    return pack_length(b, n, 0xc4) < 0 ? -1 : put(b, s, n);
}

static int
pack_ext_header(Buffer *b, int code, Py_ssize_t n)
{
    unsigned char fixed = 0;
    switch (n) {
    case 1: fixed = 0xd4; break;
    case 2: fixed = 0xd5; break;
    case 4: fixed = 0xd6; break;
    case 8: fixed = 0xd7; break;
    case 16: fixed = 0xd8; break;
    }
    if ((fixed ? put1(b, fixed) : pack_length(b, n, 0xc7)) < 0)
        return -1;
    return put1(b, (unsigned char)(signed char)code);
}

static int pack_summary(Agent *self, Buffer *b, PyObject *v);

/* An exact int, packed where it fits in 64 bits (signed or not); 1, with no exception
   set, where it doesn't. */
static int
pack_exact_int(Buffer *b, PyObject *v)
{
    int overflow = 0;
    long long n = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow == 0)
        return pack_int(b, n);
    if (overflow > 0) {
        unsigned long long u = PyLong_AsUnsignedLongLong(v);
        if (!(u == (unsigned long long)-1 && PyErr_Occurred()))
            return pack_uint(b, u);
        PyErr_Clear();
    }
    return 1;
}

/* Encode a str; Python's "surrogatepass" error handler, like the pure agent. */
static int
pack_pystr(Buffer *b, PyObject *s)
{
    if (PyUnicode_IS_COMPACT_ASCII(s)) /* the usual: its bytes are its UTF-8, in place */
        return pack_str_bytes(b, (const char *)PyUnicode_DATA(s), PyUnicode_GET_LENGTH(s));
    Py_ssize_t n;
    const char *utf8 = PyUnicode_AsUTF8AndSize(s, &n);
    if (utf8 != NULL)
        return pack_str_bytes(b, utf8, n);
    PyErr_Clear();
    PyObject *encoded = PyUnicode_AsEncodedString(s, "utf-8", "surrogatepass");
    if (encoded == NULL)
        return -1;
    int r = pack_str_bytes(b, PyBytes_AS_STRING(encoded), PyBytes_GET_SIZE(encoded));
    Py_DECREF(encoded);
    return r;
}

/* Headers written last: `head` goes at `start`, and what was packed from `payload` on
   (after room left for the largest headers) moves up to follow it. */
static void
place_header(Buffer *b, Py_ssize_t start, Py_ssize_t payload, const Buffer *head)
{
    Py_ssize_t rest = b->len - payload;
    memmove(b->data + start + head->len, b->data + payload, (size_t)rest);
    memcpy(b->data + start, head->data, (size_t)head->len);
    b->len = start + head->len + rest;
}

/* An ext value whose payload is the msgpack of [value, length] (Cut). */
static int
pack_cut_payload(Agent *self, Buffer *b, PyObject *value, PyObject *length)
{
    /* The payload is packed in place after room for the largest ext header, which is
       then written to fit and the payload moved up to it: no buffer of its own (a 64 KiB
       one, allocated and freed for every cut value, cost system calls and page faults). */
    enum { LARGEST_EXT_HEADER = 6 };
    Py_ssize_t start = b->len;
    if (reserve(b, LARGEST_EXT_HEADER) < 0)
        return -1;
    b->len += LARGEST_EXT_HEADER;
    Py_ssize_t payload = b->len;
    if (pack_array_header(b, 2) < 0 || pack_summary(self, b, value) < 0
        || pack_summary(self, b, length) < 0) {
        b->len = start;
        return -1;
    }
    Py_ssize_t n = b->len - payload;
    unsigned char bytes[8];
    Buffer header = {(char *)bytes, 0, sizeof bytes}; /* never grows: at most 6 bytes */
    if (pack_ext_header(&header, 1, n) < 0) {
        b->len = start;
        return -1;
    }
    place_header(b, start, payload, &header);
    return 0;
}

/* The protocol's value classes, fetched the first time a summary holds something else
   than plain data: start-up then never loads the module that defines them. */
static int
load_wire_types(Agent *self)
{
    PyObject *types = PyObject_CallObject(self->wire_types, NULL);
    if (types == NULL)
        return -1;
    PyObject *cut, *described, *bigint;
    if (!PyArg_ParseTuple(types, "OOO", &cut, &described, &bigint)) {
        Py_DECREF(types);
        return -1;
    }
    Py_INCREF(described);
    Py_XSETREF(self->described_type, described);
    Py_INCREF(bigint);
    Py_XSETREF(self->bigint_type, bigint);
    Py_INCREF(cut);
    Py_XSETREF(self->cut_type, cut);
    Py_DECREF(types);
    return 0;
}

/* Encode an already summarised value (the output of the Python summariser). */
static int
pack_summary(Agent *self, Buffer *b, PyObject *v)
{
    PyTypeObject *t = Py_TYPE(v);
    if (v == Py_None)
        return put1(b, 0xc0);
    if (v == Py_True)
        return put1(b, 0xc3);
    if (v == Py_False)
        return put1(b, 0xc2);
    if (t == &PyLong_Type) {
        int r = pack_exact_int(b, v);
        if (r > 0)
            PyErr_SetString(PyExc_OverflowError, "int too wide for a summary");
        return r > 0 ? -1 : r;
    }
    if (t == &PyFloat_Type)
        return pack_double(b, PyFloat_AS_DOUBLE(v));
    if (t == &PyUnicode_Type)
        return pack_pystr(b, v);
    if (t == &PyBytes_Type)
        return pack_bin(b, PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v));
    if (t == &PyList_Type || t == &PyTuple_Type) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(v);
        PyObject **items = PySequence_Fast_ITEMS(v);
        if (pack_array_header(b, n) < 0)
            return -1;
        for (Py_ssize_t i = 0; i < n; i++)
            if (pack_summary(self, b, items[i]) < 0)
                return -1;
        return 0;
    }
    if (t == &PyDict_Type) {
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        if (pack_map_header(b, PyDict_GET_SIZE(v)) < 0)
            return -1;
        while (PyDict_Next(v, &pos, &key, &value))
            if (pack_summary(self, b, key) < 0 || pack_summary(self, b, value) < 0)
                return -1;
        return 0;
    }
    if (self->cut_type == NULL && load_wire_types(self) < 0)
        return -1;
    if ((PyObject *)t == self->cut_type) {
        PyObject *value = PyObject_GetAttrString(v, "value");
        PyObject *length = value ? PyObject_GetAttrString(v, "length") : NULL;
        int r = (value && length) ? pack_cut_payload(self, b, value, length) : -1;
        Py_XDECREF(value);
        Py_XDECREF(length);
        return r;
    }
    if ((PyObject *)t == self->described_type) {
        PyObject *text = PyObject_GetAttrString(v, "text");
        if (text == NULL)
            return -1;
        PyObject *encoded = PyUnicode_AsEncodedString(text, "utf-8", "surrogatepass");
        Py_DECREF(text);
        if (encoded == NULL)
            return -1;
        Py_ssize_t n = PyBytes_GET_SIZE(encoded);
        int r = pack_ext_header(b, 2, n) < 0 ? -1 : put(b, PyBytes_AS_STRING(encoded), n);
        Py_DECREF(encoded);
        return r;
    }
    if ((PyObject *)t == self->bigint_type) {
        PyObject *value = PyObject_GetAttrString(v, "value");
        PyObject *text = value ? PyObject_Str(value) : NULL;
        Py_XDECREF(value);
        if (text == NULL)
            return -1;
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(text, &n);
        int r = (s == NULL || pack_ext_header(b, 3, n) < 0) ? -1 : put(b, s, n);
        Py_DECREF(text);
        return r;
    }
    PyErr_Format(PyExc_TypeError, "cannot encode %s", t->tp_name);
    return -1;
}

/* -- summaries: Summarizer.value() of summarize.py, for the common exact types ------ */
static int summarize_into(Agent *self, Buffer *b, PyObject *v, int level, long *budget);

static int
fallback_into(Agent *self, Buffer *b, PyObject *v, int level, long *budget)
{
    PyObject *holder = Py_BuildValue("[l]", *budget);
    if (holder == NULL)
        return -1;
    PyObject *summary = PyObject_CallFunction(self->fallback, "OiO", v, level, holder);
    if (summary == NULL) {
        Py_DECREF(holder);
        return -1;
    }
    *budget = PyLong_AsLong(PyList_GET_ITEM(holder, 0));
    Py_DECREF(holder);
    int r = pack_summary(self, b, summary);
    Py_DECREF(summary);
    return r;
}

static int
described(Buffer *b, const char *text)
{
    Py_ssize_t n = (Py_ssize_t)strlen(text);
    return pack_ext_header(b, 2, n) < 0 ? -1 : put(b, text, n);
}

/* summarize.py's _qualified(): "module.qualname", or the qualname alone. */
static PyObject *
qualified(PyObject *module, PyObject *qualname)
{
    if (qualname == NULL || !PyUnicode_CheckExact(qualname))
        return NULL;
    if (module != NULL && PyUnicode_CheckExact(module)
        && PyUnicode_CompareWithASCIIString(module, "builtins") != 0
        && PyUnicode_CompareWithASCIIString(module, "__main__") != 0)
        return PyUnicode_FromFormat("%U.%U", module, qualname);
    Py_INCREF(qualname);
    return qualname;
}

static int
pack_described_text(Buffer *b, PyObject *text)
{
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(text, &n);
    if (s == NULL)
        return -1;
    return pack_ext_header(b, 2, n) < 0 ? -1 : put(b, s, n);
}

static PyObject *lookup_probe; /* "__module__", interned */

/* CPython resets a class's version tag whenever the class or one of its bases changes
   (a name, the bases, any attribute): a text cached with the tag is valid while it is. */
static unsigned int
version_tag(PyTypeObject *t)
{
#ifdef Py_TPFLAGS_VALID_VERSION_TAG
    if (!PyType_HasFeature(t, Py_TPFLAGS_VALID_VERSION_TAG))
        return 0;
#endif
    if (t->tp_version_tag == 0) {
#if PY_VERSION_HEX >= 0x030C0000
        PyUnstable_Type_AssignVersionTag(t);
#else
        _PyType_Lookup(t, lookup_probe); /* assigns a tag as it caches the look-up */
#endif
    }
#ifdef Py_TPFLAGS_VALID_VERSION_TAG
    if (!PyType_HasFeature(t, Py_TPFLAGS_VALID_VERSION_TAG))
        return 0;
#endif
    return t->tp_version_tag;
}

/* The object a weak reference points to (borrowed, only compared), or NULL. */
static PyObject *
weak_target(PyObject *ref)
{
#if PY_VERSION_HEX >= 0x030D0000
    PyObject *obj = NULL;
    if (PyWeakref_GetRef(ref, &obj) < 0) {
        PyErr_Clear();
        return NULL;
    }
    Py_XDECREF(obj); /* the caller holds the object it compares with */
    return obj;
#else
    PyObject *obj = PyWeakref_GET_OBJECT(ref);
    return obj == Py_None ? NULL : obj;
#endif
}

static DescriptionSlot *
slot_for(Agent *self, PyObject *key, int kind)
{
    uintptr_t h = ((uintptr_t)key >> 4) * 0x9E3779B1u + (uintptr_t)kind;
    return &self->described[(h >> 7) & (DESCRIPTION_SLOTS - 1)];
}

static void
slot_clear(DescriptionSlot *s)
{
    Py_CLEAR(s->ref);
    Py_CLEAR(s->qualname);
    Py_CLEAR(s->module);
    PyMem_RawFree(s->bytes);
    s->bytes = NULL;
    s->len = 0;
    s->key = NULL;
    s->kind = 0;
    s->fallback = 0;
}

static int
slot_valid(DescriptionSlot *s, PyObject *key, int kind)
{
    if (s->key != key || s->kind != kind || s->ref == NULL || weak_target(s->ref) != key)
        return 0;
    if (kind == KIND_CLASS || kind == KIND_INSTANCE) {
        unsigned int tag = version_tag((PyTypeObject *)key);
        return tag != 0 && tag == s->tag;
    }
    PyFunctionObject *f = (PyFunctionObject *)key;
    return f->func_qualname == s->qualname && f->func_module == s->module;
}

/* Remember what was encoded for key (bytes[start:] of b), when it can be confirmed
   later; otherwise remember nothing. */
static void
slot_store(DescriptionSlot *s, PyObject *key, int kind, Buffer *b, Py_ssize_t start,
           int fallback)
{
    unsigned int tag = 0;
    if (kind == KIND_CLASS || kind == KIND_INSTANCE) {
        tag = version_tag((PyTypeObject *)key);
        if (tag == 0)
            return;
    }
    else {
        PyFunctionObject *f = (PyFunctionObject *)key;
        if (f->func_module != NULL && !PyUnicode_CheckExact(f->func_module))
            return; /* only strings are held, they keep nothing else alive */
    }
    PyObject *ref = PyWeakref_NewRef(key, NULL);
    if (ref == NULL) {
        PyErr_Clear();
        return;
    }
    Py_ssize_t len = fallback ? 0 : b->len - start;
    char *bytes = len ? PyMem_RawMalloc(len) : NULL;
    if (len && bytes == NULL) {
        Py_DECREF(ref);
        return;
    }
    slot_clear(s);
    if (len)
        memcpy(bytes, b->data + start, len);
    s->key = key;
    s->kind = kind;
    s->ref = ref;
    s->tag = tag;
    s->fallback = fallback;
    s->bytes = bytes;
    s->len = len;
    if (kind == KIND_FUNCTION || kind == KIND_METHOD) {
        PyFunctionObject *f = (PyFunctionObject *)key;
        Py_XINCREF(f->func_qualname);
        s->qualname = f->func_qualname;
        Py_XINCREF(f->func_module);
        s->module = f->func_module;
    }
}

/* Whether t is a subclass of the class `name` of the already imported module `module`. */
static int
subclass_of_loaded(PyTypeObject *t, const char *module, const char *name)
{
    PyObject *m = PyDict_GetItemString(PyImport_GetModuleDict(), module); /* borrowed */
    if (m == NULL)
        return 0;
    PyObject *base = PyObject_GetAttrString(m, name);
    if (base == NULL)
        return -1;
    int r = PyType_Check(base) ? PyObject_IsSubclass((PyObject *)t, base) : 0;
    Py_DECREF(base);
    return r;
}

/* summarize.py's instance_text(): "T object" when every instance of t is described
   alike, None when each instance's own value matters (the Python summariser then sees
   each one).  Here in C, so that describing the import system's finder objects does not
   load the summariser into every process. */
static PyObject *
instance_text(Agent *self, PyTypeObject *t)
{
    static PyTypeObject *special[] = {&PyBool_Type, &PyLong_Type, &PyFloat_Type,
                                      &PyUnicode_Type, &PyBytes_Type, &PyByteArray_Type,
                                      &PyTuple_Type, &PyList_Type, &PyDict_Type,
                                      &PyCode_Type, &PyFunction_Type, &PyMethod_Type,
                                      &PyCFunction_Type, &PyModule_Type, &PyFrame_Type};
    if (t == Py_TYPE(Py_None))
        Py_RETURN_NONE;
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        if (t == special[i])
            Py_RETURN_NONE;
    if (PyType_IsSubtype(t, &PyUnicode_Type) || PyType_IsSubtype(t, &PyLong_Type)
        || PyType_IsSubtype(t, &PyFloat_Type) || PyType_IsSubtype(t, &PyType_Type))
        Py_RETURN_NONE;
    int r = subclass_of_loaded(t, "pathlib", "PurePath");
    if (r == 0)
        r = subclass_of_loaded(t, "_socket", "socket");
    if (r != 0) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    PyObject *module = PyObject_CallOneArg(self->type_module, (PyObject *)t);
    PyObject *qualname = module ? PyObject_CallOneArg(self->type_qualname, (PyObject *)t) : NULL;
    PyObject *name = qualname ? qualified(module, qualname) : NULL;
    Py_XDECREF(module);
    Py_XDECREF(qualname);
    PyObject *text = name ? PyUnicode_FromFormat("%U object", name) : NULL;
    Py_XDECREF(name);
    return text;
}

/* The text of a class, a function or a method's function, freshly made. */
static PyObject *
description_text(Agent *self, PyObject *key, int kind)
{
    if (kind == KIND_CLASS) {
        PyObject *module = PyObject_CallOneArg(self->type_module, key);
        PyObject *qualname = module ? PyObject_CallOneArg(self->type_qualname, key) : NULL;
        PyObject *name = qualname ? qualified(module, qualname) : NULL;
        Py_XDECREF(module);
        Py_XDECREF(qualname);
        PyObject *text = name ? PyUnicode_FromFormat("class %U", name) : NULL;
        Py_XDECREF(name);
        return text;
    }
    if (kind == KIND_INSTANCE)
        return instance_text(self, (PyTypeObject *)key);
    PyFunctionObject *f = (PyFunctionObject *)key;
    PyObject *name = qualified(f->func_module, f->func_qualname);
    PyObject *text = NULL;
    if (name != NULL)
        text = PyUnicode_FromFormat(kind == KIND_METHOD ? "method %U" : "function %U", name);
    Py_XDECREF(name);
    return text;
}

/* Encode the description of key (cached); 1 when done, 0 to leave the value to the
   Python summariser, -1 on error. */
static int
describe_cached(Agent *self, Buffer *b, PyObject *key, int kind)
{
    DescriptionSlot *s = slot_for(self, key, kind);
    if (slot_valid(s, key, kind)) {
        if (s->fallback)
            return 0;
        return put(b, s->bytes, s->len) < 0 ? -1 : 1;
    }
    PyObject *text = description_text(self, key, kind);
    if (text == NULL) {
        PyErr_Clear();
        return 0; /* the Python side knows what to say instead */
    }
    if (text == Py_None) {
        Py_DECREF(text);
        slot_store(s, key, kind, b, b->len, 1);
        return 0;
    }
    Py_ssize_t start = b->len;
    int r = PyUnicode_Check(text) ? pack_described_text(b, text) : -1;
    Py_DECREF(text);
    if (r < 0) {
        PyErr_Clear();
        b->len = start;
        return 0;
    }
    slot_store(s, key, kind, b, start, 0);
    return 1;
}

/* An ext description made of ASCII head and two UTF-8 parts: "code NAME at FILE:LINE". */
static int
describe_code(Buffer *b, PyCodeObject *code)
{
    Py_ssize_t name_len, file_len;
    const char *name = PyUnicode_Check(code->co_name)
                           ? PyUnicode_AsUTF8AndSize(code->co_name, &name_len) : NULL;
    const char *file = name && PyUnicode_Check(code->co_filename)
                           ? PyUnicode_AsUTF8AndSize(code->co_filename, &file_len) : NULL;
    if (file == NULL) {
        PyErr_Clear();
        return 0;
    }
    char line[24];
    int line_len = snprintf(line, sizeof line, ":%d", code->co_firstlineno);
    Py_ssize_t n = 5 + name_len + 4 + file_len + line_len;
    if (pack_ext_header(b, 2, n) < 0 || put(b, "code ", 5) < 0 || put(b, name, name_len) < 0
        || put(b, " at ", 4) < 0 || put(b, file, file_len) < 0 || put(b, line, line_len) < 0)
        return -1;
    return 1;
}

/* describe() of summarize.py, in C for what events carry most: classes, their instances,
   functions and methods (sys.meta_path and sys.path_hooks ride on every import event),
   frames (logging's sys._getframe), code objects (exec) and built-in functions.
   Returns 1 when done, 0 to leave the value to the Python summariser, -1 on error. */
static int
describe_common(Agent *self, Buffer *b, PyObject *v)
{
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyFrame_Type) /* a line number would cost a walk of the line table */
        return described(b, "frame") < 0 ? -1 : 1;
    if (t == &PyFunction_Type)
        return describe_cached(self, b, v, KIND_FUNCTION);
    if (t == &PyMethod_Type) {
        PyObject *func = PyMethod_GET_FUNCTION(v);
        if (Py_TYPE(func) == &PyFunction_Type)
            return describe_cached(self, b, func, KIND_METHOD);
        return described(b, "method") < 0 ? -1 : 1;
    }
    if (t == &PyCode_Type)
        return describe_code(b, (PyCodeObject *)v);
    if (t == &PyCFunction_Type) {
        const char *name = ((PyCFunctionObject *)v)->m_ml->ml_name;
        Py_ssize_t n = (Py_ssize_t)strlen(name);
        if (pack_ext_header(b, 2, 18 + n) < 0 || put(b, "built-in function ", 18) < 0
            || put(b, name, n) < 0)
            return -1;
        return 1;
    }
    if (PyType_Check(v))
        return describe_cached(self, b, v, KIND_CLASS);
    return describe_cached(self, b, (PyObject *)t, KIND_INSTANCE);
}

static int
summarize_sequence(Agent *self, Buffer *b, PyObject *v, int level, long *budget)
{
    Py_ssize_t n = PySequence_Fast_GET_SIZE(v);
    if (level >= self->depth || *budget <= 0) {
        char text[64];
        snprintf(text, sizeof text, "%s of %zd items",
                 Py_TYPE(v) == &PyList_Type ? "list" : "tuple", n);
        return described(b, text);
    }
    /* Whether the result is a plain array or a Cut depends on how many items fit in the
       width and the budget: they are encoded in place, after room for the largest
       headers either may need, which are written last, the items moved up to them. */
    enum { ROOM = 6 + 1 + 5 }; /* ext header, [kept, length] header, items header */
    Py_ssize_t start = b->len;
    if (reserve(b, ROOM) < 0)
        return -1;
    b->len += ROOM;
    Py_ssize_t items = b->len;
    Py_ssize_t kept = 0, limit = n < self->width ? n : self->width;
    PyObject **elements = PySequence_Fast_ITEMS(v);
    for (Py_ssize_t i = 0; i < limit; i++) {
        if (*budget <= 0)
            break;
        if (summarize_into(self, b, elements[i], level + 1, budget) < 0) {
            b->len = start;
            return -1;
        }
        kept++;
    }
    unsigned char head_bytes[16], array_bytes[8];
    Buffer head = {(char *)head_bytes, 0, sizeof head_bytes};    /* never grows: <= 12 */
    Buffer array = {(char *)array_bytes, 0, sizeof array_bytes}; /* never grows: <= 5 */
    Py_ssize_t items_len = b->len - items;
    if (pack_array_header(&array, kept) < 0)
        goto fail;
    if (kept < n) { /* a Cut: ext 1, payload [[kept items...], length] */
        if (pack_uint(b, (uint64_t)n) < 0)
            goto fail;
        Py_ssize_t length_len = b->len - items - items_len;
        if (pack_ext_header(&head, 1, 1 + array.len + items_len + length_len) < 0
            || pack_array_header(&head, 2) < 0)
            goto fail;
    }
    if (put(&head, array.data, array.len) < 0)
        goto fail;
    place_header(b, start, items, &head);
    return 0;
fail:
    b->len = start;
    return -1;
}

static int
summarize_into(Agent *self, Buffer *b, PyObject *v, int level, long *budget)
{
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyUnicode_Type || t == &PyBytes_Type || t == &PyList_Type || t == &PyTuple_Type
        || t == &PyLong_Type || t == &PyFloat_Type || v == Py_None || t == &PyBool_Type) {
        *budget -= 1;
        if (v == Py_None || t == &PyBool_Type || t == &PyFloat_Type)
            return pack_summary(self, b, v);
        if (t == &PyLong_Type) {
            int r = pack_exact_int(b, v);
            if (r <= 0)
                return r;
            *budget += 1; /* the fallback counts this node itself */
            return fallback_into(self, b, v, level, budget);
        }
        if (t == &PyUnicode_Type) {
            Py_ssize_t n = PyUnicode_GET_LENGTH(v);
            if (n <= self->strlen)
                return pack_pystr(b, v);
            PyObject *prefix = PyUnicode_Substring(v, 0, self->strlen);
            PyObject *length = PyLong_FromSsize_t(n);
            int r = (prefix && length) ? pack_cut_payload(self, b, prefix, length) : -1;
            Py_XDECREF(prefix);
            Py_XDECREF(length);
            return r;
        }
        if (t == &PyBytes_Type) {
            Py_ssize_t n = PyBytes_GET_SIZE(v);
            if (n <= self->strlen)
                return pack_bin(b, PyBytes_AS_STRING(v), n);
            PyObject *prefix = PyBytes_FromStringAndSize(PyBytes_AS_STRING(v), self->strlen);
            PyObject *length = PyLong_FromSsize_t(n);
            int r = (prefix && length) ? pack_cut_payload(self, b, prefix, length) : -1;
            Py_XDECREF(prefix);
            Py_XDECREF(length);
            return r;
        }
        return summarize_sequence(self, b, v, level, budget);
    }
    Py_ssize_t start = b->len;
    int done = describe_common(self, b, v);
    if (done != 0) {
        if (done < 0)
            b->len = start;
        else
            *budget -= 1;
        return done < 0 ? -1 : 0;
    }
    return fallback_into(self, b, v, level, budget);
}

/* Summarizer.args(): plain top-level values pass without touching a budget. */
static int
summarize_args(Agent *self, Buffer *b, PyObject *args)
{
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (pack_array_header(b, n) < 0)
        return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyTuple_GET_ITEM(args, i);
        PyTypeObject *t = Py_TYPE(v);
        long budget = self->budget;
        if (t == &PyUnicode_Type && PyUnicode_GET_LENGTH(v) <= self->strlen) {
            if (pack_pystr(b, v) < 0)
                return -1;
        }
        else if (t == &PyLong_Type) {
            int r = pack_exact_int(b, v); /* 1: wider than 64 bits, for the Python side */
            if (r < 0 || (r > 0 && fallback_into(self, b, v, 0, &budget) < 0))
                return -1;
        }
        else if (v == Py_None || t == &PyBool_Type || t == &PyFloat_Type) {
            if (pack_summary(self, b, v) < 0)
                return -1;
        }
        else if (summarize_into(self, b, v, 0, &budget) < 0)
            return -1;
    }
    return 0;
}

/* -- the hook ------------------------------------------------------------------------ */
static inline double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Whether the time-stamp counter ticks at a constant rate, through sleep states too
   (CPUID's invariant TSC bit).  Two CPUID instructions, which a virtual machine traps:
   4 µs each here, so a process is asked only once it has raised TSC_ASK_AFTER events
   (most short ones never do). */
static int
invariant_tsc(void)
{
#ifdef HAVE_TSC
    unsigned int a, b, c, d;
    if (__get_cpuid_max(0x80000000, NULL) < 0x80000007)
        return 0;
    __cpuid(0x80000007, a, b, c, d);
    return (d >> 8) & 1;
#else
    return 0;
#endif
}

/* An event's time: the clock, or, where the time-stamp counter runs at a constant rate
   and has advanced fewer than CLOCK_REUSE_TICKS since the last read, that read again.
   Reading the counter costs a third of reading the clock (10 ns against 23 here), and a
   dense stream of events pays for the clock once a microsecond or so; a time is at most
   that much early (a double holds an epoch time to a quarter of a microsecond anyway).
   Called under the GIL.  A counter behind the last read (another core's, or a forked
   child's) wraps the unsigned difference: the clock is read. */
static inline double
event_time(Agent *self)
{
#ifdef HAVE_TSC
    if (self->reuse_clock > 0) {
        uint64_t tsc = __rdtsc();
        if (tsc - self->clock_tsc < CLOCK_REUSE_TICKS)
            return self->clock_time;
        self->clock_tsc = tsc;
        self->clock_time = now();
        return self->clock_time;
    }
    if (self->reuse_clock < 0 && self->seq >= TSC_ASK_AFTER)
        self->reuse_clock = invariant_tsc();
#endif
    return now();
}

static int
is_quiet(Agent *self, unsigned long tid)
{
    for (int i = 0; i < self->nquiet; i++)
        if (self->quiet[i] == tid)
            return 1;
    return 0;
}

static long
decision(Agent *self, PyObject *name)
{
    PyObject *bits = PyDict_GetItemWithError(self->decisions, name);
    if (bits != NULL)
        return PyLong_AsLong(bits);
    if (PyErr_Occurred())
        return -1;
    PyObject *computed = PyObject_CallOneArg(self->decide, name);
    if (computed == NULL)
        return -1;
    long result = PyLong_AsLong(computed);
    Py_DECREF(computed);
    return result;
}

/* The decision for an event name: from the slot its address picks, else from Python. */
static long
cached_decision(Agent *self, const char *event, Py_ssize_t *length)
{
    uintptr_t h = ((uintptr_t)event >> 3) ^ ((uintptr_t)event >> 11);
    DecisionSlot *slot = &self->decided[h & (DECISION_SLOTS - 1)];
    if (slot->address == event && strcmp(slot->name, event) == 0) {
        *length = slot->length;
        return slot->how;
    }
    PyObject *name = PyUnicode_FromString(event);
    if (name == NULL)
        return -1;
    long how = decision(self, name);
    Py_DECREF(name);
    size_t n = strlen(event);
    *length = (Py_ssize_t)n;
    if (how >= 0 && n < DECISION_NAME) {
        slot->address = event;
        memcpy(slot->name, event, n + 1);
        slot->length = (Py_ssize_t)n;
        slot->how = how;
    }
    return how;
}

static int
encode_event(Agent *self, Buffer *b, uint64_t seq, const char *name, Py_ssize_t name_length,
             PyObject *args, unsigned long tid, long how)
{
    if (put1(b, 0x96) < 0 || pack_uint(b, seq) < 0 || pack_double(b, event_time(self)) < 0
        || pack_uint(b, (uint64_t)tid) < 0
        || pack_str_bytes(b, name, name_length) < 0
        || summarize_args(self, b, args) < 0)
        return -1;
    if (how & STACK) {
        PyObject *frames = PyObject_CallFunction(self->stack, "k", tid);
        if (frames == NULL)
            return -1;
        int r = pack_summary(self, b, frames);
        Py_DECREF(frames);
        return r;
    }
    return put1(b, 0xc0);
}

/* Counters the writer thread reads without the GIL: stored whole, never torn. */
static inline void
bump(uint64_t *counter)
{
    __atomic_store_n(counter, *counter + 1, __ATOMIC_RELAXED);
}

static int link_flush(Agent *self, int final);
static void link_direct(Agent *self);

/* Encode the event on its own, then append it whole: the Python summariser may run (and
   let another thread, or a nested audit event, append) while an event is encoded. */
static int
record(Agent *self, const char *name, Py_ssize_t name_length, PyObject *args,
       unsigned long tid, long how)
{
    uint64_t seq = ++self->seq;
    if (__atomic_load_n(&self->buf.len, __ATOMIC_RELAXED) >= self->limit) {
        bump(&self->dropped);
        return 0;
    }
    Buffer local = {NULL, 0, 0};
    Buffer *b = self->encoding ? &local : &self->scratch;
    self->encoding++;
    b->len = 0;
    int r = encode_event(self, b, seq, name, name_length, args, tid, how);
    self->encoding--;
    int kept = 0;
    if (r == 0) {
        pthread_mutex_lock(&self->lock);
        if (self->buf.len < self->limit && put(&self->buf, b->data, b->len) == 0) {
            if (self->count == 0)
                self->first_seq = seq;
            self->count++;
            kept = 1;
        }
        pthread_mutex_unlock(&self->lock);
    }
    if (!kept)
        bump(&self->dropped);
    if (local.data != NULL) /* a nested event's only: the usual path makes no call */
        PyMem_RawFree(local.data);
    return r;
}

/* One event, from either entry point; -1 only to let KeyboardInterrupt and friends go
   on as they would have.  Nothing else ever reaches the target. */
static int
on_event(Agent *self, const char *event, PyObject *args, unsigned long tid)
{
    if (self->disabled)
        return 0;
    Py_ssize_t name_length = 0;
    long how = cached_decision(self, event, &name_length);
    if (how < 0 && !self->closed) {
        /* undecidable (the Python side's decider, its module torn down already): the
           event is numbered and counted as dropped, not lost silently */
        ++self->seq;
        bump(&self->dropped);
    }
    if (how > 0 && (how & PRELOAD)) {
        PyObject *r = PyObject_CallFunction(self->preload, "k", tid);
        Py_XDECREF(r);
    }
    if (how > 0 && (how & RECORD) && !self->closed) {
        if (record(self, event, name_length, args, tid, how) == 0 && (how & FLUSH)) {
            /* exec or interpreter teardown: send now, the writer may not get to */
            int teardown = strncmp(event, "cpython.", 8) == 0;
            if (self->link.fd >= 0)
                link_flush(self, teardown);
            else {
                PyObject *r = PyObject_CallFunction(self->flush, "ks", tid, event);
                Py_XDECREF(r);
            }
            if (teardown)
                self->closed = 1; /* the interpreter is being torn down: nothing after */
        }
        else if (!self->link.running && self->link.fd >= 0)
            link_direct(self);
    }
    if (PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_Exception))
            return -1;
        PyErr_Clear();
    }
    return 0;
}

/* The C-level audit hook (PySys_AddAuditHook): CPython calls it without making a str of
   the event name or going through a Python call, which halves the cost per event.  It
   sees every interpreter of the process, so it keeps to the one that installed it, and
   keeps tracers and profilers out of the agent's code, as CPython does for Python hooks. */
#if PY_VERSION_HEX >= 0x030B0000
static int
c_hook(const char *event, PyObject *args, void *data)
{
    Agent *self = (Agent *)data;
    PyThreadState *ts = PyThreadState_Get();
    if (PyThreadState_GetInterpreter(ts) != self->interp || args == NULL
        || !PyTuple_Check(args))
        return 0;
    unsigned long tid = PyThread_get_thread_ident();
    if (self->nquiet && is_quiet(self, tid))
        return 0;
    PyThreadState_EnterTracing(ts);
    int r = on_event(self, event, args, tid);
    PyThreadState_LeaveTracing(ts);
    return r;
}
#endif

/* hook(event, args): the same hook as a Python callable (tests, and interpreters older
   than 3.11, where it goes to sys.addaudithook).  Never raises into the target. */
static PyObject *
Agent_call(Agent *self, PyObject *const *argv, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != 2 || !PyUnicode_Check(argv[0]) || !PyTuple_Check(argv[1]))
        Py_RETURN_NONE;
    unsigned long tid = PyThread_get_thread_ident();
    if (self->nquiet && is_quiet(self, tid))
        Py_RETURN_NONE;
    const char *event = PyUnicode_AsUTF8(argv[0]);
    if (event == NULL) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if (on_event(self, event, argv[1], tid) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* install(): add the C-level hook for this interpreter; False where it cannot be had. */
static PyObject *
Agent_install(Agent *self, PyObject *unused)
{
#if PY_VERSION_HEX >= 0x030B0000
    if (self->interp != NULL)
        Py_RETURN_TRUE;
    self->interp = PyThreadState_GetInterpreter(PyThreadState_Get());
    Py_INCREF(self); /* the runtime keeps the hook until it ends: it keeps us too */
    if (PySys_AddAuditHook(c_hook, self) < 0) {
        self->interp = NULL;
        Py_DECREF(self);
        return NULL;
    }
    Py_RETURN_TRUE;
#else
    Py_RETURN_FALSE;
#endif
}

/* forget(): drop the cached decisions (the decider changed). */
static PyObject *
Agent_forget(Agent *self, PyObject *unused)
{
    memset(self->decided, 0, sizeof self->decided);
    Py_RETURN_NONE;
}

/* -- run mode's link to the monitor ------------------------------------------------ */
static Agent *linked_agent;  /* the agent whose link the fork and exit handlers look after */

static int
send_all(int fd, const char *p, Py_ssize_t n)
{
    while (n > 0) {
        ssize_t sent = send(fd, p, (size_t)n, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += sent;
        n -= sent;
    }
    return 0;
}

/* The parts in order, in as few system calls as the socket takes them: each send wakes
   the monitor, which shares the machine with the target. */
static int
send_parts(int fd, struct iovec *parts, int n)
{
    while (n > 0 && parts->iov_len == 0) {
        parts++;
        n--;
    }
    while (n > 0) {
        struct msghdr msg;
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = parts;
        msg.msg_iovlen = (size_t)n;
        ssize_t sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        while (n > 0 && (size_t)sent >= parts->iov_len) {
            sent -= (ssize_t)parts->iov_len;
            parts++;
            n--;
        }
        if (n > 0) {
            parts->iov_base = (char *)parts->iov_base + sent;
            parts->iov_len -= (size_t)sent;
        }
    }
    return 0;
}

static void
link_close(Link *l)
{
    if (l->fd >= 0) {
        close(l->fd);
        l->fd = -1;
    }
}

/* The goodbye: the process is done, having numbered last_seq events. */
static void
pack_goodbye(Buffer *b, uint64_t last_seq)
{
    put1(b, 0x92);
    put1(b, WIRE_GOODBYE);
    pack_map_header(b, 3);
    pack_str_bytes(b, "time", 4);
    pack_double(b, now());
    pack_str_bytes(b, "exit_code", 9);
    put1(b, 0xc0);
    pack_str_bytes(b, "last_seq", 8);
    pack_uint(b, last_seq);
}

/* Send what the hook has buffered, after a drop report if events were dropped since the
   last one, and then `tail` (a goodbye, or nothing), all in one sendmsg: the hook's
   buffer is swapped with the spare under the lock, and sent without it.  Called with
   link.io held; -1 once the monitor is gone. */
static int
link_send_pending(Agent *self, const Buffer *tail)
{
    Link *l = &self->link;
    if (l->fd < 0)
        return -1;
    pthread_mutex_lock(&self->lock);
    Buffer taken = self->buf;
    self->buf = l->out;
    self->buf.len = 0;
    Py_ssize_t count = self->count;
    self->count = 0;
    uint64_t dropped = __atomic_load_n(&self->dropped, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&self->lock);
    l->out = taken;
    unsigned char head_bytes[32];
    Buffer head = {(char *)head_bytes, 0, sizeof head_bytes}; /* never grows: 20 bytes */
    if (dropped > l->reported_drops) {
        put1(&head, 0x92);
        put1(&head, WIRE_DROPPED);
        pack_map_header(&head, 1);
        pack_str_bytes(&head, "count", 5);
        pack_uint(&head, dropped - l->reported_drops);
        l->reported_drops = dropped;
    }
    if (count) {
        put1(&head, 0x92);
        put1(&head, WIRE_EVENTS);
        pack_array_header(&head, count);
    }
    struct iovec parts[3] = {
        {head.data, (size_t)head.len},
        {taken.data, count ? (size_t)taken.len : 0},
        {tail ? tail->data : NULL, tail ? (size_t)tail->len : 0},
    };
    int r = send_parts(l->fd, parts, 3);
    l->out.len = 0;
    if (l->out.cap > 4 * 1024 * 1024) { /* give back a burst's memory */
        PyMem_RawFree(l->out.data);
        l->out.data = NULL;
        l->out.cap = 0;
    }
    return r;
}

/* The monitor is gone: record nothing more (a send failed, or disable()). */
static void
link_gone(Agent *self)
{
    link_close(&self->link);
    __atomic_store_n(&self->disabled, 1, __ATOMIC_RELAXED);
}

static struct timespec
after(double seconds, clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    long long ns = (long long)ts.tv_nsec + (long long)(seconds * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    return ts;
}

/* The writer: every interval (or when woken), send what is buffered.  It never touches
   a Python object, so it runs without the GIL and the target never waits for it. */
static void *
writer_main(void *arg)
{
    Agent *self = (Agent *)arg;
    Link *l = &self->link;
    for (;;) {
        pthread_mutex_lock(&self->lock);
        if (!l->stopping) {
            struct timespec until = after(l->interval, CLOCK_MONOTONIC);
            pthread_cond_timedwait(&l->wake, &self->lock, &until);
        }
        int stopping = l->stopping;
        pthread_mutex_unlock(&self->lock);
        if (stopping)
            break;
        pthread_mutex_lock(&l->io);
        if (l->fd >= 0 && link_send_pending(self, NULL) < 0)
            link_gone(self);
        int gone = l->fd < 0;
        pthread_mutex_unlock(&l->io);
        if (gone)
            break;
    }
    pthread_mutex_lock(&self->lock);
    l->running = 0;
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

/* Tell the writer to end; `wake` it now, or let it see so when it next wakes by itself.
   An exiting process doesn't wake it: the exiting thread flushes in its place, and a
   thread woken on another CPU as the process ends costs the process's exit its latency. */
static void
link_stop_writer(Agent *self, int wake)
{
    pthread_mutex_lock(&self->lock);
    self->link.stopping = 1;
    if (wake)
        pthread_cond_signal(&self->link.wake);
    pthread_mutex_unlock(&self->lock);
}

/* Flush from the calling thread, bounded by the flush timeout: everything buffered and a
   goodbye; on `final` the connection is closed (the interpreter is going).  The goodbye
   goes once, and again on `final` when there is more to send after it (the interpreter's
   teardown comes after atexit's goodbye), so that the last one counts everything. */
static int
link_flush_seq(Agent *self, int final, uint64_t last_seq)
{
    Link *l = &self->link;
    struct timespec until = after(l->flush_timeout, CLOCK_REALTIME);
    if (pthread_mutex_timedlock(&l->io, &until) != 0)
        return -1;
    if (l->fd >= 0) {
        struct timeval tv;
        tv.tv_sec = (time_t)l->flush_timeout;
        tv.tv_usec = (suseconds_t)((l->flush_timeout - (double)tv.tv_sec) * 1e6);
        setsockopt(l->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        unsigned char bytes[64];
        Buffer goodbye = {(char *)bytes, 0, sizeof bytes}; /* never grows: under 50 bytes */
        int pending = self->count > 0 || self->dropped > l->reported_drops;
        if (!l->said_goodbye || (final && pending)) {
            pack_goodbye(&goodbye, last_seq);
            l->said_goodbye = 1;
        }
        if (link_send_pending(self, &goodbye) < 0)
            link_gone(self);
        else if (final)
            link_close(l);
    }
    pthread_mutex_unlock(&l->io);
    return 0;
}

/* Flush for an exec or the interpreter's teardown. */
static int
link_flush(Agent *self, int final)
{
    return link_flush_seq(self, final, self->seq);
}

/* After the interpreter is gone (Py_AtExit): what it raised after the goodbye, and a
   goodbye that counts it.  Plain C on plain memory: nothing of Python is used. */
static void
link_at_exit(void)
{
    Agent *self = linked_agent;
    if (self != NULL && self->link.fd >= 0)
        link_flush_seq(self, 1, self->seq);
}

static void
fork_prepare(void)
{
    if (linked_agent != NULL)
        pthread_mutex_lock(&linked_agent->lock);
}

static void
fork_parent(void)
{
    if (linked_agent != NULL)
        pthread_mutex_unlock(&linked_agent->lock);
}

/* A forked child has no writer thread and must not write into the parent's stream: it
   closes its copy (the parent's monitor then sees the end when the parent goes) and
   starts afresh, the lock the writer might have held included. */
static void
fork_child(void)
{
    Agent *self = linked_agent;
    if (self == NULL)
        return;
    pthread_mutex_unlock(&self->lock);
    Link *l = &self->link;
    pthread_mutex_init(&l->io, NULL);
    link_close(l);
    l->running = 0;
    l->stopping = 0;
    l->said_goodbye = 0;
    l->reported_drops = 0;
}

static int
connect_monitor(const char *path, const char *hello, Py_ssize_t hello_len)
{
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n >= sizeof addr.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(addr.sun_path, path, n + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct ucred cred;
    socklen_t len = sizeof cred;
    int r;
    do
        r = connect(fd, (struct sockaddr *)&addr, sizeof addr);
    while (r < 0 && errno == EINTR);
    if (r == 0 && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0
        && cred.uid != getuid()) {
        errno = EPERM; /* the monitor runs as another user: it gets nothing */
        r = -1;
    }
    if (r == 0)
        r = send_all(fd, hello, hello_len);
    if (r < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* Run mode: connect to the monitor, send the hello, start the writer thread.  -1 with
   errno set if the monitor can't be reached (or the thread can't be had). */
static int
link_open(Agent *self, const char *path, const char *hello, Py_ssize_t hello_len,
          double interval, double flush_timeout)
{
    Link *l = &self->link;
    if (l->fd >= 0 || (linked_agent != NULL && linked_agent != self)) {
        errno = EISCONN;
        return -1;
    }
    int fd = connect_monitor(path, hello, hello_len);
    if (fd < 0)
        return -1;
    l->interval = interval > 0 ? interval : 0.01;
    l->flush_timeout = flush_timeout > 0 ? flush_timeout : 0.001;
    l->stopping = 0;
    l->said_goodbye = 0;
    int sndbuf = 0;
    socklen_t size = sizeof sndbuf;
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &size) != 0)
        sndbuf = 0;
    l->direct = DIRECT_EVENTS;
    l->direct_bytes = sndbuf / DIRECT_SHARE_OF_SNDBUF;
    if (linked_agent == NULL) { /* once per process: the handlers survive fork */
        Py_INCREF(self);        /* the writer, and the handlers, use it until the end */
        linked_agent = self;
        pthread_atfork(fork_prepare, fork_parent, fork_child);
        Py_AtExit(link_at_exit);
    }
    l->fd = fd;
    return 0;
}

/* Start the writer thread; -1 with errno set if it can't be had. */
static int
link_start_writer(Agent *self)
{
    Link *l = &self->link;
    /* The writer takes no signal: they stay with the threads Python expects them on. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_t thread;
    int r = pthread_create(&thread, &attr, writer_main, self);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        errno = r;
        return -1;
    }
    l->running = 1;
    return 0;
}

/* After the hook buffered an event, with no writer yet: send it from here while the
   process has raised only a few (one send each, so they reach the monitor at once and a
   process that then waits still shows them), else start the writer.  Runs under the GIL,
   which keeps the counts.  A process that can't have a thread is not monitored further,
   as one that couldn't at start: sending everything from the hook could block it. */
static void
link_direct(Agent *self)
{
    Link *l = &self->link;
    if (l->stopping || l->fd < 0)
        return; /* exiting: the exiting thread sends what is left */
    Py_ssize_t pending = __atomic_load_n(&self->buf.len, __ATOMIC_RELAXED);
    if (l->direct <= 0 || pending > l->direct_bytes) {
        if (link_start_writer(self) != 0) {
            pthread_mutex_lock(&l->io);
            link_gone(self);
            pthread_mutex_unlock(&l->io);
        }
        return;
    }
    l->direct--;
    l->direct_bytes -= pending;
    if (pthread_mutex_trylock(&l->io) != 0)
        return; /* another thread is flushing: it takes this event too */
    if (l->fd >= 0 && link_send_pending(self, NULL) < 0)
        link_gone(self);
    pthread_mutex_unlock(&l->io);
}

/* connect(path, hello, interval, flush_timeout): run mode's link (link_open).  OSError
   if the monitor can't be reached. */
static PyObject *
Agent_connect(Agent *self, PyObject *args)
{
    const char *path;
    Py_buffer hello;
    double interval, flush_timeout;
    if (!PyArg_ParseTuple(args, "sy*dd", &path, &hello, &interval, &flush_timeout))
        return NULL;
    int r = link_open(self, path, hello.buf, hello.len, interval, flush_timeout);
    PyBuffer_Release(&hello);
    if (r < 0)
        return PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
    Py_RETURN_NONE;
}

/* finish(final): the process is exiting (atexit) or the interpreter going (final): stop
   the writer, then flush and say goodbye from this thread, bounded by the flush timeout. */
static PyObject *
Agent_finish(Agent *self, PyObject *final)
{
    int is_final = PyObject_IsTrue(final);
    if (is_final < 0)
        return NULL;
    if (self->link.fd < 0 && !self->link.running)
        Py_RETURN_NONE;
    uint64_t last_seq = self->seq;
    Py_BEGIN_ALLOW_THREADS
    link_stop_writer(self, 0);
    link_flush_seq(self, is_final, last_seq);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* abandon(): close the link without a goodbye and record nothing more. */
static PyObject *
Agent_abandon(Agent *self, PyObject *unused)
{
    self->disabled = 1;
    Py_BEGIN_ALLOW_THREADS
    link_stop_writer(self, 1);
    Link *l = &self->link;
    if (l->fd >= 0)
        shutdown(l->fd, SHUT_RDWR); /* a send blocked on the monitor returns at once */
    pthread_mutex_lock(&l->io);
    link_close(l);
    pthread_mutex_unlock(&l->io);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* -- methods for the writer and the Python side --------------------------------------- */
static PyObject *
Agent_take(Agent *self, PyObject *unused)
{
    pthread_mutex_lock(&self->lock);
    PyObject *result = NULL;
    PyObject *data = PyBytes_FromStringAndSize(self->buf.data, self->buf.len);
    if (data != NULL)
        result = Py_BuildValue("(nKN)", self->count, self->first_seq, data);
    if (result != NULL) {
        self->buf.len = 0;
        self->count = 0;
        if (self->buf.cap > 4 * 1024 * 1024) { /* give back a burst's memory */
            PyMem_RawFree(self->buf.data);
            self->buf.data = NULL;
            self->buf.cap = 0;
        }
    }
    pthread_mutex_unlock(&self->lock);
    return result;
}

static PyObject *
Agent_counted(Agent *self, PyObject *unused)
{
    return PyLong_FromUnsignedLongLong(self->seq);
}

static PyObject *
Agent_dropped(Agent *self, PyObject *unused)
{
    return PyLong_FromUnsignedLongLong(self->dropped);
}

static PyObject *
Agent_pending(Agent *self, PyObject *unused)
{
    return PyLong_FromSsize_t(self->count);
}

static PyObject *
Agent_reset(Agent *self, PyObject *unused)
{
    pthread_mutex_lock(&self->lock);
    self->buf.len = 0;
    self->encoding = 0;
    self->count = 0;
    self->seq = 0;
    self->dropped = 0;
    self->nquiet = 0;
    self->disabled = 0;
    pthread_mutex_unlock(&self->lock);
    Py_RETURN_NONE;
}

static PyObject *
Agent_set_limit(Agent *self, PyObject *arg)
{
    Py_ssize_t limit = PyLong_AsSsize_t(arg);
    if (limit < 0 && PyErr_Occurred())
        return NULL;
    self->limit = limit;
    Py_RETURN_NONE;
}

static int
quiet_insert(Agent *self, unsigned long tid)
{
    if (!is_quiet(self, tid)) {
        if (self->nquiet >= MAX_QUIET) {
            PyErr_SetString(PyExc_OverflowError, "too many quiet threads");
            return -1;
        }
        self->quiet[self->nquiet++] = tid;
    }
    return 0;
}

static void
quiet_remove(Agent *self, unsigned long tid)
{
    for (int i = 0; i < self->nquiet; i++)
        if (self->quiet[i] == tid) {
            self->quiet[i] = self->quiet[--self->nquiet];
            break;
        }
}

static PyObject *
Agent_quiet_add(Agent *self, PyObject *arg)
{
    unsigned long tid = PyLong_AsUnsignedLong(arg);
    if (PyErr_Occurred() || quiet_insert(self, tid) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
Agent_quiet_discard(Agent *self, PyObject *arg)
{
    unsigned long tid = PyLong_AsUnsignedLong(arg);
    if (PyErr_Occurred())
        return NULL;
    quiet_remove(self, tid);
    Py_RETURN_NONE;
}

/* pack(value): msgpack of an already summarised value (control messages: the agent
   then needs no Python encoder, nor struct, at start-up). */
static PyObject *
Agent_pack(Agent *self, PyObject *value)
{
    Buffer b = {NULL, 0, 0};
    PyObject *result = NULL;
    if (pack_summary(self, &b, value) == 0)
        result = PyBytes_FromStringAndSize(b.data ? b.data : "", b.len);
    PyMem_RawFree(b.data);
    return result;
}

/* encode(args): the summary bytes of an argument tuple (for tests: same as Python's). */
static PyObject *
Agent_encode_args(Agent *self, PyObject *args)
{
    if (!PyTuple_Check(args)) {
        PyErr_SetString(PyExc_TypeError, "a tuple");
        return NULL;
    }
    Buffer b = {NULL, 0, 0};
    PyObject *result = NULL;
    if (summarize_args(self, &b, args) == 0)
        result = PyBytes_FromStringAndSize(b.data ? b.data : "", b.len);
    PyMem_RawFree(b.data);
    return result;
}

static void
set_helpers(Agent *self, PyObject *decisions, PyObject *decide, PyObject *fallback,
            PyObject *stack, PyObject *flush, PyObject *preload, PyObject *wire_types)
{
    Py_INCREF(decisions); Py_XSETREF(self->decisions, decisions);
    Py_INCREF(decide); Py_XSETREF(self->decide, decide);
    Py_INCREF(fallback); Py_XSETREF(self->fallback, fallback);
    Py_INCREF(stack); Py_XSETREF(self->stack, stack);
    Py_INCREF(flush); Py_XSETREF(self->flush, flush);
    Py_INCREF(preload); Py_XSETREF(self->preload, preload);
    Py_INCREF(wire_types); Py_XSETREF(self->wire_types, wire_types);
}

/* set_helpers(decisions=, decide=, fallback=, stack=, flush=, preload=, wire_types=):
   the Python side taking over an agent that run mode started from C. */
static PyObject *
Agent_set_helpers(Agent *self, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"decisions", "decide", "fallback", "stack", "flush", "preload",
                            "wire_types", NULL};
    PyObject *decisions, *decide, *fallback, *stack, *flush, *preload, *wire_types;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!OOOOOO", names, &PyDict_Type,
                                     &decisions, &decide, &fallback, &stack, &flush, &preload,
                                     &wire_types))
        return NULL;
    set_helpers(self, decisions, decide, fallback, stack, flush, preload, wire_types);
    Py_RETURN_NONE;
}

static int
Agent_init(Agent *self, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"decisions", "decide", "fallback", "stack", "flush", "preload",
                            "wire_types", "type_module", "type_qualname",
                            "limit", "strlen", "depth", "width", "budget",
                            NULL};
    PyObject *decisions, *decide, *fallback, *stack, *flush, *preload, *wire_types;
    PyObject *type_module, *type_qualname;
    Py_ssize_t limit, strlen_;
    int depth;
    Py_ssize_t width;
    long budget;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!OOOOOOOOnninl", names, &PyDict_Type,
                                     &decisions, &decide, &fallback, &stack, &flush, &preload,
                                     &wire_types, &type_module, &type_qualname,
                                     &limit,
                                     &strlen_, &depth, &width, &budget))
        return -1;
    set_helpers(self, decisions, decide, fallback, stack, flush, preload, wire_types);
    Py_INCREF(type_module); Py_XSETREF(self->type_module, type_module);
    Py_INCREF(type_qualname); Py_XSETREF(self->type_qualname, type_qualname);
    self->limit = limit;
    self->strlen = strlen_;
    self->depth = depth;
    self->width = width;
    self->budget = budget;
    return 0;
}

static void
Agent_dealloc(Agent *self)
{
    Py_XDECREF(self->decisions);
    Py_XDECREF(self->decide);
    Py_XDECREF(self->fallback);
    Py_XDECREF(self->stack);
    Py_XDECREF(self->flush);
    Py_XDECREF(self->preload);
    Py_XDECREF(self->wire_types);
    Py_XDECREF(self->cut_type);
    Py_XDECREF(self->described_type);
    Py_XDECREF(self->bigint_type);
    Py_XDECREF(self->type_module);
    Py_XDECREF(self->type_qualname);
    for (int i = 0; i < DESCRIPTION_SLOTS; i++)
        slot_clear(&self->described[i]);
    PyMem_RawFree(self->buf.data);
    PyMem_RawFree(self->scratch.data);
    PyMem_RawFree(self->link.out.data);
    pthread_mutex_destroy(&self->lock);
    pthread_mutex_destroy(&self->link.io);
    pthread_cond_destroy(&self->link.wake);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
Agent_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    Agent *self = (Agent *)type->tp_alloc(type, 0);
    if (self != NULL) {
        self->vectorcall = (vectorcallfunc)Agent_call;
        pthread_mutex_init(&self->lock, NULL);
        pthread_mutex_init(&self->link.io, NULL);
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&self->link.wake, &attr);
        pthread_condattr_destroy(&attr);
        self->link.fd = -1;
        self->reuse_clock = -1; /* asked in event_time, once a process has many events */
    }
    return (PyObject *)self;
}

static PyMethodDef Agent_methods[] = {
    {"take", (PyCFunction)Agent_take, METH_NOARGS,
     "(count, first_seq, bytes) of the buffered events; empties the buffer."},
    {"counted", (PyCFunction)Agent_counted, METH_NOARGS, "Events numbered so far."},
    {"dropped", (PyCFunction)Agent_dropped, METH_NOARGS, "Events dropped so far."},
    {"pending", (PyCFunction)Agent_pending, METH_NOARGS, "Events waiting in the buffer."},
    {"reset", (PyCFunction)Agent_reset, METH_NOARGS, "Start afresh (a forked child)."},
    {"set_limit", (PyCFunction)Agent_set_limit, METH_O, "Bytes buffered before dropping."},
    {"quiet_add", (PyCFunction)Agent_quiet_add, METH_O, "Ignore this thread's events."},
    {"quiet_discard", (PyCFunction)Agent_quiet_discard, METH_O, "Stop ignoring a thread."},
    {"encode_args", (PyCFunction)Agent_encode_args, METH_O, "Summary bytes of args."},
    {"pack", (PyCFunction)Agent_pack, METH_O, "msgpack of a summarised value."},
    {"install", (PyCFunction)Agent_install, METH_NOARGS,
     "Add the C-level audit hook; False where this interpreter has none."},
    {"forget", (PyCFunction)Agent_forget, METH_NOARGS, "Drop the cached decisions."},
    {"connect", (PyCFunction)Agent_connect, METH_VARARGS,
     "connect(path, hello, interval, flush_timeout): run mode's link and writer thread."},
    {"finish", (PyCFunction)Agent_finish, METH_O,
     "finish(final): stop the writer; flush and say goodbye from this thread."},
    {"abandon", (PyCFunction)Agent_abandon, METH_NOARGS,
     "Close the link without a goodbye; record nothing more."},
    {"set_helpers", (PyCFunction)(void (*)(void))Agent_set_helpers,
     METH_VARARGS | METH_KEYWORDS, "Replace the Python helpers (the Python side adopts)."},
    {NULL}};

static PyTypeObject AgentType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_auditmon_native.Agent",
    .tp_basicsize = sizeof(Agent),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = Agent_new,
    .tp_init = (initproc)Agent_init,
    .tp_dealloc = (destructor)Agent_dealloc,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Agent, vectorcall),
    .tp_methods = Agent_methods,
    .tp_doc = "The audit hook with its event buffer (see the module docstring).",
};

/* -- run mode, started from C ----------------------------------------------------------
   Every monitored process pays the agent's start-up.  In run mode with this hook and no
   event globs, nothing of the agent's Python package is needed to start, so none of it is
   imported: sitecustomize calls start_run(), which reads the environment, connects, says
   hello and installs the hook from here.  The Python core is imported ("adopts" this
   agent) the first time one of its helpers is needed: a value only the Python summariser
   describes, another audit hook being added, a fork, disable().  Anything unusual in the
   environment leaves the start to the Python side, which reads it exactly. */

/* core._make_decider's decisions without globs, config.py's summary limits and
   core.NATIVE_BYTES_PER_EVENT: tests compare them with the Python side's. */
static const char *const flush_events[] = {
    "os.exec", "cpython.PyInterpreterState_Clear", "cpython._PySys_ClearAuditHooks"};
#define HOOK_ADDED "sys.addaudithook"
#define MAX_DECISIONS 10000
#define SUMMARY_DEPTH 4
#define SUMMARY_WIDTH 32
#define SUMMARY_BUDGET 256
#define BYTES_PER_EVENT 128

static Agent *started;         /* the agent start_run() made */
static double started_at;      /* its start time (the hello's "start") */
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
   agent's decisions as core's decider does. */
static PyObject *
run_decide(PyObject *module, PyObject *name)
{
    const char *event = PyUnicode_AsUTF8(name);
    if (event == NULL)
        return NULL;
    long how = RECORD;
    for (size_t i = 0; i < sizeof flush_events / sizeof flush_events[0]; i++)
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

/* The agent's Python package, from agent_dir, as sitecustomize's _load_package loads it.
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

/* atexit: flush and say goodbye (the Python side's _at_exit once it adopted). */
static PyObject *
run_at_exit(PyObject *module, PyObject *unused)
{
    if (core_module != NULL)
        return PyObject_CallMethod(core_module, "_at_exit", NULL);
    if (started != NULL && started->link.fd >= 0)
        return Agent_finish(started, Py_False);
    Py_RETURN_NONE;
}

static PyMethodDef at_exit_def;
static PyObject *hello_message(Agent *self);

/* Run mode's hello, as of now, and the link to the monitor (run_path): at start and in a
   forked child.  -1 with an exception set. */
static int
run_link(Agent *self)
{
    if (run_path == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    started_at = now();
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

/* A forked child is a new process: as core._after_fork_in_child does, but here, so that a
   child of a process the Python side never adopted doesn't import it (milliseconds per
   fork): an empty queue, a new identity and hello, its own connection.  multiprocessing's
   fork children end with os._exit() after threading's shutdown, never running atexit:
   the flush is registered there too.  -1 with an exception set. */
static int
restart_in_child(Agent *self)
{
    Py_XDECREF(Agent_reset(self, NULL));
    if (run_link(self) < 0)
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
    PyObject *r = core ? PyObject_CallMethod(core, "_after_fork_in_child", NULL) : NULL;
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
   (the Python side, agent.is_auditmon_itself, then decides). */
static int
auditmon_itself(void)
{
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
            if (strcmp(slash ? slash + 1 : text, "auditmon") == 0)
                return 1;
        }
        if (i > 0 && strcmp(PyUnicode_AsUTF8(PyList_GET_ITEM(argv, i - 1)), "-m") == 0
            && strncmp(text, "auditmon", 8) == 0 && (text[8] == '\0' || text[8] == '.'))
            return 1;
    }
    return 0;
}

/* core.identity() and _NativeLink's hello fields, in the same order. */
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
    FIELD("agent", PyUnicode_FromString("native"));
    FIELD("v", PyLong_FromLong(WIRE_VERSION));
    FIELD("mode", PyUnicode_FromString("run"));
    FIELD("events", PyLong_FromUnsignedLongLong(self->seq));
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

/* start_run(agent_dir): start run mode here if it needs nothing of the Python side;
   True if that was done (or if this process is auditmon itself, which is never
   monitored), False to leave the start to the Python side.  OSError if the monitor can't
   be reached.  agent_dir is where the agent's package is, for when it is needed. */
static PyObject *
start_run(PyObject *module, PyObject *directory)
{
    if (!PyUnicode_Check(directory)) {
        PyErr_SetString(PyExc_TypeError, "start_run(agent_dir): agent_dir must be a str");
        return NULL;
    }
    const char *mode = getenv("AUDITMON_MODE"), *path = getenv("AUDITMON_SOCKET");
    const char *kind = getenv("AUDITMON_AGENT");
    double queue, strlen_, interval, flush_timeout;
    if (started != NULL || mode == NULL || strcmp(mode, "run") != 0 || path == NULL
        || *path == '\0' || (kind != NULL && strcmp(kind, "python") == 0)
        || !env_blank("AUDITMON_EVENTS") || !env_blank("AUDITMON_EXCLUDE")
        || !env_blank("AUDITMON_STACK") || !env_number("AUDITMON_QUEUE", 65536, 1, &queue)
        || !env_number("AUDITMON_STRLEN", 1024, 1, &strlen_)
        || !env_number("AUDITMON_INTERVAL", 0.01, 0, &interval)
        || !env_number("AUDITMON_FLUSH_TIMEOUT", 2.0, 0, &flush_timeout))
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
    if (run_link(self) < 0)
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

static PyMethodDef module_methods[] = {
    {"start_run", start_run, METH_O,
     "start_run(agent_dir): start run mode from C if it needs nothing of Python."},
    {"agent", run_started, METH_NOARGS, "The agent start_run() started, or None."},
    {"disable", run_disable, METH_NOARGS, "Record nothing more in this process."},
    {"decide", run_decide, METH_O, "Decision bits for an event when no globs are set."},
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
    if (PyModule_AddIntConstant(m, "VERSION", WIRE_VERSION) < 0
        || PyModule_AddIntConstant(m, "HELLO", WIRE_HELLO) < 0
        || PyModule_AddIntConstant(m, "EVENTS", WIRE_EVENTS) < 0
        || PyModule_AddIntConstant(m, "DROPPED", WIRE_DROPPED) < 0
        || PyModule_AddIntConstant(m, "GOODBYE", WIRE_GOODBYE) < 0
        || PyModule_AddIntConstant(m, "DEPTH", SUMMARY_DEPTH) < 0
        || PyModule_AddIntConstant(m, "WIDTH", SUMMARY_WIDTH) < 0
        || PyModule_AddIntConstant(m, "BUDGET", SUMMARY_BUDGET) < 0
        || PyModule_AddIntConstant(m, "BYTES_PER_EVENT", BYTES_PER_EVENT) < 0) {
        Py_DECREF(m);
        return NULL;
    }
#ifdef AUDITMON_SOURCE_SHA256 /* setup.py's: which source this was built from */
    if (PyModule_AddStringConstant(m, "SOURCE_SHA256", AUDITMON_SOURCE_SHA256) < 0) {
        Py_DECREF(m);
        return NULL;
    }
#endif
    return m;
}
