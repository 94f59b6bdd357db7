"""A harmless program that does what malicious packages do, for the rules to catch.

Run it with a throwaway home, so that the "secrets" it reads and the start-up file it
edits are its own:

    HOME=$(mktemp -d) auditmon run --rules default -- python3 examples/suspicious.py
"""

import base64
import os
import subprocess


def main() -> None:
    home = os.path.expanduser("~")
    ssh = os.path.join(home, ".ssh")
    os.makedirs(ssh, exist_ok=True)
    key = os.path.join(ssh, "id_rsa")
    with open(key, "w") as f:
        f.write("not a real key\n")
    with open(key) as f:  # reads the (fake) private key
        f.read()
    with open(os.path.join(home, ".bashrc"), "a") as f:  # persists in a start-up file
        f.write("# added by suspicious.py\n")
    subprocess.run(["sh", "-c", "echo from a shell"], check=True)  # runs a shell
    code = base64.b64decode(b"cHJpbnQoJ2RlY29kZWQgYW5kIGV4ZWN1dGVkJyk=")
    exec(compile(code, "<string>", "exec"))  # runs code that came from no file


if __name__ == "__main__":
    main()
