"""A small program that touches files, the network, subprocesses and pickle: a demo target.

Run it under auditmon:  auditmon run -- python3 examples/demo.py
"""

import json
import os
import pickle
import socket
import subprocess
import sys
import tempfile


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "settings.json")
        with open(path, "w") as file:
            json.dump({"debug": True}, file)
        with open(path) as file:
            json.load(file)
        os.listdir(directory)
    server = socket.create_server(("127.0.0.1", 0))
    with socket.create_connection(server.getsockname()) as client:
        client.sendall(b"hello")
    server.close()
    pickle.loads(pickle.dumps({"x": 1}))
    subprocess.run([sys.executable, "-c", "import platform; platform.system()"], check=True)
    print("demo done")


if __name__ == "__main__":
    main()
