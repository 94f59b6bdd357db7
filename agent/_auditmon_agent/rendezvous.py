"""Where attach mode's agent and a monitor meet: the runtime directory (0700, this
user's), as constants.py lays it out.

An agent whose listener can sit out of the target's sight listens at ``<pid>.sock``.
One whose listener could not (soft RLIMIT_NOFILE = hard, no CAP_SYS_RESOURCE) keeps no
descriptor while no monitor is attached: it marks itself with a symlink, ``<pid>.lone``
(making a symlink takes no descriptor), and answers a monitor's call, the symlink
``<pid>.call`` naming the socket the monitor listens on, by connecting to it.
"""

import _socket
import errno
import os
import stat

from .constants import ATTACH_BACK, ATTACH_CALL, ATTACH_LONE, ATTACH_REMOTE, ATTACH_SOCKET
from .transport import out_of_the_way

_PART = ".part"  # a socket not listening yet: see open_door()


def private_dir(path):
    """Create (0700) or check the per-user socket directory; refuse anything unsafe."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise OSError(errno.EPERM, "%s is not a directory owned by this user" % path)
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def named(runtime_dir, pid, suffix):
    """``<runtime_dir>/<pid><suffix>``: ATTACH_SOCKET, ATTACH_LONE or ATTACH_CALL."""
    return os.path.join(runtime_dir, "%d%s" % (pid, suffix))


def owner(name):
    """The PID whose end makes the entry ``name`` stale, or None for what isn't ours:
    ``<pid>.sock[.part]``, ``<pid>.lone``, ``<pid>.call`` are an agent's,
    ``<pid>.<monitor pid>.<token>.back`` a calling monitor's, ``<pid>.<token>.remote``
    a script left for a process to run (auditmon/sources/remote_exec.py)."""
    if name.endswith(_PART):
        name = name[: -len(_PART)]
    parts = name.split(".")
    try:
        if "." + parts[-1] in (ATTACH_SOCKET, ATTACH_LONE, ATTACH_CALL) and len(parts) == 2:
            return int(parts[0])
        if "." + parts[-1] == ATTACH_BACK and len(parts) == 4:
            return int(parts[1])
        if "." + parts[-1] == ATTACH_REMOTE and len(parts) == 3:
            return int(parts[0])
    except ValueError:
        pass
    return None


def remove_stale(runtime_dir):
    """Unlink what processes that are gone left behind."""
    for name in os.listdir(runtime_dir):
        pid = owner(name)
        if pid is not None and not _alive(pid):
            try:
                os.unlink(os.path.join(runtime_dir, name))
            except OSError:
                pass


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def open_door(runtime_dir, pid, lone):
    """A listening socket at ``<pid>.sock``, mode 0600, out of the target's way, and its
    identity (``transport.out_of_the_way``); or, where ``lone`` allows it and that socket
    would be in the target's sight, ``(None, None)`` and the mark ``<pid>.lone``.

    The socket is bound under a temporary name and renamed once it listens, so a monitor
    that finds the name can connect: between bind and listen a connect is refused."""
    private_dir(runtime_dir)
    remove_stale(runtime_dir)
    path = named(runtime_dir, pid, ATTACH_SOCKET)
    partial = path + _PART
    close_door(runtime_dir, pid)  # this pid's previous program's (exec)
    _unlink(partial)
    sock, known, hidden = out_of_the_way(_socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM))
    if lone and not hidden:
        sock.close()
        os.symlink(str(pid), named(runtime_dir, pid, ATTACH_LONE))
        return None, None
    try:
        sock.bind(partial)
        os.chmod(partial, 0o600)
        sock.listen(4)
        os.rename(partial, path)
    except BaseException:
        sock.close()
        _unlink(partial)
        raise
    return sock, known


def close_door(runtime_dir, pid):
    """No monitor finds this process any more (its end, or an exec)."""
    _unlink(named(runtime_dir, pid, ATTACH_SOCKET))
    _unlink(named(runtime_dir, pid, ATTACH_LONE))


def answer_call(runtime_dir, pid, answered):
    """``(the call's target, a socket connected to it, its identity)`` where a monitor
    calls: ``<pid>.call`` names (relative to the directory) a socket other than
    ``answered``, the last call answered.  ``(target, None, None)`` where it names that
    one, or none (target None), or the call can't be answered.  No call is answered
    twice; the monitor unlinks its call when done."""
    try:
        target = os.readlink(named(runtime_dir, pid, ATTACH_CALL))
    except OSError:
        return None, None, None
    if target == answered:
        return target, None, None
    if os.sep in target or not target.endswith(ATTACH_BACK) or owner(target) is None:
        return target, None, None  # only a monitor's socket, named in this directory
    sock, known, _ = out_of_the_way(_socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM))
    try:
        sock.settimeout(1.0)
        sock.connect(os.path.join(runtime_dir, target))
    except OSError:
        sock.close()
        return target, None, None
    return target, sock, known


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass
