/* _auditmon_helper: the pure-Python agent's few parts in C, built against the stable ABI
 * (abi3), so that one build loads in every CPython from 3.8 on: the pure-Python agent
 * runs in the interpreters the native agent was not built for.  Where it was not built
 * (no C compiler at install), the agent does the same in Python, the slower way.
 *
 * - Its ring (ring.py).  Python's mmap module keeps a descriptor of its own for as long
 *   as a mapping lives (before 3.13), in the target's way; map_ring maps the memfd and
 *   keeps none.  And the hook's copy of an event into the ring, done in Python, is a
 *   slice assignment and a store through a memoryview cast: the writer here does both
 *   in one call, which costs the hook less (docs/benchmarks.md).  Only the usual write:
 *   the agent's Python side keeps the rest of the protocol (room, wrap, wake-up, drops)
 *   and tells the writer how far it may go (`until`), past which it declines and the
 *   hook takes the Python way.
 * - Where its socket goes (transport.py): placement.h's rule, which the native agent
 *   follows too, where Python would load the resource and fcntl modules.
 */
/* the values shared with the agent: only the plain ones (before Python.h) */
#include "../native/constants.h"

#define Py_LIMITED_API 0x03080000
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../native/placement.h"

#ifndef PyBUF_WRITE
#define PyBUF_WRITE 0x200
#endif

/* A ring's writer: never freed, as its mapping is not (the agent may hold a view of
   `until` for as long as the process lives; a forked child maps a ring of its own). */
typedef struct {
    unsigned char *map; /* the ring's header, then its data */
    uint64_t mask;      /* the data's size, a power of two, less one */
    uint64_t until;     /* where a write must end by: stored by the agent, 0 at first */
} RingWriter;

/* write(data): data (bytes) at the ring's head, then the head stored past it (the
   monitor reads up to it), where it ends by `until`: True.  False where it would not:
   nothing written, and the agent's Python side writes it (ring.py's put).  Under the
   GIL, and it calls nothing that could let another thread or a signal handler in. */
static PyObject *
write_event(PyObject *self, PyObject *data)
{
    RingWriter *writer = PyCapsule_GetPointer(self, NULL);
    char *bytes;
    Py_ssize_t n;
    if (writer == NULL || PyBytes_AsStringAndSize(data, &bytes, &n) < 0)
        return NULL;
    uint64_t *head_word = (uint64_t *)(writer->map + RING_HEAD_AT);
    uint64_t head = __atomic_load_n(head_word, __ATOMIC_RELAXED);
    uint64_t end = head + (uint64_t)n;
    if (end > __atomic_load_n(&writer->until, __ATOMIC_RELAXED))
        Py_RETURN_FALSE;
    /* `until` is never past the end of head's lap: the event does not wrap */
    memcpy(writer->map + RING_HEADER + (head & writer->mask), bytes, (size_t)n);
    __atomic_store_n(head_word, end, __ATOMIC_RELEASE);
    Py_RETURN_TRUE;
}

static PyMethodDef write_method = {"write", write_event, METH_O, NULL};

/* map_ring(size): (memfd, writable memoryview of the whole ring, write, writable
   memoryview of write's `until`), for a ring of `size` bytes, header and data (a power of two).
   The agent hands the memfd to the monitor and closes it; the mapping stays for the
   life of the process. */
static PyObject *
map_ring(PyObject *module, PyObject *arg)
{
    (void)module;
    Py_ssize_t size = PyLong_AsSsize_t(arg);
    if (size == -1 && PyErr_Occurred())
        return NULL;
    size_t data = size > RING_HEADER ? (size_t)(size - RING_HEADER) : 0;
    if (data == 0 || (data & (data - 1)) != 0) {
        PyErr_SetString(PyExc_ValueError, "a ring's data is a power of two of bytes");
        return NULL;
    }
    int fd = (int)syscall(SYS_memfd_create, "auditmon-ring", 1U /* MFD_CLOEXEC */);
    if (fd < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    void *map = MAP_FAILED;
    if (ftruncate(fd, (off_t)size) == 0)
        map = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        PyErr_SetFromErrno(PyExc_OSError);
        close(fd);
        return NULL;
    }
    RingWriter *writer = calloc(1, sizeof *writer);
    if (writer != NULL) {
        writer->map = map;
        writer->mask = (uint64_t)data - 1;
    }
    PyObject *self = writer ? PyCapsule_New(writer, NULL, NULL) : PyErr_NoMemory();
    PyObject *write = self ? PyCFunction_NewEx(&write_method, self, NULL) : NULL;
    PyObject *until = write ? PyMemoryView_FromMemory((char *)&writer->until,
                                                      sizeof writer->until, PyBUF_WRITE)
                            : NULL;
    PyObject *view = until ? PyMemoryView_FromMemory(map, size, PyBUF_WRITE) : NULL;
    PyObject *ring = view ? Py_BuildValue("(iOOO)", fd, view, write, until) : NULL;
    Py_XDECREF(view);
    Py_XDECREF(until);
    Py_XDECREF(write);
    Py_XDECREF(self);
    if (ring == NULL) { /* nothing refers to the memory */
        if (self == NULL)
            free(writer); /* else: a capsule frees nothing, the struct is small */
        munmap(map, (size_t)size);
        close(fd);
        return NULL;
    }
    return ring;
}

/* move_fd(fd): (a close-on-exec copy of fd out of the target's way, or -1 where nothing
   better is free; whether the copy, or fd itself, is out of the target's sight): fd is
   left open, for the agent to close. */
static PyObject *
move_fd(PyObject *module, PyObject *arg)
{
    (void)module;
    long fd = PyLong_AsLong(arg);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    if (fd < 0 || fd > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "not a file descriptor");
        return NULL;
    }
    int moved = moved_out_of_the_way((int)fd);
    return Py_BuildValue("(iO)", moved,
                         out_of_sight(moved >= 0 ? moved : (int)fd) ? Py_True : Py_False);
}

static PyMethodDef methods[] = {
    {"map_ring", map_ring, METH_O,
     "map_ring(size) -> (memfd, ring, write, until): a ring in shared memory, its writer."},
    {"move_fd", move_fd, METH_O,
     "move_fd(fd) -> (moved, out_of_sight): a copy of fd out of the target's way."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_auditmon_helper", "The pure-Python agent's parts in C.", -1,
    methods,
};

PyMODINIT_FUNC
PyInit__auditmon_helper(void)
{
    PyObject *module = PyModule_Create(&module_def);
#ifdef AUDITMON_SOURCE_SHA256 /* setup.py's: which sources this was built from */
    if (module != NULL
        && PyModule_AddStringConstant(module, "SOURCE_SHA256", AUDITMON_SOURCE_SHA256) < 0)
        Py_CLEAR(module);
#endif
    return module;
}
