"""Rule files: what they may say (overrides, exceptions, sequences) and how a broken one
is refused: one line, ``FILE:LINE:COLUMN: reason``, before anything runs."""

from __future__ import annotations

import json
import textwrap

import pytest
from helpers import auditmon
from test_rule_cases import Collected

from auditmon.model.process import Process
from auditmon.rules import RuleEngine, RuleFileError, load_rules

BASE = """\
- list: shells
  items: [sh, bash]
- macro: spawn
  condition: event in (subprocess.Popen, os.system)
- rule: Shell
  desc: a shell ran
  condition: spawn and spawn.name in (shells)
  output: "shell %spawn.cmdline"
  priority: notice
  tags: [T1059]
"""


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def error_of(tmp_path, text: str) -> str:
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(RuleFileError) as caught:
        load_rules([path], home="/home/alice")
    message = str(caught.value)
    assert message.startswith(path + ":"), message
    return message[len(path) + 1 :]


def test_a_yaml_syntax_error_names_its_line_and_column(tmp_path):
    found = error_of(tmp_path, "- rule: x\n  desc: [unclosed\n  output: y\n")
    assert found.startswith("3:9: not valid YAML"), found


def test_a_condition_syntax_error_points_into_the_condition(tmp_path):
    text = BASE.replace("spawn and spawn.name in (shells)", "spawn and (spawn.name in (shells)")
    assert error_of(tmp_path, text) == "7:24: a '(' is not closed"


def test_an_unknown_field_in_a_folded_condition_is_found_on_its_line(tmp_path):
    text = BASE.replace(
        "  condition: spawn and spawn.name in (shells)",
        "  condition: >\n    spawn\n    and spawn.nmae in (shells)",
    )
    assert error_of(tmp_path, text) == "9:9: unknown field 'spawn.nmae'"


def test_an_unknown_macro(tmp_path):
    text = BASE.replace("spawn and spawn.name", "spwan and spawn.name")
    assert error_of(tmp_path, text) == "7:14: unknown macro 'spwan' (nor an event name)"


def test_macros_in_a_cycle(tmp_path):
    text = BASE + textwrap.dedent(
        """\
        - macro: a
          condition: open and b
        - macro: b
          condition: not a
        """
    )
    assert error_of(tmp_path, text) == "14:18: macros refer to each other in a cycle: a -> b -> a"


def test_lists_in_a_cycle(tmp_path):
    text = BASE + "- list: x\n  items: [y]\n- list: y\n  items: [a, x]\n"
    assert error_of(tmp_path, text) == "14:14: lists refer to each other in a cycle: x -> y -> x"


def test_an_unknown_output_field(tmp_path):
    text = BASE.replace('"shell %spawn.cmdline"', '"shell %spawn.cmd by %proc.name"')
    assert error_of(tmp_path, text) == "8:18: unknown field 'spawn.cmd'"


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            ("priority: notice", "priority: loud"),
            "9:13: unknown priority 'loud' (one of: emergency, alert, critical, error, "
            "warning, notice, informational, debug)",
        ),
        (("  tags: [T1059]", "  tags: [T1059]\n  tagz: []"), "11:3: unknown key 'tagz' in a rule"),
        (("  desc: a shell ran\n", ""), "5:9: rule 'Shell' needs desc:"),
        (("  items: [sh, bash]", "  items: [sh, [bash]]"), "2:15: a list item is a single value"),
    ],
)
def test_other_mistakes(tmp_path, change, expected):
    assert error_of(tmp_path, BASE.replace(*change)) == expected


def test_an_override_of_nothing(tmp_path):
    text = BASE + "- rule: Shel\n  condition: and x\n  override: {condition: append}\n"
    assert error_of(tmp_path, text) == "11:9: no earlier rule 'Shel' to override"


def test_an_exception_on_an_unknown_field(tmp_path):
    text = BASE + "  exceptions:\n    - name: mine\n      fields: [proc.nam]\n      values: [[x]]\n"
    assert error_of(tmp_path, text) == "13:16: unknown field 'proc.nam'"


def run_rules(rules, events, argv=("python3", "app.py")) -> Collected:
    collected = Collected()
    engine = RuleEngine(rules, [collected])
    process = Process(id=1)
    process.apply_hello({"pid": 7, "ppid": 1, "argv": list(argv), "start": 100.0})
    engine.process_started(process)
    engine.events(process, [[i, 100.0 + i, 1, n, a, None] for i, (n, a) in enumerate(events, 1)])
    return collected


SHELLS = [("os.system", ["id"]), ("subprocess.Popen", ["/bin/bash", ["bash"], None, None])]


def test_later_files_append_and_replace(tmp_path):
    base = write(tmp_path, "base.yaml", BASE)
    tuning = write(
        tmp_path,
        "tuning.yaml",
        """\
        - list: shells
          items: [zsh]
          override: {items: append}
        - rule: Shell
          condition: and not spawn.cmdline contains "id"
          priority: error
          override: {condition: append, priority: replace}
        """,
    )
    rules = load_rules([base, tuning])
    (rule,) = rules.rules
    assert rule.priority == "error" and rules.lists["shells"] == ("sh", "bash", "zsh")
    found = run_rules(rules, [*SHELLS, ("subprocess.Popen", ["/bin/zsh", ["zsh"], None, None])])
    assert [a.output for a in found.shown] == ["shell bash", "shell zsh"]


def test_exceptions_spare_the_events_they_name(tmp_path):
    text = BASE + (
        "  exceptions:\n"
        "    - name: known_commands\n"
        "      fields: [spawn.cmdline, proc.name]\n"
        "      comps: [startswith, =]\n"
        "      values:\n"
        "        - [bash, python3]\n"
    )
    found = run_rules(load_rules([write(tmp_path, "r.yaml", text)]), SHELLS)
    assert [a.output for a in found.shown] == ["shell sh -c id"]


def test_a_rule_can_be_disabled_by_a_later_file(tmp_path):
    base = write(tmp_path, "base.yaml", BASE)
    off = write(tmp_path, "off.yaml", "- rule: Shell\n  enabled: false\n")
    rules = load_rules([base, off])
    assert rules.enabled == () and run_rules(rules, SHELLS).shown == []


def test_a_sequence_in_order_within_its_time(tmp_path):
    text = BASE + textwrap.dedent(
        """\
        - rule: Wrote then ran
          desc: d
          sequence:
            within: 2s
            steps:
              - open and evt.is_open_write = true
              - spawn
          output: "ran %spawn.cmdline after writing"
          priority: warning
        """
    )
    rules = load_rules([write(tmp_path, "r.yaml", text)])
    write_then_run = [("open", ["/tmp/x", "w", 577]), ("os.system", ["/tmp/x"])]
    found = run_rules(rules, write_then_run)
    (alert,) = [a for a in found.shown if a.rule == "Wrote then ran"]
    assert alert.fields["sequence"] == ["open#1", "os.system#2"] and alert.seq == 2
    found = run_rules(rules, list(reversed(write_then_run)))
    assert [a for a in found.shown if a.rule == "Wrote then ran"] == []
    late = [("open", ["/tmp/x", "w", 577]), ("open", ["/tmp/y", "r", 0]), ("open", ["/b", "r", 0])]
    found = run_rules(rules, [*late, ("os.system", ["/tmp/x"])])  # 3 s after the write
    assert [a for a in found.shown if a.rule == "Wrote then ran"] == []


def test_repeats_are_counted_not_shown(tmp_path):
    rules = load_rules([write(tmp_path, "r.yaml", BASE)])
    many = [("os.system", ["id"])] * 500 + [("os.system", [f"echo {i}"]) for i in range(20)]
    found = run_rules(rules, many)
    assert len(found.shown) == 10  # distinct outputs, the first ten
    assert len(found.repeats) == 510
    assert found.shown[0].fields["evt.seq"] == 1 and found.shown[1].seq == 501


def test_a_rule_that_names_no_event_runs_for_all_and_is_reported(tmp_path):
    text = BASE + "- rule: Any\n  desc: d\n  condition: pid = 7\n  output: x\n  priority: debug\n"
    rules = load_rules([write(tmp_path, "r.yaml", text)])
    assert [r.name for r in rules.unindexed()] == ["Any"]
    assert "Any" not in rules.watched_events()


def test_the_builtin_rules_watch_only_named_events():
    rules = load_rules(["default"])
    assert rules.unindexed() == ()
    assert "open" in rules.watched_events() and "import" not in rules.watched_events()


@pytest.mark.system
def test_the_commands_refuse_a_broken_file_in_one_line(tmp_path):
    path = write(tmp_path, "bad.yaml", BASE.replace("spawn.name in", "spawn.nmae in"))
    for args in (
        ["rules", "--rules", path],
        ["run", "--headless", "--rules", "default", "--rules", path, "--", "true"],
        ["check", "--rules", path, path],
    ):
        result = auditmon(*args)
        assert result.returncode == 2, result
        assert result.stderr == f"{path}:7:24: unknown field 'spawn.nmae'\n"
        assert result.stdout == ""


@pytest.mark.system
def test_auditmon_rules_lists_and_validates(tmp_path):
    result = auditmon("rules")
    assert result.returncode == 0, result.stderr
    assert "Read SSH private keys or configuration" in result.stdout
    path = write(tmp_path, "r.yaml", BASE)
    result = auditmon("rules", "--rules", path, "--json")
    (rule,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert rule["rule"] == "Shell" and rule["events"] == [["subprocess.Popen", "os.system"]]
