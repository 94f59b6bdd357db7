"""A workload that touches a known set of things, for the report's inventory test.

Usage: touches.py URL   (run in a directory holding data.txt, gone.txt, old.txt and
helper_mod.py; URL is an HTTP server on 127.0.0.1)

Files: reads data.txt, writes out.txt, makes made/, chmods out.txt, lists ., deletes
gone.txt, renames old.txt to new.txt, and writes scratch.txt in a temporary directory it
then removes.  Network (127.0.0.1 only): listens on a port, connects to it, and fetches
URL.  Commands: /bin/echo with an environment of its own (LD_PRELOAD set, empty), and
a Python child after putting WORKLOAD_FLAG in its own environment.  Code: imports
helper_mod (from the working directory), json and msgpack; runs a string; loads libc
with ctypes; unpickles an OrderedDict.
"""

import collections
import ctypes
import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.getcwd())
import helper_mod  # noqa: E402
import msgpack  # noqa: E402

URL = sys.argv[1]

with open("data.txt") as file:
    file.read()
with open("out.txt", "w") as file:
    file.write(json.dumps({"n": helper_mod.VALUE}))
os.mkdir("made")
os.chmod("out.txt", 0o600)
os.listdir(".")
os.remove("gone.txt")
os.rename("old.txt", "new.txt")
scratch = tempfile.mkdtemp()
with open(os.path.join(scratch, "scratch.txt"), "w") as file:
    file.write("x")
shutil.rmtree(scratch)

server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
with socket.create_connection(server.getsockname()):
    pass
server.close()
no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
no_proxy.open(URL, timeout=30).read()

subprocess.run(["/bin/echo", "hello"], env={"PATH": "/bin", "LD_PRELOAD": ""}, check=True)
os.environ["WORKLOAD_FLAG"] = "1"
subprocess.run([sys.executable, "-c", "pass"], check=True)

exec("answer = 6 * 7")
ctypes.CDLL("libc.so.6")
pickle.loads(pickle.dumps(collections.OrderedDict(a=1)))
msgpack.packb(1)
