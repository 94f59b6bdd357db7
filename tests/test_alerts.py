"""Where alerts go: the session's book (counts, groups, marks, the filter's ``alerted``),
recordings of both kinds and their replay, Falco's JSON, the summary, exit statuses."""

from __future__ import annotations

import argparse
import io
import json
import re

import pytest
from helpers import auditmon, clean_env, read_jsonl, wait_for
from rich.console import Console

from auditmon.commands.alerting import EXIT_ALERTS, RULES_STACK_DEPTH, Alerting, prepare
from auditmon.console.summary import print_alerts
from auditmon.model.filtering import parse
from auditmon.monitor.headless import Monitor
from auditmon.monitor.live import LiveMonitor
from auditmon.record.reader import Recording
from auditmon.rules import falco_alert, load_rules
from auditmon.sources.replay import ReplayFeed
from auditmon.views import snapshot

T0 = 1_767_225_600.0
HOME = "/home/alice"
KEY = [f"{HOME}/.ssh/id_rsa", "r", 524288]
STACK = [["/srv/app/steal.py", 3, "<module>"]]


@pytest.fixture(scope="module")
def rules():
    return load_rules(["default"], home=HOME)


def feed(monitor: Monitor, pid: int = 4100, events=None) -> None:
    """One process reading a key twice and running a shell, as ingest would deliver."""
    ledger = monitor.pipeline.ledger
    process = ledger.new_process()
    ledger.hello(process, {"pid": pid, "ppid": 1, "argv": ["python3", "steal.py"], "start": T0})
    batch = events or [
        [1, T0 + 1, 7, "import", ["json", None, None, None, None], None],
        [2, T0 + 2, 7, "open", KEY, STACK],
        [3, T0 + 3, 7, "open", KEY, STACK],
        [4, T0 + 4, 7, "os.system", ["id"], STACK],
    ]
    ledger.events(process, batch)
    ledger.ended(process, "exited", T0 + 5, 0)


def test_the_book_counts_groups_and_marks(rules):
    monitor = Monitor(rules=rules)
    feed(monitor)
    book = monitor.session.alerts
    assert book.counts() == (("warning", 2), ("notice", 1))
    assert book.highest() == "warning"
    ssh, shell = book.groups()
    assert (ssh.rule, ssh.count, ssh.suppressed) == ("Read SSH private keys or configuration", 2, 1)
    assert ssh.occurrences == ((4100, 2),) and ssh.pids == (4100,)
    assert (ssh.first_time, ssh.last_time) == (T0 + 2, T0 + 3)
    assert ssh.latest.output.endswith("(at /srv/app/steal.py:3 (<module>))")
    assert ssh.latest.occurrence.args == tuple(KEY)
    assert shell.rule == "Shell command run"
    assert book.marks() == {1: "warning"}


def test_the_filter_selects_alerted_events_and_snapshots_carry_alerts(rules):
    monitor = Monitor(rules=rules)
    monitor.session.detailed = True  # the live UI's session
    feed(monitor)
    session = monitor.session
    for text, names in (
        ("alerted", ["open", "os.system"]),
        ('alert.rule="Shell command run"', ["os.system"]),
        ("alert.priority>=warning", ["open"]),
        ("not alerted", ["import"]),
    ):
        built = snapshot.build(session, snapshot.View(filter=parse(text, session.catalog)), T0 + 6)
        assert sorted(row.name for row in built.events) == names, text
    built = snapshot.build(session, snapshot.View(), T0 + 6)
    assert built.alerts.active and built.alerts.total == 3
    assert [g.rule for g in built.alerts.groups][0] == "Read SSH private keys or configuration"
    assert [row.alert for row in built.processes] == ["warning"]


@pytest.mark.parametrize("name", ["r.jsonl", "r.amrec"])
def test_recordings_keep_alerts_and_replay_gives_them_back(tmp_path, rules, name):
    path = tmp_path / name
    monitor = Monitor(path, rules)
    feed(monitor)
    monitor.close()
    records = list(Recording(path))
    kinds = [r["type"] for r in records]
    alerts = [r for r in records if r["type"] == "alert"]
    assert [a["seq"] for a in alerts] == [2, 4]
    assert kinds.index("alert") > kinds.index("event")  # after the event it names
    first = alerts[0]
    assert set(first) == {"type", "rule", "priority", "pid", "seq", "time", "output", "tags"} | {
        "fields"
    }
    assert first["fields"]["file.read"] == KEY[0] and first["fields"]["proc.pid"] == 4100
    (suppressed,) = [r for r in records if r["type"] == "suppressed"]
    assert (suppressed["pid"], suppressed["count"]) == (4100, 1)

    replayed = Monitor()  # no rules: the recording's alerts, as they were
    replay = ReplayFeed(path)
    replay.launch(replayed.pipeline)
    while not replay.finished:
        replay.step(replayed.pipeline)
    book = replayed.session.alerts
    assert book.counts() == (("warning", 2), ("notice", 1))
    ssh = book.groups()[0]
    assert ssh.suppressed == 1 and ssh.latest.occurrence.args == tuple(KEY)
    assert ssh.latest.stack == (tuple(STACK[0]),)


def test_falco_shape(rules):
    monitor = Monitor(rules=rules)
    feed(monitor)
    alert = monitor.session.alerts.groups()[0].latest
    found = falco_alert(alert, "box")
    assert set(found) == {
        "hostname",
        "output",
        "output_fields",
        "priority",
        "rule",
        "source",
        "tags",
        "time",
    }
    assert found["time"] == "2026-01-01T00:00:02.000000000Z"
    assert found["priority"] == "Warning" and found["source"] == "auditmon"
    assert re.match(r"^\d\d:\d\d:\d\d\.\d{9}: Warning SSH file read: ", found["output"])
    assert found["output_fields"]["evt.time"] == int((T0 + 2) * 1e9)
    assert found["tags"][-1] == "T1552.004"


def test_the_summary_has_an_alerts_section(rules):
    monitor = Monitor(rules=rules)
    console = Console(file=io.StringIO(), width=200)
    print_alerts(monitor.session, console)
    assert console.file.getvalue().startswith("Alerts: none (33 rules loaded)")
    feed(monitor)
    console = Console(file=io.StringIO(), width=200)
    print_alerts(monitor.session, console)
    text = console.file.getvalue()
    assert "Alerts: 3 from 2 rules, 2 at warning or above" in text
    assert re.search(r"Warning\s+2\s+1\s+4100\s+Read SSH private keys", text)


def options(**given) -> argparse.Namespace:
    return argparse.Namespace(**{"rules": [], "alerts": None, "fail_on": None, **given})


def test_fail_on_status_and_what_it_says(rules):
    monitor = Monitor(rules=rules)
    feed(monitor)
    said: list[str] = []
    book = monitor.session.alerts
    assert Alerting(rules, fail_on="error").status(book, 0, said.append) == 0
    assert Alerting(rules, fail_on="warning").status(book, 0, said.append) == EXIT_ALERTS
    assert Alerting(rules, fail_on="notice").status(book, 1, said.append) == EXIT_ALERTS
    assert Alerting(rules).status(book, 5, said.append) == 5
    assert said == [
        "auditmon: 2 alerts at warning or above: exit status 3",
        "auditmon: 3 alerts at notice or above: exit status 3; the command exited with status 1",
    ]


def test_rules_ask_the_agents_for_stacks_of_watched_events():
    alerting = prepare(options(fail_on="warning"), print)  # --fail-on alone: the built-in set
    assert isinstance(alerting, Alerting) and alerting.rules is not None
    merged = alerting.agent_options({"stack": ["mylib.*"], "stack_depth": None, "events": []})
    assert merged["stack"][0] == "mylib.*" and "open" in merged["stack"]
    assert merged["stack_depth"] == RULES_STACK_DEPTH
    assert Alerting().agent_options({"stack": []}) == {"stack": []}
    assert prepare(options(alerts="-"), print, live=True) == 2


@pytest.mark.system
def test_check_runs_rules_over_recordings(tmp_path, rules):
    path = tmp_path / "r.jsonl"
    monitor = Monitor(path)  # recorded without rules
    feed(monitor)
    monitor.close()
    assert [r for r in read_jsonl(path) if r["type"] == "alert"] == []
    env = clean_env(HOME=HOME)
    result = auditmon("check", "--json", "--fail-on", "warning", str(path), env=env)
    assert result.returncode == EXIT_ALERTS, result.stderr
    found = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["rule"] for a in found] == [
        "Read SSH private keys or configuration",
        "Shell command run",
    ]
    assert "alerts: 2 warning, 1 notice (1 of them suppressed repeats)" in result.stderr
    result = auditmon("check", "--fail-on", "critical", str(path), env=env)
    assert result.returncode == 0 and "Warning Read SSH private keys" in result.stdout


def test_the_live_monitor_runs_rules_over_a_replay(tmp_path, rules):
    path = tmp_path / "r.jsonl"
    recorded = Monitor(path)  # recorded without rules: the live monitor judges afresh
    feed(recorded)
    recorded.close()
    snapshots = []
    monitor = LiveMonitor(ReplayFeed(path), rules=rules)
    monitor.launch()
    monitor.start(snapshots.append)
    try:
        found = wait_for(
            lambda: [s for s in snapshots if getattr(s, "alerts", None) and s.alerts.total],
            message="a snapshot with alerts",
        )
    finally:
        monitor.stop()
    latest = found[-1]
    assert latest.alerts.counts == (("warning", 2), ("notice", 1))
    assert [row.alert for row in latest.processes] == ["warning"]


RULE_FILE = """\
- rule: Third tick
  desc: the ticker's fourth tick
  condition: ticker.tick and arg0 = 3
  output: "tick %arg0 in pid %proc.pid"
  priority: warning
"""


@pytest.mark.system
def test_attach_runs_rules_and_fails_on_them(ticker, runtime_dir, tmp_path):
    rules_file = tmp_path / "ticks.yaml"
    rules_file.write_text(RULE_FILE)
    alerts = tmp_path / "alerts.jsonl"
    result = auditmon(
        "attach",
        "--headless",
        "--duration",
        "0.5",
        "--rules",
        str(rules_file),
        "--alerts",
        str(alerts),
        "--fail-on",
        "warning",
        str(ticker.pid),
        env=clean_env(AUDITMON_RUNTIME_DIR=str(runtime_dir)),
    )
    assert result.returncode == EXIT_ALERTS, result.stderr
    (alert,) = read_jsonl(alerts)
    assert alert["rule"] == "Third tick" and alert["output"].endswith(f"tick 3 in pid {ticker.pid}")


def test_env_asks_attachable_processes_for_the_rules_stacks():
    from auditmon.commands.env import render

    settings = json.loads(render("json", None, ("open", "compile")))
    assert settings["AUDITMON_STACK"] == "open,compile"
    assert settings["AUDITMON_STACK_DEPTH"] == str(RULES_STACK_DEPTH)
    assert "AUDITMON_STACK" not in json.loads(render("json", None))
