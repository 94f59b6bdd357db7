/* Run mode's socket: connecting to the monitor from a descriptor moved out of the
 * target's way (programs count on the lowest free numbers as theirs), and sending whole
 * messages, in as few system calls as the socket takes.  Part of module.c's
 * translation unit, before link.c, which uses these.
 */
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

#include "placement.h" /* out_of_sight and the rule, shared with the preload library */

/* fd, moved out of the target's way (placement.h says where), or fd itself where
   nothing better is free. */
static int
out_of_the_way(int fd)
{
    int moved = moved_out_of_the_way(fd);
    if (moved < 0)
        return fd;
    close(fd);
    return moved;
}

/* The hello's bytes, with `pass_fd` (the ring's memfd, if >= 0) as SCM_RIGHTS on the
   first of them. */
static int
send_hello(int fd, const char *hello, Py_ssize_t n, int pass_fd)
{
    if (pass_fd < 0 || n == 0)
        return send_all(fd, hello, n);
    union {
        char bytes[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct iovec part = {(void *)hello, (size_t)n};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &part;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof control.bytes;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    ssize_t sent;
    do
        sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent < 0)
        return -1;
    return send_all(fd, hello + sent, n - sent);
}

static int
connect_monitor(const char *path, const char *hello, Py_ssize_t hello_len, int pass_fd,
                Ring *ring)
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
    fd = out_of_the_way(fd);
    const char *follows = getenv(ENV_LONE); /* the monitor can follow the process */
    if (ring->map != NULL && follows != NULL && strcmp(follows, "1") == 0 && !out_of_sight(fd))
        ring_store(ring, RING_LONE_AT, 1); /* lone: read by the monitor with the hello */
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
        r = send_hello(fd, hello, hello_len, pass_fd);
    if (r < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}
