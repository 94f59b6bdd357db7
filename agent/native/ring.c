/* Run mode's shared-memory ring: each event is written, as it is raised, into memory the
 * monitor maps too (a memfd whose descriptor goes with the hello), so a process that
 * dies (SIGKILL, a crash, os._exit) leaves every event it raised with the monitor.  The
 * layout and the protocol are constants.py's ("run mode's shared-memory ring"); the
 * pure-Python agent's ring.py writes the same.  No thread: the monitor reads the ring,
 * woken by one byte on the socket when it gets half full.  Part of module.c's
 * translation unit, before hook.c, which writes events here.
 */
#include <sys/mman.h>
#include <sys/syscall.h>

#define RING_FIELD(r, at) ((uint64_t *)((r)->map + (at)))
/* No event is encoded in fewer bytes: [seq, time, thread, name, [], nil] at least. */
#define RING_SMALLEST_EVENT 16

static inline void
ring_store(Ring *r, int at, uint64_t value)
{
    __atomic_store_n(RING_FIELD(r, at), value, __ATOMIC_RELEASE);
}

static inline uint64_t
ring_load(Ring *r, int at)
{
    return __atomic_load_n(RING_FIELD(r, at), __ATOMIC_ACQUIRE);
}

/* The data size for a buffer limit: a power of two (positions wrap with a mask), at
   least 4 KiB. */
static uint64_t
ring_size_for(Py_ssize_t limit)
{
    uint64_t size = 4096;
    while (size < (uint64_t)limit && size < ((uint64_t)1 << 40))
        size <<= 1;
    return size;
}

static int
ring_memfd(void)
{
#ifdef SYS_memfd_create
    return (int)syscall(SYS_memfd_create, "auditmon-ring", 1U /* MFD_CLOEXEC */);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/* Make a ring for `limit` bytes of events; r->fd is its descriptor until the monitor has
   it (ring_sent).  -1 with errno set where shared memory can't be had: the link then
   sends events over the socket, as attach mode's agents and older monitors do. */
static int
ring_open(Ring *r, Py_ssize_t limit)
{
    uint64_t size = ring_size_for(limit);
    int fd = ring_memfd();
    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)(RING_HEADER + size)) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    char *map = mmap(NULL, RING_HEADER + size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    memset(r, 0, sizeof *r);
    r->map = map;
    r->size = size;
    r->fd = fd;
    r->room_until = size;
    r->wake_at = size / 2;
    ring_store(r, RING_SIZE_AT, size);
    ring_store(r, RING_MAGIC_AT, RING_MAGIC);
    return 0;
}

/* The monitor has the descriptor (or never will): the mapping is all the agent keeps. */
static void
ring_sent(Ring *r)
{
    if (r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
    }
}

/* Unmap (a forked child's copy of its parent's ring, or a ring the monitor never got). */
static void
ring_close(Ring *r)
{
    ring_sent(r);
    if (r->map != NULL)
        munmap(r->map, RING_HEADER + r->size);
    memset(r, 0, sizeof *r);
    r->fd = -1;
}

/* The counters, where the monitor reads them even after the process is gone. */
static inline void
ring_counters(Ring *r, uint64_t numbered, uint64_t dropped)
{
    ring_store(r, RING_NUMBERED_AT, numbered);
    ring_store(r, RING_DROPPED_AT, dropped);
}

/* Past half full: one byte on the socket, without waiting, so that the monitor reads now
   rather than at its next look; then not again before another quarter is written (or
   the monitor has read). */
static void
ring_wake(Ring *r, int fd)
{
    uint64_t tail = ring_load(r, RING_TAIL_AT);
    if (r->head - tail >= r->size / 2) {
        if (fd >= 0) {
            unsigned char wake = WIRE_WAKE;
            if (send(fd, &wake, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0
                && (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN))
                r->peer_gone = 1; /* no one reads the ring any more */
        }
        r->wake_at = r->head + r->size / 4;
    }
    else
        r->wake_at = tail + r->size / 2;
}

/* Whether not even the smallest event fits: drop before encoding (a monitor gone, or
   far behind, costs the target the least). */
static inline int
ring_full(Ring *r)
{
    if (r->head + RING_SMALLEST_EVENT <= r->room_until)
        return 0;
    uint64_t tail = ring_load(r, RING_TAIL_AT);
    r->room_until = (tail > r->head ? r->head : tail) + r->size;
    return r->head + RING_SMALLEST_EVENT > r->room_until;
}

/* Write one encoded event: 0, or -1 where it doesn't fit (the caller counts the drop).
   Called under the GIL, the ring's only writer. */
static inline int
ring_write(Ring *r, const char *data, Py_ssize_t n, int wake_fd)
{
    uint64_t head = r->head;
    if (head + (uint64_t)n > r->room_until) {
        uint64_t tail = ring_load(r, RING_TAIL_AT);
        if (tail > head) /* never past what was written */
            tail = head;
        r->room_until = tail + r->size;
        if (head + (uint64_t)n > r->room_until)
            return -1;
    }
    char *base = r->map + RING_HEADER;
    uint64_t at = head & (r->size - 1);
    uint64_t first = r->size - at;
    if (first >= (uint64_t)n)
        memcpy(base + at, data, (size_t)n);
    else { /* wraps past the end to the start */
        memcpy(base + at, data, (size_t)first);
        memcpy(base, data + first, (size_t)((uint64_t)n - first));
    }
    r->head = head + (uint64_t)n;
    ring_store(r, RING_HEAD_AT, r->head);
    if (r->head >= r->wake_at)
        ring_wake(r, wake_fd);
    return 0;
}
