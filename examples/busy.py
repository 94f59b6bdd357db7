"""A target that keeps busy for a while (default 5 s): files, imports, sockets, a child.

Run it under auditmon:  auditmon run -- python3 examples/busy.py 10
"""

import os
import socket
import subprocess
import sys
import tempfile
import time


def main(seconds: float) -> None:
    end = time.time() + seconds
    directory = tempfile.mkdtemp()
    round_ = 0
    while time.time() < end:
        round_ += 1
        path = os.path.join(directory, f"file{round_ % 5}.txt")
        with open(path, "w") as file:
            file.write("x" * round_)
        with open("/etc/hostname") as file:
            file.read()
        os.listdir(directory)
        if round_ % 10 == 0:
            server = socket.create_server(("127.0.0.1", 0))
            socket.create_connection(server.getsockname()).close()
            server.close()
        if round_ % 25 == 0:
            subprocess.run([sys.executable, "-c", "import json"], check=True)
        print(f"round {round_}", flush=True)
        time.sleep(0.05)
    print("busy done")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)
