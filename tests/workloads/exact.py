"""A workload that raises known events and logs them with its own, independent hook.

Usage: exact.py OUT.json [BURST]

Between the markers ``exact.begin`` and ``exact.end`` this process's own audit hook
writes down every event it sees (thread, name, plain argument values), so a test can
compare auditmon's recording with it event for event.  Python 3.8 syntax.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

OUT = sys.argv[1]
BURST = int(sys.argv[2]) if len(sys.argv) > 2 else 0
INT_RANGE = (-(2**63), 2**64 - 1)

agent_core = sys.modules.get("_auditmon_agent.core")
seen = []
recording = [False]


def plain(value):
    """The argument as the recording must carry it exactly, or None if it may differ."""
    t = type(value)
    if t is str and len(value) <= 1024:
        return ["s", value]
    if t is int and INT_RANGE[0] <= value <= INT_RANGE[1]:
        return ["i", value]
    if value is None or t is bool:
        return ["v", value]
    return None


def hook(event, args):
    if not recording[0]:
        if event != "exact.begin":
            return
        recording[0] = True
    tid = threading.get_ident()
    if agent_core is not None and tid in agent_core.AGENT.quiet:
        return  # the agent's own thread: auditmon doesn't record it either
    seen.append([tid, event, [plain(a) for a in args]])
    if event == "exact.end":
        recording[0] = False


class BadRepr:
    touched = 0

    def __repr__(self):
        BadRepr.touched += 1
        raise RuntimeError("repr called")

    __str__ = __repr__

    def __getattr__(self, name):
        BadRepr.touched += 1
        raise AttributeError(name)


def files(directory):
    path = os.path.join(directory, "a.txt")
    with open(path, "w") as f:
        f.write("hello")
    with open(path, "rb") as f:
        f.read()
    os.listdir(directory)
    os.rename(path, path + ".moved")
    os.mkdir(os.path.join(directory, "sub"))
    os.remove(path + ".moved")
    shutil.rmtree(os.path.join(directory, "sub"))


def sockets():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname())
    conn, _ = server.accept()
    client.sendall(b"ping")
    conn.recv(4)
    for s in (conn, client, server):
        s.close()
    a, b = socket.socketpair()
    a.close()
    b.close()


def worker(n, directory):
    for i in range(20):
        sys.audit("exact.thread", n, i)
    with open(os.path.join(directory, "t%d" % n), "w") as f:
        f.write(str(n))


def main():
    sys.addaudithook(hook)
    directory = tempfile.mkdtemp()
    selfref = [1, "two"]
    selfref.append(selfref)
    sys.audit("exact.begin")
    files(directory)
    sockets()
    import colorsys  # noqa: F401  (imports are events)
    import fractions  # noqa: F401

    subprocess.run([sys.executable, "-c", "import sys; sys.audit('exact.child', 1)"], check=True)
    threads = [threading.Thread(target=worker, args=(n, directory)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sys.audit(
        "exact.odd",
        BadRepr(),
        selfref,
        "x" * 1_000_000,
        b"\x00\xffbytes",
        {"k": [1, 2], 3: "int key"},
        2**100,
        -5,
        3.5,
        None,
        True,
        ("t", 1),
        "日本",
    )
    for i in range(BURST):
        sys.audit("exact.burst", i)
    compile("1 + 1", "<exact>", "eval")
    exec("x = 1", {})
    sys.audit("exact.end")
    shutil.rmtree(directory)
    with open(OUT, "w") as f:
        json.dump({"pid": os.getpid(), "seen": seen, "touched": BadRepr.touched}, f)


main()
