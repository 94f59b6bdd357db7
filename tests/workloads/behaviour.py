"""A workload whose every observable behaviour must be the same with or without the agent.

Usage: behaviour.py OUTDIR {ok|exit|raise|sigterm}

It prints deterministic lines to stdout and stderr (including its ``sys.path``), installs
its own audit hooks with ``sys.addaudithook``, runs a deterministic section between
``behaviour.begin`` and ``behaviour.end`` and writes the names of the events its hook
saw there (main thread only) to ``OUTDIR/names.json``, with the file of the
``sitecustomize`` module it sees.  A second hook blocks ``socket.connect`` and the custom
``behaviour.blocked`` event by raising PermissionError; the workload prints what happened.
Then it ends as MODE says: exit 0, ``sys.exit(3)``, an uncaught exception, or SIGTERM
to itself.  Every import happens up front: the agent may have imported a module already,
and an import of a loaded module raises no ``import`` event.  Python 3.8 syntax.
"""

import json
import os
import signal
import socket
import sys
import threading

OUT, MODE = sys.argv[1], sys.argv[2]
MAIN = threading.get_ident()
names = []
watching = [False]


def watcher(event, args):
    if threading.get_ident() != MAIN:
        return  # another thread (the agent's writer, if any) is not this section
    if event == "behaviour.begin":
        watching[0] = True
    if watching[0]:
        names.append(event)
    if event == "behaviour.end":
        watching[0] = False


def blocker(event, args):
    if event in ("socket.connect", "behaviour.blocked"):
        raise PermissionError("blocked by the workload's hook: %s" % event)


class Point(object):
    def where(self):
        return "here"


def helper():
    pass


def attempt(what, action):
    try:
        result = action()
    except Exception as error:
        print("%s: %s: %s" % (what, type(error).__name__, error))
    else:
        print("%s: ok %r" % (what, result))


def section(scratch):
    sys.audit("behaviour.begin", MODE)
    path = os.path.join(scratch, "a.txt")
    with open(path, "w") as file:
        file.write("hello\n")
    with open(path) as file:
        print("read back: %r" % file.read())
    os.mkdir(os.path.join(scratch, "sub"))
    print("listdir: %r" % sorted(os.listdir(scratch)))
    os.rename(path, path + ".moved")
    os.remove(path + ".moved")
    os.rmdir(os.path.join(scratch, "sub"))
    namespace = {}
    exec(compile("x = 6 * 7", "<behaviour>", "exec"), namespace)
    print("exec: x = %d" % namespace["x"])
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        attempt("connect", lambda: sock.connect(os.path.join(scratch, "nobody.sock")))
    finally:
        sock.close()
    attempt("custom event", lambda: sys.audit("behaviour.blocked", 1))
    for i in range(5):
        sys.audit("behaviour.step", i, "text", b"bytes", None)
    for _ in range(2):  # objects an agent describes, and the second time may remember
        sys.audit("behaviour.objects", Point, helper, Point().where, Point(), len, sys)
    sys.audit("behaviour.end", MODE)


def main():
    print("stdout line 1, mode %s" % MODE)
    sys.stderr.write("stderr line 1, mode %s\n" % MODE)
    print("sys.path: %r" % (sys.path,))
    print("threads: %d %r" % (threading.active_count(), [t.name for t in threading.enumerate()]))
    sys.addaudithook(watcher)
    sys.addaudithook(blocker)
    print("hooks installed")
    scratch = os.path.join(OUT, "scratch")
    os.mkdir(scratch)
    section(scratch)
    sitecustomize = sys.modules.get("sitecustomize")
    with open(os.path.join(OUT, "names.json"), "w") as file:
        json.dump({"names": names, "sitecustomize": getattr(sitecustomize, "__file__", None)}, file)
    print("section saw %d events" % len(names))
    sys.stderr.write("stderr line 2\n")
    if MODE == "exit":
        sys.exit(3)
    if MODE == "raise":
        raise RuntimeError("the workload fails on purpose")
    if MODE == "sigterm":
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGTERM)
        print("not reached")
    print("done")


main()
