"""``auditmon diff``: two installs of the same local package into fresh venvs compare
equal (pids, times, ports, temporary names and the venvs' paths left out); a second
version that adds a file read, a request to a local HTTP server and a command shows
exactly those; saved reports work as either side; exit statuses are diff's."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import sys
import threading
from importlib import resources

import jsonschema
import pytest
from helpers import auditmon, run_recorded

from auditmon.report.diff import diff_reports

V1 = """import subprocess
import urllib.request


def hello():
    return "hi"
"""
# The second version: the same name and version string (so pip installs the same
# files), but importing it reads a file, requests a URL and runs a command.
V2 = (
    V1
    + """

with open("endpoint.txt") as _file:
    _url = _file.read().strip()
urllib.request.build_opener(urllib.request.ProxyHandler({})).open(_url, timeout=30).read()
subprocess.run(["/bin/echo", "v2"], check=True)
"""
)
SETUP = (
    'from setuptools import setup\nsetup(name="demo-pkg", version="1.0", packages=["demo_pkg"])\n'
)
INSTALL_AND_IMPORT = (
    "venv/bin/python -m pip install -q --no-index --no-deps --no-cache-dir "
    "--disable-pip-version-check demo_pkg-1.0-py3-none-any.whl "
    '&& venv/bin/python -c "import demo_pkg; demo_pkg.hello()"'
)


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    (root / "ping").write_text("pong")
    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/ping"
    server.shutdown()


def wheel(source: str, into) -> object:
    """The demo package with ``source`` as its code, built as a wheel (no network)."""
    tree = into / "src"
    (tree / "demo_pkg").mkdir(parents=True)
    (tree / "demo_pkg" / "__init__.py").write_text(source)
    (tree / "setup.py").write_text(SETUP)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(into / "dist"), str(tree)],
        check=True, capture_output=True,
    )  # fmt: skip
    (built,) = (into / "dist").glob("*.whl")
    return built


@pytest.fixture(scope="module")
def runs(tmp_path_factory, server_url):
    """Three recorded runs, each installing into a fresh venv and importing: version 1
    twice, version 2 once.  Each in a directory of its own, its working directory."""
    wheels = {v: wheel(src, tmp_path_factory.mktemp(v)) for v, src in (("v1", V1), ("v2", V2))}
    recordings = {}
    for name, version in (("first", "v1"), ("again", "v1"), ("second", "v2")):
        work = tmp_path_factory.mktemp(name)
        shutil.copy(wheels[version], work)
        if version == "v2":
            (work / "endpoint.txt").write_text(server_url)
        subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True)
        recording = work / "run.amrec"
        result = run_recorded(recording, "sh", "-c", INSTALL_AND_IMPORT, cwd=work)
        assert result.returncode == 0, result.stdout + result.stderr
        recordings[name] = recording
    return recordings


def diff(*args: str):
    result = auditmon("diff", *map(str, args))
    return result.returncode, result


@pytest.mark.system
def test_two_installs_of_the_same_package_compare_equal(runs):
    status, result = diff(runs["first"], runs["again"])
    assert status == 0, result.stdout + result.stderr
    assert "the same" in result.stdout


@pytest.mark.system
def test_a_second_version_shows_exactly_what_it_adds(runs):
    status, result = diff("--json", runs["first"], runs["second"])
    assert status == 1, result.stderr
    found = json.loads(result.stdout)
    jsonschema.validate(found, _schema("diff.schema.json"))
    changes = {
        section: ([i["key"] for i in change["added"]], [i["key"] for i in change["removed"]])
        for section, change in found["sections"].items()
    }
    assert changes == {
        "files": (["<cwd>/endpoint.txt"], []),
        "sockets": (["connect tcp 127.0.0.1:<port>"], []),
        "names": (["127.0.0.1"], []),
        "urls": (["GET http://127.0.0.1:<port>/ping"], []),
        "commands": ([_command(found, "/bin/echo")], []),
    }
    (command,) = found["sections"]["commands"]["added"]
    assert command["argv"] == ["/bin/echo", "v2"] and command["cwd"] == "<cwd>"
    (read,) = found["sections"]["files"]["added"]
    assert read["ops"] == {"read": 1}
    assert found["differences"] == 5 and not found["equal"]
    status, backwards = diff(runs["second"], runs["first"])
    assert status == 1 and "- " in backwards.stdout and "<cwd>/endpoint.txt" in backwards.stdout


@pytest.mark.system
def test_a_saved_report_is_a_side_like_its_recording(runs, tmp_path):
    saved = tmp_path / "baseline.json"
    report = auditmon("report", "--json", str(runs["first"]))
    saved.write_text(report.stdout)
    assert diff(saved, runs["again"])[0] == 0
    assert diff(runs["second"], saved)[0] == 1
    assert diff(saved, saved)[0] == 0


def test_trouble_is_exit_status_2(tmp_path):
    missing = tmp_path / "missing.amrec"
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"schema": "auditmon-report", "version": 99}))
    status, result = diff(missing, missing)
    assert status == 2 and "no such file" in result.stderr
    status, result = diff(other, other)
    assert status == 2 and "version 99" in result.stderr
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json\n{}\n")
    status, result = diff(garbage, garbage)
    assert status == 2 and "line 1 is not a record" in result.stderr


def _report(**sections) -> dict:
    inventory = {s: [] for s in ("files", "sockets", "names", "urls", "commands", "modules",
                                 "code", "native", "alerts")}  # fmt: skip
    inventory.update(sections)
    recording = {"path": "x", "events": 1, "processes": 1, "dropped": 0, "cut": None}
    return {"schema": "auditmon-report", "version": 1, "recording": recording,
            "inventory": {**inventory, "not_kept": 0}}  # fmt: skip


def _file(path: str, *ops: str, pid: int = 1) -> dict:
    return {"key": path, "path": path, "ops": {op: 1 for op in ops}, "count": len(ops),
            "events": [[pid, 1]], "source": None}  # fmt: skip


def test_counts_and_pids_do_not_count_but_operations_do():
    a = _report(files=[_file("<cwd>/a", "read", pid=10), _file("<cwd>/b", "read")])
    b = _report(files=[_file("<cwd>/a", "read", "read", pid=99), _file("<cwd>/b", "written")])
    found = diff_reports(a, b)
    assert found["differences"] == 1
    assert found["sections"]["files"]["changed"] == [
        {"key": "<cwd>/b", "a": ["read"], "b": ["written"]}
    ]
    assert diff_reports(a, a)["equal"]
    jsonschema.validate(found, _schema("diff.schema.json"))


def _schema(name: str) -> dict:
    return json.loads(resources.files("auditmon.data").joinpath(name).read_text())


def _command(found: dict, program: str) -> str:
    return next(i["key"] for i in found["sections"]["commands"]["added"] if i["argv"][0] == program)
