/* Where the agent's own descriptors go: the rule constants.py states (FD_FLOOR and
 * friends), in plain C with no Python in it, for the two modules that place one: the
 * extension (connect.c, its run-mode socket) and the pure-Python agent's C helper
 * (agent/helper/helper.c, its socket).  The Python side's fallback, where the helper
 * was not built, is transport._moved_out_of_the_way: the same rule, change both.
 * Needs constants.h.
 */
#ifndef AUDITMON_PLACEMENT_H
#define AUDITMON_PLACEMENT_H
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>

/* Whether fd is at or above the soft RLIMIT_NOFILE, where no scan bounded by the limit
   looks (transport.out_of_sight on the Python side). */
static int
out_of_sight(int fd)
{
    struct rlimit limit;
    return getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
           && (rlim_t)fd >= limit.rlim_cur;
}

/* A close-on-exec copy of fd out of the target's way, fd left open; -1 where nothing
   better than fd itself is free.  Programs take the lowest free descriptors and count
   on them as theirs (pass_fds, a child listing its own, closerange up to the soft
   RLIMIT_NOFILE), so the agent's go at or above the soft limit, where open() never puts
   one and scans bounded by the limit never look: the limit is raised for the moment of
   the dup (the hard one too where it leaves no room and the process may, as root in a
   container often may) and put back.  Where that can't be (a soft limit past
   FD_HIGHEST, whose descriptor table would be too large, or no permission), as high as
   fits under the soft limit: at FD_FLOOR, halved while the limit is lower (a dup at or
   above the limit fails with EINVAL, a full table with EMFILE). */
static int
moved_out_of_the_way(int fd)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur <= FD_HIGHEST) {
        rlim_t floor = limit.rlim_cur > FD_FLOOR ? limit.rlim_cur : FD_FLOOR;
        struct rlimit raised = {floor + FD_ROOM, limit.rlim_max};
        if (raised.rlim_max < raised.rlim_cur)
            raised.rlim_max = raised.rlim_cur;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
            int moved = fcntl(fd, F_DUPFD_CLOEXEC, (int)floor);
            setrlimit(RLIMIT_NOFILE, &limit);
            if (moved >= 0)
                return moved;
        }
    }
    for (int floor = FD_FLOOR; floor >= FD_FLOOR_MIN && fd < floor; floor /= 2) {
        int moved = fcntl(fd, F_DUPFD_CLOEXEC, floor);
        if (moved >= 0)
            return moved;
        if (errno != EINVAL && errno != EMFILE)
            break;
    }
    return -1;
}
#endif
