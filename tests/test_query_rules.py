"""The expression language's parts for rules: derived fields, operators, macros and
lists, event indexing, outputs, and the versions of a rule made for one event name."""

from __future__ import annotations

import pytest
from test_rule_cases import CASES, HOME, _value

from auditmon.catalog import load_catalog
from auditmon.model.filtering import parse
from auditmon.model.process import Process
from auditmon.model.query import (
    Definitions,
    QueryError,
    Subject,
    event_patterns,
    parse_query,
    query_from_tree,
)
from auditmon.model.query.output import parse_output
from auditmon.model.query.specialize import leading_guard, specialize
from auditmon.model.query.syntax import AllOf, Glob, parse_tree
from auditmon.protocol import Cut, Described
from auditmon.rules import load_rules

CATALOG = load_catalog()


def subject(name, args, cwd="/srv/app", stack=None, argv=("python3", "app.py")):
    process = Process(id=1)
    process.apply_hello({"pid": 5, "ppid": 1, "argv": list(argv), "cwd": cwd, "start": 10.0})
    return Subject(name, args, process, 12.5, 1, stack=stack, seq=3)


def holds(text, s, names=None):
    return parse_query(text, CATALOG, names).holds(s)


@pytest.mark.parametrize(
    "text, event, args",
    [
        ("file.read = /srv/app/.env", "open", [".env", "r", 0]),
        ("file.read = /etc/shadow", "open", ["/etc/../etc/./shadow", "r", 0]),
        ("file.written = /tmp/x and evt.is_open_write = true", "open", ["/tmp/x", None, 0o1101]),
        ("file.read = /a and file.written = /b and file.src = /a", "shutil.copyfile", ["/a", "/b"]),
        ("file.read = /srv/app/db.sqlite", "sqlite3.connect", ["db.sqlite"]),
        (
            "net.host = 1.2.3.4 and net.port = 443 and net.scope = public",
            "socket.connect",
            [Described("socket"), ["1.2.3.4", 443]],
        ),
        ("net.scope = unix", "socket.connect", [Described("socket"), "/run/x.sock"]),
        ("net.scope = loopback", "http.client.connect", [Described("c"), "localhost", 80]),
        ("net.scope = link-local", "socket.connect", [Described("s"), ["169.254.169.254", 80]]),
        (
            "net.host = example.org and net.port = 443 and net.url startswith https",
            "urllib.Request",
            ["https://example.org/x", None, {}, "GET"],
        ),
        (
            "net.domains in (example.org) and net.scope = name",
            "socket.getaddrinfo",
            ["a.b.Example.org", 443, 0, 1, 6],
        ),
        ("spawn.name = sh and spawn.cmdline = 'sh -c id'", "os.system", ["id"]),
        (
            "spawn.exe = /bin/ls and spawn.args = -l",
            "subprocess.Popen",
            [None, ["/bin/ls", "-l"], None, None],
        ),
        ("spawn.env startswith LD_", "os.posix_spawn", ["/bin/ls", ["ls"], {"LD_X": "1"}]),
        ("spawn.args = a", "subprocess.Popen", [None, Cut(["ls", "a"], 40), None, None]),
        ("key = LD_PRELOAD", "os.putenv", [b"LD_PRELOAD", b"/x.so"]),
        ("mode & 0o4000 and not mode & 0o2000", "os.chmod", ["/x", 0o4755, None]),
        ("code.file = <string>", "exec", [Described("code <module> at <string>:1")]),
        (
            "frame.file = /srv/app/a.py and frame.line = 7 and stack.is_stdlib = true",
            "open",
            ["/x", "r", 0],
        ),
        (
            "stack.files glob '*/socket.py' and frame = '/srv/app/a.py:7 (main)'",
            "open",
            ["/x", "r", 0],
        ),
        (
            "evt.seq = 3 and proc.age = 2.5 and evt.time startswith 1970-01-01T00:00:12.5",
            "open",
            ["/x", "r", 0],
        ),
    ],
)
def test_derived_fields(text, event, args):
    stack = [["/usr/lib/python3.11/socket.py", 1, "f"], ["/srv/app/a.py", 7, "main"]]
    assert holds(text, subject(event, args, stack=stack)), text


def test_a_field_an_event_does_not_carry_makes_comparisons_false():
    s = subject("compile", [b"x", "<string>"])
    assert not holds("file.path exists", s) and holds("not file.path exists", s)
    assert not holds("net.host != x", s)


def test_explicit_and_keeps_globs_apart_adjacent_globs_mean_any():
    assert parse_tree("open exec") == Glob(("open", "exec"), 1, (1, 6))
    assert isinstance(parse_tree("open and exec"), AllOf)
    assert holds("socket.* open and pid = 5", subject("open", ["/x", "r", 0]))


def test_lists_macros_and_home():
    names = Definitions(
        lists={"dirs": ("~/.ssh", "/etc")},
        macros={"reading": parse_tree("open and evt.is_open_read = true")},
        home="/home/alice",
        strict=True,
    )
    s = subject("open", ["/home/alice/.ssh/id_rsa", "r", 0])
    assert holds("reading and file.read pmatch (dirs)", s, names)
    assert holds("file.read startswith ~/.ssh", s, names)
    with pytest.raises(QueryError) as caught:
        parse_query("reding and file.read exists", CATALOG, names)
    assert caught.value.column == 1 and "unknown macro 'reding'" in caught.value.reason


def test_events_a_rule_is_run_for():
    tree = parse_tree("file.read pmatch (/a) and proc.name = x")
    assert set(event_patterns(tree, CATALOG)) == {
        "open",
        "os.link",
        "os.rename",
        "shutil.copyfile",
        "shutil.copytree",
        "shutil.move",
        "sqlite3.connect",
    }
    assert event_patterns(parse_tree("not open"), CATALOG) is None
    assert event_patterns(parse_tree("open or pid = 3"), CATALOG) is None


def test_outputs():
    with pytest.raises(ValueError) as caught:
        parse_output("ran %spawn.cmdline then %nope.", CATALOG)
    assert caught.value.column == 25
    output = parse_output("ran %spawn.cmdline (%flags, 100%%) %file.path.", CATALOG)
    assert output.render(subject("os.system", ["id"])) == "ran sh -c id (<NA>, 100%) <NA>."
    assert output.fields == ("spawn.cmdline", "flags", "file.path")


def test_the_live_filter_knows_alerted_and_refuses_what_only_rules_see():
    assert not parse("alerted", CATALOG).empty
    with pytest.raises(ValueError, match="are for rules"):
        parse("frame.file = x", CATALOG)


def test_made_for_one_name_a_rule_answers_as_it_did():
    """Every step of every built-in rule, made for each case event's name, answers each
    case event as the whole rule does."""
    rules = load_rules(["default"], home=HOME)
    events = []
    for _, case in CASES:
        for raw in case["events"]:
            event = raw if isinstance(raw, dict) else {"event": raw[0], "args": raw[1]}
            argv = case.get("process", {}).get("argv", ["python3", "app.py"])
            events.append(
                subject(event["event"], _value(event["args"]), stack=event.get("stack"), argv=argv)
            )
    compared = 0
    for rule in rules.rules:
        for step in rule.steps:
            for s in events:
                made = specialize(step.tree, s.name, CATALOG)
                s.memo = {}
                expected = step.test(s)
                s.memo = {}
                assert query_from_tree("", made, CATALOG).test(s) == expected, (rule.name, s.name)
                compared += 1
    assert compared > 4000


def test_the_secret_rules_lead_with_one_shared_first_look():
    rules = load_rules(["default"], home=HOME)
    secret = [r for r in rules.rules if r.name.startswith("Read ")]
    assert len(secret) == 9
    for rule in [*secret, next(r for r in rules.rules if r.name.startswith("Secret read"))]:
        guard = leading_guard(specialize(rule.steps[0].tree, "open", CATALOG))
        assert guard is not None and guard.name == "secret_candidate", rule.name
