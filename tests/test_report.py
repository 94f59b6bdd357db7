"""``auditmon report``: a workload that touches a known set of files, sockets (127.0.0.1
only), commands and modules yields exactly that inventory; the JSON validates against
its schema; a cut recording is reported up to its cut and says so; the live API gives
the same inventory scoped to one process."""

from __future__ import annotations

import functools
import gc
import http.server
import json
import sys
import threading
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from helpers import WORKLOADS, auditmon, run_recorded

from auditmon import protocol
from auditmon.model import Process
from auditmon.report import InventoryBuilder
from auditmon.report.document import read_report


def schema(name: str) -> dict:
    return json.loads(resources.files("auditmon.data").joinpath(name).read_text())


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def local_server(tmp_path_factory):
    """An HTTP server on 127.0.0.1 (an ephemeral port) serving one file, /ping."""
    root = tmp_path_factory.mktemp("www")
    (root / "ping").write_text("pong")
    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module", params=["jsonl", "amrec"])
def touched(request, tmp_path_factory, local_server):
    """The touches.py workload recorded, and its report as ``auditmon report --json``
    prints it."""
    work = tmp_path_factory.mktemp("touches")
    for name, text in (("data.txt", "d"), ("gone.txt", "g"), ("old.txt", "o")):
        (work / name).write_text(text)
    (work / "helper_mod.py").write_text("VALUE = 7\n")
    recording = work / f"run.{request.param}"
    script = str(WORKLOADS / "touches.py")
    result = run_recorded(recording, sys.executable, script, f"{local_server}/ping", cwd=work)
    assert result.returncode == 0, result.stderr
    printed = auditmon("report", "--json", str(recording))
    assert printed.returncode == 0, printed.stderr
    return recording, json.loads(printed.stdout)


@pytest.fixture(scope="module")
def start_up(tmp_path_factory):
    """The inventory of ``python -c 0`` run the same way: what the interpreter's own
    start-up touches (the preload library lets the agent see it), which every recording
    of this interpreter holds too."""
    work = tmp_path_factory.mktemp("start-up")
    recording = work / "run.jsonl"
    result = run_recorded(recording, sys.executable, "-c", "0", cwd=work)
    assert result.returncode == 0, result.stderr
    printed = auditmon("report", "--json", str(recording))
    assert printed.returncode == 0, printed.stderr
    return json.loads(printed.stdout)["inventory"]


@pytest.mark.system
def test_the_files_touched_are_exactly_those(touched, start_up):
    _, report = touched
    files = {item["path"]: set(item["ops"]) for item in report["inventory"]["files"]}
    at_start = {item["path"]: set(item["ops"]) for item in start_up["files"]}
    assert at_start and all(ops <= {"read", "listed"} for ops in at_start.values())
    assert at_start.items() <= files.items()
    assert {p: ops for p, ops in files.items() if p not in at_start} == {
        "<cwd>/data.txt": {"read"},
        "<cwd>/out.txt": {"written", "chmod"},
        "<cwd>/made": {"created"},
        "<cwd>/gone.txt": {"deleted"},
        "<cwd>/old.txt": {"renamed"},
        "<cwd>/new.txt": {"written"},
        "<tmp>/scratch.txt": {"written"},
        "<dir>/scratch.txt": {"deleted"},  # rmtree removes by name in a directory's fd
        "<tmp>": {"read", "written", "created", "deleted"},  # mkdtemp's, and its probe
    }


@pytest.mark.system
def test_the_network_is_exactly_127_0_0_1(touched):
    _, report = touched
    inventory = report["inventory"]
    assert {item["key"] for item in inventory["sockets"]} == {
        "bind tcp 127.0.0.1:0",
        "connect tcp 127.0.0.1:<port>",  # its own listener's, and the HTTP server's
    }
    (name,) = inventory["names"]
    assert name["name"] == "127.0.0.1"
    assert set(name["via"]) == {"socket.getaddrinfo", "http.client.connect"}
    assert name["led_to"] == ["connect tcp 127.0.0.1:<port>"]
    assert [(u["method"], u["key"]) for u in inventory["urls"]] == [
        ("GET", "GET http://127.0.0.1:<port>/ping")
    ]


@pytest.mark.system
def test_the_commands_with_their_environment(touched):
    _, report = touched
    commands = {tuple(item["argv"]): item for item in report["inventory"]["commands"]}
    assert set(commands) == {("/bin/echo", "hello"), ("<venv>/bin/python", "-c", "pass")}
    echo = commands[("/bin/echo", "hello")]
    assert echo["cwd"] == "<cwd>" and echo["via"] == "subprocess.Popen"
    assert echo["env"] == {
        "passed": "explicit",
        "keys": ["LD_PRELOAD", "PATH"],
        "set": {"LD_PRELOAD": "", "PATH": "/bin"},
        "complete": True,
    }
    child = commands[("<venv>/bin/python", "-c", "pass")]
    assert child["env"] == {"passed": "inherited", "set": {"WORKLOAD_FLAG": None}, "unset": []}


@pytest.mark.system
def test_modules_code_and_native_libraries(touched, start_up):
    _, report = touched
    inventory = report["inventory"]
    at_start = {m["package"] for m in start_up["modules"]}
    modules = {m["package"]: m for m in inventory["modules"]}
    assert modules["helper_mod"]["origin"] == "elsewhere"
    assert modules["helper_mod"]["location"] == "<cwd>/helper_mod.py"
    assert modules["msgpack"]["origin"] == "site-packages" and modules["msgpack"]["native"]
    assert modules["msgpack"]["location"] == "<site-packages>/msgpack"
    assert modules["json"]["origin"] == "stdlib" and modules["json"]["modules"] >= 3
    others = {
        p
        for p, m in modules.items()
        if m["origin"] not in ("stdlib", "unresolved") and p not in at_start
    }
    assert others == {"helper_mod", "msgpack"}
    code = {(c["kind"], c["where"], c["preview"]) for c in inventory["code"]}
    generated = {c for c in code if c[2].startswith(("lambda _cls", "def __create_fn__"))}
    # .pth files' lines run at start-up, in every process of this interpreter
    start_code = {(c["kind"], c["where"], c["preview"]) for c in start_up["code"]}
    assert code - generated - start_code == {
        ("string", "<string>", "answer = 6 * 7"),
        ("unpickled", "collections.OrderedDict", ""),
        ("command", "-c", "pass"),
        ("script", str(WORKLOADS / "touches.py"), ""),
    }
    native = {(n["via"], n["library"]) for n in inventory["native"]}
    assert ("ctypes", "libc.so.6") in native
    assert any(v == "extension module" and "msgpack/_cmsgpack" in lib for v, lib in native)


@pytest.mark.system
def test_each_item_links_back_to_its_events(touched):
    recording, report = touched
    records = {(r["pid"], r["seq"]): r for r in _events(recording)}
    for section in ("files", "sockets", "commands", "urls"):
        for item in report["inventory"][section]:
            assert item["events"] and item["count"] >= len(item["events"])
            for pid, seq in item["events"]:
                assert (pid, seq) in records, (section, item["key"])
    url = report["inventory"]["urls"][0]
    assert records[tuple(url["events"][0])]["event"] == "urllib.Request"


@pytest.mark.system
def test_the_report_validates_against_its_schema(touched):
    _, report = touched
    jsonschema.Draft202012Validator.check_schema(schema("report.schema.json"))
    jsonschema.validate(report, schema("report.schema.json"))
    assert report["schema"] == "auditmon-report" and report["version"] == 1
    assert [p["tree"] for p in report["processes"]] == [report["processes"][0]["pid"]] * 2


@pytest.mark.system
def test_text_and_markdown_show_the_inventory(touched, start_up):
    recording, _ = touched
    text = auditmon("report", str(recording))
    assert text.returncode == 0, text.stderr
    assert "<cwd>/out.txt" in text.stdout and "GET http://127.0.0.1:" in text.stdout
    markdown = auditmon("report", "--markdown", str(recording))
    assert markdown.returncode == 0, markdown.stderr
    assert f"### Files ({9 + len(start_up['files'])})" in markdown.stdout
    assert "| `<cwd>/out.txt` | written 1, chmod 1 |" in markdown.stdout


@pytest.mark.system
def test_a_cut_recording_is_reported_to_its_cut_and_says_so(touched, tmp_path):
    recording, _ = touched
    data = recording.read_bytes()
    cut = tmp_path / f"cut{recording.suffix}"
    cut.write_bytes(data[: len(data) * 2 // 3 + 5])
    result = auditmon("report", "--json", str(cut))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["recording"]["cut"].startswith("recording ends mid-record after ")
    assert "recording ends mid-record" in result.stderr
    jsonschema.validate(report, schema("report.schema.json"))


def test_trouble_is_exit_status_2(tmp_path):
    assert auditmon("report", str(tmp_path / "missing.jsonl")).returncode == 2
    garbage = tmp_path / "garbage.amrec"
    garbage.write_bytes(b"\x00not a recording")
    result = auditmon("report", str(garbage))
    assert result.returncode == 2 and "not an auditmon recording" in result.stderr


def _events(path: Path) -> list[dict]:
    from auditmon.record import Recording

    return [r for r in Recording(path) if r["type"] == "event"]


# -- the live API: the same inventory, from a session's events, scoped to one process ----


def _process(id: int, pid: int, ppid: int = 1) -> Process:
    process = Process(id=id)
    process.apply_hello({"pid": pid, "ppid": ppid, "cwd": "/srv/app", "argv": ["app"]})
    return process


def test_a_live_session_inventory_scoped_to_one_process():
    builder = InventoryBuilder()
    parent, child = _process(1, 100), _process(2, 101, ppid=100)
    sock = protocol.Described("socket AF_INET SOCK_STREAM fd=3")
    for process in (parent, child):
        builder.process_started(process)
    builder.events(
        parent,
        [
            [1, 1.0, 7, "open", ("conf.ini", "r", 0), None],
            [2, 1.1, 7, "socket.getaddrinfo", ("example.org", 443, 0, 1, 6), None],
            [3, 1.2, 7, "socket.connect", (sock, ("93.184.215.14", 443)), None],
            [4, 1.3, 7, "subprocess.Popen", ("/bin/ls", ["ls", "-l"], None, None), None],
        ],
    )
    builder.events(child, [[1, 2.0, 9, "open", ("/srv/app/out.log", "a", 0o2101), None]])
    whole = builder.inventory()
    assert [f["path"] for f in whole.files] == ["<cwd>/conf.ini", "<cwd>/out.log"]
    only_child = builder.inventory([child.id])
    assert [(f["path"], f["ops"]) for f in only_child.files] == [("<cwd>/out.log", {"written": 1})]
    assert only_child.sockets == [] and only_child.commands == []
    only_parent = builder.inventory([parent.id])
    (name,) = only_parent.names
    assert name["led_to"] == ["connect tcp 93.184.215.14:443"]
    assert only_parent.commands[0]["argv"] == ["ls", "-l"]
    assert only_parent.files[0]["events"] == [[100, 1]]


def test_alert_records_are_read_and_unknown_records_ignored(tmp_path):
    recording = tmp_path / "alerts.jsonl"
    records = [
        {"type": "process", "pid": 5, "ppid": 1, "argv": ["x"], "executable": "/usr/bin/python3",
         "cwd": "/w", "python": "cpython 3.11", "start": 1.0, "agent": "native"},
        {"type": "event", "pid": 5, "seq": 1, "time": 1.5, "thread": 1, "event": "open",
         "args": ["/etc/shadow", "r", 0]},
        {"type": "alert", "rule": "Read sensitive file", "priority": "WARNING", "pid": 5,
         "seq": 1, "time": 1.5, "output": "open /etc/shadow", "tags": ["T1555"], "fields": {}},
        {"type": "something-new", "pid": 5, "whatever": [1, 2]},
        {"type": "exit", "pid": 5, "time": 2.0, "exit_code": 0, "status": "exited"},
    ]  # fmt: skip
    recording.write_text("".join(json.dumps(r) + "\n" for r in records))
    report = read_report(recording)
    (alert,) = report["inventory"]["alerts"]
    assert (alert["rule"], alert["priority"], alert["events"]) == (
        "Read sensitive file",
        "WARNING",
        [[5, 1]],
    )
    assert alert["output"] == "open /etc/shadow" and alert["tags"] == ["T1555"]
    jsonschema.validate(report, schema("report.schema.json"))
    text = auditmon("report", str(recording))
    assert "Read sensitive file (WARNING)" in text.stdout


@pytest.mark.parametrize("suffix", [".jsonl", ".amrec"])
def test_reading_makes_no_garbage_cycles_event_by_event(tmp_path, suffix):
    """read_report turns the cycle collector off while it reads (it would walk the growing
    inventory again and again): sound only while reading leaves no cycles behind, so the
    garbage found after a report does not grow with the events, and the collector is
    back on after."""
    from auditmon.record import Recorder

    sock = protocol.Described("socket AF_INET SOCK_STREAM fd=3")
    code = protocol.Described("code <module> at /w/pkg/mod.py:1")
    batch = [
        [1, 1.7e9, 7, "import", ["pkg.mod", None, ["/w"], None, None], None],
        [2, 1.7e9, 7, "exec", [code], None],
        [3, 1.7e9, 7, "open", ["/w/data.txt", "r", 524288], [["/w/a.py", 3, "f"]]],
        [4, 1.7e9, 7, "open", [3, "r", 0], None],
        [5, 1.7e9, 7, "socket.connect", [sock, ["127.0.0.1", 80]], None],
        [6, 1.7e9, 7, "subprocess.Popen", ["git", ["git", "status"], None, None], None],
        [7, 1.7e9, 7, "os.listdir", ["/w"], None],
        [8, 1.7e9, 7, "open", [None], None],  # a shape no handler expects
    ]
    garbage = []
    for copies in (10, 200):
        path = tmp_path / f"r{copies}{suffix}"
        recorder = Recorder(path, helper=False)
        process = _process(1, 4242)
        recorder.process_started(process)
        for _ in range(copies):
            recorder.events(process, batch)
        recorder.close()
        gc.collect()
        gc.disable()
        try:
            report = read_report(path)
            garbage.append(gc.collect())
        finally:
            gc.enable()
        assert report["recording"]["events"] == copies * len(batch)
    assert garbage[0] == garbage[1]
    read_report(path)
    assert gc.isenabled()
