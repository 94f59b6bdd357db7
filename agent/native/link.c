/* Run mode's link to the monitor: the Unix socket, the shared-memory ring made before
 * the hello (link_ring), the bounded goodbye at exit, and the fork and Py_AtExit
 * handlers.  Where no ring could be had, events go over the socket as they used to: the
 * hook's own first sends (link_direct), then a writer thread that sends the buffer
 * without ever taking the GIL.  Attach mode never uses it: its Python writer takes the
 * buffer.  Part of module.c's translation unit.
 */

static Agent *linked_agent;  /* the agent whose link the fork and exit handlers look after */

/* Whether l->fd is still the socket link_open made: a target may close the agent's
   descriptor (closerange) and reuse the number, or dup2 a file of its own onto it.  A
   number that became the target's is never written to nor closed. */
static int
link_owns_fd(const Link *l)
{
    struct stat st;
    return l->fd >= 0 && fstat(l->fd, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino;
}

static void
link_close(Link *l)
{
    if (l->fd >= 0) {
        if (link_owns_fd(l))
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

/* A lone agent's goodbye, into the ring's header where the monitor reads it once the
   process is gone: its length zeroed, the message, then its length (constants.py). */
static void
ring_goodbye(Agent *self, uint64_t last_seq)
{
    Ring *r = &self->ring;
    if (r->map == NULL)
        return;
    unsigned char bytes[RING_GOODBYE_MAX];
    Buffer goodbye = {(char *)bytes, 0, sizeof bytes}; /* never grows: under 50 bytes */
    pack_goodbye(&goodbye, last_seq);
    ring_store(r, RING_GOODBYE_AT, 0);
    memcpy(r->map + RING_GOODBYE_AT + 8, goodbye.data, (size_t)goodbye.len);
    ring_store(r, RING_GOODBYE_AT, (uint64_t)goodbye.len);
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
    if (!link_owns_fd(l)) {
        l->fd = -1; /* the number is the target's now: leave it be */
        return -1;
    }
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
    if (self->ring.map != NULL)
        l->reported_drops = dropped; /* the monitor reads them in the ring */
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
    if (l->lone) {
        ring_goodbye(self, last_seq);
        l->said_goodbye = 1;
    }
    else if (l->fd >= 0) {
        struct timeval tv;
        tv.tv_sec = (time_t)l->flush_timeout;
        tv.tv_usec = (suseconds_t)((l->flush_timeout - (double)tv.tv_sec) * 1e6);
        setsockopt(l->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        unsigned char bytes[64];
        Buffer goodbye = {(char *)bytes, 0, sizeof bytes}; /* never grows: under 50 bytes */
        int pending = self->count > 0 || self->dropped > l->reported_drops
                      || (self->ring.map != NULL && last_seq > l->goodbye_seq);
        if (!l->said_goodbye || (final && pending)) {
            pack_goodbye(&goodbye, last_seq);
            l->said_goodbye = 1;
            l->goodbye_seq = last_seq;
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
    if (self != NULL && link_up(&self->link))
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
    ring_close(&self->ring); /* the parent's: the child gets its own with its link */
    Link *l = &self->link;
    pthread_mutex_init(&l->io, NULL);
    link_close(l);
    l->lone = 0;
    l->running = 0;
    l->stopping = 0;
    l->said_goodbye = 0;
    l->reported_drops = 0;
}

/* Run mode's ring, made before the hello (which gives its size): what the hook buffered
   until now (the preload library's early events, a forked child's first ones) moves
   into it.  Where no shared memory can be had, events go over the socket as before. */
static void
link_ring(Agent *self)
{
    Ring *r = &self->ring;
    if (r->map != NULL || ring_open(r, self->limit) != 0)
        return;
    pthread_mutex_lock(&self->lock);
    if (self->count > 0 && ring_write(r, self->buf.data, self->buf.len, -1) != 0)
        self->dropped += (uint64_t)self->count;
    self->buf.len = 0;
    self->count = 0;
    ring_counters(r, self->seq, self->dropped);
    pthread_mutex_unlock(&self->lock);
}

/* Run mode: connect to the monitor, send the hello (with the ring's descriptor), and,
   where there is no ring, get ready to send events.  -1 with errno set if the monitor
   can't be reached. */
static int
link_open(Agent *self, const char *path, const char *hello, Py_ssize_t hello_len,
          double interval, double flush_timeout)
{
    Link *l = &self->link;
    if (l->fd >= 0 || (linked_agent != NULL && linked_agent != self)) {
        errno = EISCONN;
        return -1;
    }
    int fd = connect_monitor(path, hello, hello_len, self->ring.fd, &self->ring);
    if (fd < 0) {
        int saved = errno;
        ring_close(&self->ring);
        errno = saved;
        return -1;
    }
    ring_sent(&self->ring);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return -1;
    }
    l->dev = st.st_dev;
    l->ino = st.st_ino;
    l->interval = interval > 0 ? interval : DEFAULT_INTERVAL;
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
    if (self->ring.map != NULL && ring_load(&self->ring, RING_LONE_AT)) {
        close(fd); /* lone: the monitor follows the process itself */
        l->lone = 1;
        return 0;
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

/* open_ring(): run mode's ring, before the hello (link_ring); its data size, 0 if none. */
static PyObject *
Agent_open_ring(Agent *self, PyObject *unused)
{
    link_ring(self);
    return PyLong_FromUnsignedLongLong(self->ring.map != NULL ? self->ring.size : 0);
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
    if (!link_up(&self->link) && !self->link.running)
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
    if (link_owns_fd(l))
        shutdown(l->fd, SHUT_RDWR); /* a send blocked on the monitor returns at once */
    pthread_mutex_lock(&l->io);
    link_close(l);
    pthread_mutex_unlock(&l->io);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}
