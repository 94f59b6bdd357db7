"""Tests for the audit event catalog, its generator and the ``auditmon events`` command.

The seed (the CPython 3.13 audit events table) is read with a parser of its own here,
independent of tools/build_catalog.py, so a bug in the generator cannot hide itself.
``tests/data/`` holds a copy of it (shared/seeds/000_a16a60f8dbe47d10.txt, which lies
beside the main checkout only), so the tests pass wherever the repository is cloned.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditmon.catalog import (
    RISK_LEVELS,
    Catalog,
    load_catalog,
    read_document,
    risk_for,
    risk_rank,
)
from auditmon.commands import events as events_command

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "000_a16a60f8dbe47d10.txt"
COMMITTED = ROOT / "auditmon" / "data" / "catalog.json"
BUILD_SCRIPT = ROOT / "tools" / "build_catalog.py"

NAME = r"[A-Za-z_][\w.]*(?:/\w+)?"
PUBLIC_ROW = re.compile(rf"^\|\s*({NAME})\s*\|([^|]*)\|([^|]*)\|\s*$")
INTERNAL_ROW = re.compile(rf"^\|\s*({NAME})\s*\|([^|]*)\|\s*$")


def seed_rows() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(public, internal): event name -> argument names, straight from the seed text."""
    if not SEED.exists():
        pytest.fail(
            f"the seed table is missing at {SEED}: the catalog cannot be checked against it"
        )
    public: dict[str, list[str]] = {}
    internal: dict[str, list[str]] = {}
    for line in SEED.read_text(encoding="utf-8").splitlines():
        for pattern, table in ((PUBLIC_ROW, public), (INTERNAL_ROW, internal)):
            found = pattern.match(line)
            if found:
                table[found.group(1)] = re.findall(r"`([^`]+)`", found.group(2))
    return public, internal


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


# --- the data against the seed --------------------------------------------------------


def test_seed_parser_sees_both_tables() -> None:
    public, internal = seed_rows()
    assert len(public) == 178
    assert len(internal) == 8
    assert public["open"] == ["path", "mode", "flags"]
    assert internal["_winapi.CreatePipe"] == []


def test_every_seed_row_is_in_the_catalog_with_its_arguments(catalog: Catalog) -> None:
    public, internal = seed_rows()
    for rows, is_internal in ((public, False), (internal, True)):
        for name, args in rows.items():
            info = catalog.get(name)
            assert info is not None, name
            assert info.known
            assert list(info.args) == args, name
            assert info.internal is is_internal, name
    assert {info.name for info in catalog} == set(public) | set(internal)
    assert len(catalog) == len(public) + len(internal)


def test_every_entry_is_well_formed(catalog: Catalog) -> None:
    category_names = [c.name for c in catalog.categories()]
    for info in catalog:
        assert isinstance(info.category, str) and category_names.count(info.category) == 1
        assert info.risk in RISK_LEVELS, info.name
        assert re.fullmatch(r"3\.\d+", info.added), info.name
        assert info.summary and "\n" not in info.summary, info.name
        assert info.docs, info.name
        for url in info.docs:
            assert url.startswith("https://docs.python.org/3/"), url
            assert "zh-cn" not in url and "{{" not in url and " " not in url, url
            assert re.fullmatch(r"https://docs\.python\.org/3/[\w.-]+/[\w.-]+\.html(#\S+)?", url)


def test_raw_document_matches_what_the_loader_exposes() -> None:
    document = read_document()
    assert [level["name"] for level in document["risk_levels"]] == list(RISK_LEVELS)
    assert all(level["description"] for level in document["risk_levels"])
    for event in document["events"]:
        assert set(event) == {
            "name",
            "args",
            "category",
            "risk",
            "docs",
            "added",
            "internal",
            "summary",
        }
        assert isinstance(event["args"], list) and isinstance(event["docs"], list)


def test_categories(catalog: Catalog) -> None:
    categories = catalog.categories()
    names = [c.name for c in categories]
    assert len(names) == len(set(names))
    assert set(names) == {
        "filesystem",
        "process",
        "network",
        "code",
        "native",
        "introspection",
        "environment",
        "interpreter",
        "windows",
        "other",
    }
    used = {info.category for info in catalog}
    assert used == set(names)
    for category in categories:
        assert re.fullmatch(r"#[0-9a-f]{6}", category.color), category
        assert category.title and category.description
        assert isinstance(category.prefixes, tuple)
        assert catalog.category(category.name) is category
    with pytest.raises(KeyError):
        catalog.category("nope")


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("open", "filesystem"),
        ("os.remove", "filesystem"),
        ("shutil.rmtree", "filesystem"),
        ("subprocess.Popen", "process"),
        ("os.system", "process"),
        ("os.exec", "process"),
        ("os.posix_spawn", "process"),
        ("os.kill", "process"),
        ("signal.pthread_kill", "process"),
        ("socket.connect", "network"),
        ("http.client.connect", "network"),
        ("urllib.Request", "network"),
        ("webbrowser.open", "network"),
        ("import", "code"),
        ("exec", "code"),
        ("compile", "code"),
        ("code.__new__", "code"),
        ("marshal.loads", "code"),
        ("pickle.find_class", "code"),
        ("cpython.run_file", "code"),
        ("ctypes.dlopen", "native"),
        ("mmap.__new__", "native"),
        ("sys._getframe", "introspection"),
        ("gc.get_objects", "introspection"),
        ("sys.settrace", "introspection"),
        ("object.__getattr__", "introspection"),
        ("builtins.id", "introspection"),
        ("os.putenv", "environment"),
        ("os.chdir", "environment"),
        ("resource.setrlimit", "environment"),
        ("cpython.PyInterpreterState_New", "interpreter"),
        ("sys.addaudithook", "interpreter"),
        ("sys.unraisablehook", "interpreter"),
        ("winreg.OpenKey", "windows"),
        ("msvcrt.locking", "windows"),
        ("_winapi.CreateProcess", "windows"),
        ("os.startfile", "windows"),
    ],
)
def test_category_of_known_events(catalog: Catalog, name: str, category: str) -> None:
    assert catalog.info(name).category == category


def test_docs_links_point_at_real_english_pages(catalog: Catalog) -> None:
    def docs(name: str) -> tuple[str, ...]:
        info = catalog.get(name)
        assert info is not None
        return info.docs

    base = "https://docs.python.org/3/"
    assert docs("array.__new__") == (base + "library/array.html#array.array",)
    assert docs("cpython.PyInterpreterState_Clear") == (
        base + "c-api/init.html#c.PyInterpreterState_Clear",
    )
    assert docs("setopencodehook") == (base + "c-api/file.html#c.PyFile_SetOpenCodeHook",)
    assert docs("sys.addaudithook") == (
        base + "c-api/sys.html#c.PySys_AddAuditHook",
        base + "library/sys.html#sys.addaudithook",
    )
    assert docs("open") == (
        base + "library/functions.html#open",
        base + "library/io.html#io.open",
        base + "library/os.html#os.open",
    )
    assert docs("urllib.Request") == (base + "library/urllib.request.html#urllib.request.urlopen",)
    assert docs("http.client.send")[0].startswith(base + "library/http.client.html#")
    assert docs("import") == (base + "reference/simple_stmts.html#import",)
    assert docs("cpython.run_module") == (base + "using/cmdline.html#cmdoption-m",)


def test_added_versions(catalog: Catalog) -> None:
    def added(name: str) -> str:
        return catalog.info(name).added

    assert added("open") == "3.8"
    assert added("sys._getframemodulename") == "3.12"
    assert added("time.sleep") == "3.13"
    assert added("glob.glob/2") == "3.10"


# --- lookups ---------------------------------------------------------------------------


def test_unknown_events_are_synthesized(catalog: Catalog) -> None:
    assert catalog.get("mylib.login") is None
    assert "mylib.login" not in catalog
    info = catalog.info("mylib.login")
    assert info.name == "mylib.login"
    assert info.category == "other"
    assert info.args == ()
    assert info.risk == "notice"
    assert info.known is False
    assert catalog.arg_names("mylib.login", 2) == ["arg0", "arg1"]
    assert catalog.info("socket.newthing").category == "network"
    assert catalog.info("ctypes.something_new").category == "native"
    assert catalog.info("os.newfilething").category == "filesystem"
    assert catalog.info("os.execvpe_new").category == "process"
    assert catalog.info("winreg.NewThing").category == "windows"


def test_arg_names(catalog: Catalog) -> None:
    assert catalog.arg_names("open", 4) == ["path", "mode", "flags", "arg3"]
    assert catalog.arg_names("open", 3) == ["path", "mode", "flags"]
    assert catalog.arg_names("open", 1) == ["path"]
    assert catalog.arg_names("open", 0) == []
    assert catalog.arg_names("os.fork", 1) == ["arg0"]


def test_named_args(catalog: Catalog) -> None:
    sock = object()
    assert catalog.named_args("socket.connect", (sock, ("example.org", 80))) == [
        ("self", sock),
        ("address", ("example.org", 80)),
    ]
    assert catalog.named_args("open", ("f.txt", "r", 0, "extra")) == [
        ("path", "f.txt"),
        ("mode", "r"),
        ("flags", 0),
        ("arg3", "extra"),
    ]
    assert catalog.named_args("mylib.login", ["bob"]) == [("arg0", "bob")]


def test_match(catalog: Catalog) -> None:
    sockets = catalog.match("socket.*")
    assert sockets and all(info.name.startswith("socket.") for info in sockets)
    assert [info.name for info in catalog.match("open")] == ["open"]
    assert catalog.match("OPEN") == []  # case-sensitive
    network = catalog.match(category="network")
    assert network and all(info.category == "network" for info in network)
    assert len(catalog.match()) == len(catalog)
    assert [i.name for i in catalog.match("os.*", "process")] == [
        i.name for i in catalog if i.name.startswith("os.") and i.category == "process"
    ]
    with pytest.raises(KeyError):
        catalog.match(category="nope")


def test_runtime_alias_for_asyncgen_hooks(catalog: Catalog) -> None:
    # CPython raises the singular name although the docs table lists "hooks".
    info = catalog.get("sys.set_asyncgen_hook_firstiter")
    assert info is not None and info.known
    assert info.name == "sys.set_asyncgen_hook_firstiter"
    assert info.category == catalog.info("sys.set_asyncgen_hooks_firstiter").category
    assert "sys.set_asyncgen_hook_finalizer" in catalog


READS_OF_THE_CATALOG = """
import sys
reads = []
def hook(event, args):
    if event == "open" and str(args[0]).endswith("catalog.json"):
        reads.append(args[0])
sys.addaudithook(hook)
from auditmon.catalog import load_catalog, risk_for
from auditmon.model import Session
catalogs = {id(load_catalog()), id(Session().catalog), id(Session().catalog)}
risk_for("open", ["/tmp/x", "w"])
print(len(reads), len(catalogs))
"""


def test_the_catalog_is_read_once_however_many_use_it() -> None:
    """Every session, risk lookup and screen uses the catalog: the file is read and
    parsed once per process (an audit hook of our own counts the opens), and all of them
    share that one catalog."""
    result = subprocess.run(
        [sys.executable, "-c", READS_OF_THE_CATALOG],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    reads, catalogs = result.stdout.split()
    assert (reads, catalogs) == ("1", "1")


# --- risk --------------------------------------------------------------------------------

WARNINGS = [
    "os.system",
    "subprocess.Popen",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "ctypes.dlopen",
    "ctypes.call_function",
    "pickle.find_class",
    "marshal.loads",
    "exec",
    "compile",
    "socket.connect",
    "socket.bind",
    "sys.addaudithook",
    "sys.settrace",
    "sys.setprofile",
]
NOTICES = ["open", "import", "os.listdir", "os.remove", "os.rename", "os.putenv"]
INFOS = [
    "builtins.id",
    "object.__getattr__",
    "sys._getframe",
    "gc.get_objects",
    "gc.get_referrers",
    "gc.get_referents",
]


@pytest.mark.parametrize(
    ("name", "level"),
    [(n, "warning") for n in WARNINGS]
    + [(n, "notice") for n in NOTICES]
    + [(n, "info") for n in INFOS],
)
def test_static_risk(catalog: Catalog, name: str, level: str) -> None:
    assert catalog.info(name).risk == level


@pytest.mark.parametrize("mode", ["r", "rb", "rt", "U"])
def test_open_for_reading_is_notice(mode: str) -> None:
    assert risk_for("open", ("data.txt", mode, os.O_RDONLY)) == "notice"


@pytest.mark.parametrize("mode", ["w", "wb", "a", "ab", "x", "r+", "rb+", b"w"])
def test_open_for_writing_is_warning(mode: object) -> None:
    assert risk_for("open", ("data.txt", mode, os.O_RDONLY)) == "warning"


def test_open_flags_decide_when_there_is_no_mode() -> None:
    # os.open() raises ("path", None, flags).
    assert risk_for("open", ("data.txt", None, os.O_RDONLY)) == "notice"
    for flags in (os.O_WRONLY, os.O_RDWR, os.O_CREAT | os.O_RDONLY, os.O_WRONLY | os.O_TRUNC):
        assert risk_for("open", ("data.txt", None, flags)) == "warning"
        assert risk_for("open", ("data.txt", None, str(flags))) == "warning"
    assert risk_for("open", ("data.txt",)) == "notice"
    assert risk_for("open", ()) == "notice"


def test_risk_for_other_events_is_static() -> None:
    assert risk_for("os.listdir", ("/tmp",)) == "notice"
    assert risk_for("os.system", ("ls",)) == "warning"
    assert risk_for("mylib.login", ("w",)) == "notice"


def test_risk_ordering() -> None:
    assert [risk_rank(level) for level in RISK_LEVELS] == [0, 1, 2]
    read = risk_rank(risk_for("open", ("f", "r", os.O_RDONLY)))
    identity = risk_rank(risk_for("builtins.id", (140000,)))
    for name in (
        "os.system",
        "subprocess.Popen",
        "ctypes.dlopen",
        "pickle.find_class",
        "socket.connect",
    ):
        assert risk_rank(risk_for(name, ())) > read > identity


EVENT_NAMES = st.one_of(
    st.sampled_from(sorted(info.name for info in load_catalog())),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz._/", min_size=1, max_size=30),
)
ARG_VALUES = st.lists(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(), st.binary()), max_size=8
)


@given(EVENT_NAMES, ARG_VALUES)
def test_lookups_never_fail(name: str, args: list[object]) -> None:
    catalog = load_catalog()
    info = catalog.info(name)
    assert info.name == name
    assert info.risk in RISK_LEVELS
    assert catalog.category(info.category).name == info.category
    names = catalog.arg_names(name, len(args))
    assert len(names) == len(args)
    assert names[len(info.args) :] == [f"arg{i}" for i in range(len(info.args), len(args))]
    assert [value for _, value in catalog.named_args(name, args)] == args
    assert risk_rank(risk_for(name, args)) >= risk_rank(info.risk)


# --- the generator ----------------------------------------------------------------------


def test_regenerating_gives_the_committed_catalog(tmp_path: Path) -> None:
    seed_rows()  # fails when the seed is absent
    output = tmp_path / "catalog.json"
    result = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), "--seed", str(SEED), "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(output.read_text(encoding="utf-8")) == json.loads(
        COMMITTED.read_text(encoding="utf-8")
    ), "auditmon/data/catalog.json is stale: run python tools/build_catalog.py"


# --- against a real interpreter ----------------------------------------------------------


def test_events_raised_by_this_python_match_the_catalog(tmp_path: Path, catalog: Catalog) -> None:
    """Raise real events in a child interpreter; names and argument counts must agree."""
    script = textwrap.dedent(
        """
        import json, marshal, os, shutil, sys, tempfile
        seen = {}
        def hook(event, args):
            seen.setdefault(event, len(args))
        sys.addaudithook(hook)
        here = sys.argv[1]
        src = os.path.join(here, "a.txt")
        with open(src, "w") as f:
            f.write("x")
        os.listdir(here)
        list(os.scandir(here))
        os.mkdir(os.path.join(here, "d"))
        shutil.copyfile(src, os.path.join(here, "b.txt"))
        os.rename(os.path.join(here, "b.txt"), os.path.join(here, "c.txt"))
        os.remove(os.path.join(here, "c.txt"))
        os.rmdir(os.path.join(here, "d"))
        exec(compile("1 + 1", "<test>", "eval"))
        marshal.loads(marshal.dumps(1))
        fd, path = tempfile.mkstemp(dir=here)
        os.close(fd)
        import json.tool
        sys.stdout.write(json.dumps(seen))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    seen: dict[str, int] = json.loads(result.stdout)
    expected = {
        "open",
        "os.listdir",
        "os.scandir",
        "os.mkdir",
        "shutil.copyfile",
        "os.rename",
        "os.remove",
        "os.rmdir",
        "compile",
        "exec",
        "marshal.loads",
        "marshal.dumps",
        "tempfile.mkstemp",
        "import",
    }
    assert expected <= set(seen)
    for name in expected:
        info = catalog.get(name)
        assert info is not None, name
        assert seen[name] == len(info.args), name


def test_importing_the_catalog_does_not_import_textual() -> None:
    code = (
        "import auditmon.catalog, sys; "
        "auditmon.catalog.load_catalog(); "
        "assert 'textual' not in sys.modules, 'textual imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


# --- auditmon events ----------------------------------------------------------------------


def run_events(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="auditmon")
    events_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["events", *argv])
    return args.func(args)


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.mark.usefixtures("wide")
def test_cli_detail_view(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_events(["open"]) == 0
    out = capsys.readouterr().out
    assert "path, mode, flags" in out
    for url in (
        "https://docs.python.org/3/library/functions.html#open",
        "https://docs.python.org/3/library/os.html#os.open",
    ):
        assert url in out
    assert "filesystem" in out and "notice" in out and "3.8" in out
    assert "A file is being opened" in out


@pytest.mark.usefixtures("wide")
def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_events(["socket.*", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert entries and all(e["name"].startswith("socket.") for e in entries)
    connect = next(e for e in entries if e["name"] == "socket.connect")
    assert connect["args"] == ["self", "address"] and connect["risk"] == "warning"


@pytest.mark.usefixtures("wide")
def test_cli_category_lists_only_that_category(
    capsys: pytest.CaptureFixture[str], catalog: Catalog
) -> None:
    assert run_events(["--category", "network"]) == 0
    out = capsys.readouterr().out
    assert "socket.connect" in out and "urllib.Request" in out
    for info in catalog:
        if info.category != "network":
            assert f" {info.name} " not in out, info.name
    assert run_events(["--category", "network", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert {e["category"] for e in entries} == {"network"}
    assert len(entries) == len(catalog.match(category="network"))


@pytest.mark.usefixtures("wide")
def test_cli_table_of_everything(capsys: pytest.CaptureFixture[str], catalog: Catalog) -> None:
    assert run_events([]) == 0
    out = capsys.readouterr().out
    assert f"({len(catalog)})" in out
    assert "https://docs.python.org/3/library/subprocess.html#subprocess.Popen" in out


def test_cli_narrow_terminal_drops_the_docs_column(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    assert run_events([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "https://" not in "\n".join(lines)
    assert any("subprocess.Popen" in line for line in lines)
    assert "auditmon events NAME" in lines[-1]


@pytest.mark.usefixtures("wide")
def test_cli_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_events(["--category", "x"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("auditmon events: unknown category 'x' (choose from: ")
    assert "network" in captured.err and captured.err.count("\n") == 1
    assert run_events(["nosuch.*"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("auditmon events: ")
    assert run_events(["open", "--category", "network"]) == 1
