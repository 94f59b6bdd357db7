"""The pure model, snapshots, filters and presenters: no terminal, fixed data and clock."""

from __future__ import annotations

from copy import deepcopy

import pytest
from fakedata import NOW, T0, build_session

from auditmon import model
from auditmon.catalog import load_catalog
from auditmon.model import Process, Session, values
from auditmon.model.filtering import FilterError, parse
from auditmon.protocol import Cut, Described
from auditmon.ui import presenters
from auditmon.views import detail as detail_view
from auditmon.views import heat as heat_view
from auditmon.views import snapshot

CATALOG = load_catalog()


@pytest.fixture
def session() -> Session:
    return build_session()


def test_aggregates_cover_the_whole_session(session):
    snap = snapshot.build(session, snapshot.View(), NOW)
    assert snap.total_events == 197 and snap.total_dropped == 3
    counts = {row.name: row.count for row in snap.events}
    assert counts["open"] == 163 and counts["import"] == 13 and counts["mylib.login"] == 1
    assert [row.name for row in snap.events][:3] == ["open", "socket.connect", "import"]


def test_processes_form_a_tree_with_states(session):
    rows = snapshot.build(session, snapshot.View(), NOW).processes
    assert [(r.pid, r.depth, r.state) for r in rows] == [
        (4100, 0, "running"),
        (4101, 1, "exited 0"),
    ]
    assert rows[0].dropped == 3
    assert len(rows[0].spark) == snapshot.SPARK_SECONDS and sum(rows[0].spark) > 0


def test_scope_limits_every_panel_to_one_process(session):
    view = snapshot.View(process_id=2)
    snap = snapshot.build(session, view, NOW)
    assert {r.name for r in snap.events} == {"import", "marshal.loads"}
    assert snap.total_events == 13
    code_row = snap.heatmap.categories.index("code")
    assert snap.heatmap.totals[code_row] == 13
    assert sum(snap.heatmap.totals) == 13


def test_filters_by_glob_category_pid_risk_and_arguments(session):
    def names(text):
        view = snapshot.View(filter=parse(text, CATALOG))
        return {r.name: r.count for r in snapshot.build(session, view, NOW).events}

    assert set(names("socket.* open")) == {"socket.connect", "open"}
    assert set(names("cat:code")) == {"import", "marshal.loads", "pickle.find_class"}
    assert set(names("pid=4101")) == {"import", "marshal.loads"}
    # risk is each occurrence's: the 8 opens for writing are warnings, the reads are not
    assert names("risk>=warning")["open"] == 8 and "socket.connect" in names("risk=warning")
    assert names("open risk=warning") == {"open": 8}
    assert names("open risk=notice") == {"open": 155}
    # argument terms count the whole session, not only the kept occurrences (50 here)
    assert names("open path~/srv/app/log") == {"open": 8}  # a write every 5 s over 40 s
    assert names("open mode=w") == {"open": 8}
    assert names("arg0=alice") == {"mylib.login": 1}
    # positional names work for catalogued events too
    assert names("open arg0~/srv/app/log") == names("open path~/srv/app/log")


def test_filter_errors_are_clear():
    with pytest.raises(FilterError, match="unknown category 'nope'"):
        parse("cat:nope", CATALOG)
    with pytest.raises(FilterError, match="pid needs a number"):
        parse("pid=abc", CATALOG)
    with pytest.raises(FilterError, match="risk is one of"):
        parse("risk=high", CATALOG)


def test_sorting(session):
    def order(key):
        view = snapshot.View(sort=key)
        return [r.name for r in snapshot.build(session, view, NOW).events]

    assert order("name") == sorted(order("name"))
    assert order("risk")[0] in {"open", "socket.connect", "subprocess.Popen"}
    assert order("recent")[0] == "socket.connect"  # the last event, at T0 + 39.8
    assert order("count")[0] == "open"


def test_open_for_writing_raises_the_risk(session):
    rows = {r.name: r for r in snapshot.build(session, snapshot.View(), NOW).events}
    assert rows["open"].risk == "warning"
    reading = snapshot.build(session, snapshot.View(filter=parse("mode=r", CATALOG)), NOW)
    assert CATALOG.info("open").risk == "notice"
    assert reading.events[0].name == "open"


def test_heatmap_counts_per_category_and_second(session):
    snap = snapshot.build(session, snapshot.View(heat_columns=10), NOW)
    heat = snap.heatmap
    assert heat.start == int(NOW) - 9
    files = heat.cells[heat.categories.index("filesystem")]
    assert len(files) == 10
    # second 35 (T0+35): 1 + 35 % 7 = 1 read, plus the write every 5 s
    assert files[35 - 31] == 2
    assert heat.peak == max(max(row) for row in heat.cells)
    assert heat_view.heat_level(0, 10, 4) == 0
    assert heat_view.heat_level(1, 10, 4) == 1
    assert heat_view.heat_level(10, 10, 4) == 4


def test_event_detail_counts_values_and_keeps_recent(session):
    detail = detail_view.event_detail(session, "open", snapshot.View(), top=2)
    assert detail.arg_names == ("path", "mode", "flags")
    path, mode, _ = detail.arguments
    assert path.top == (("/srv/app/config.toml", 89), ("/etc/hosts", 66))
    assert mode.top == (("r", 155), ("w", 8))
    assert len(detail.occurrences) == 50  # the ring per event and process
    assert detail.occurrences[0].time > detail.occurrences[-1].time
    popen = detail_view.event_detail(session, "subprocess.Popen", snapshot.View())
    assert popen.occurrences[0].stack[0] == ("/srv/app/app.py", 42, "refresh")


def test_memory_stays_bounded_and_says_where_the_bound_cut():
    """The argument index keeps at most ``distinct`` lists for the session; events with
    new lists past it are counted (never dropped) and reported as unchecked by a filter
    on arguments, while filters it can decide without arguments stay exact."""
    session = Session(recent=5, distinct=1000)
    proc = Process(id=1)
    proc.apply_hello({"pid": 1, "v": 1})
    session.process_started(proc)
    events = [[i, T0 + i * 0.001, 1, "e", [f"value-{i}"], None] for i in range(1, 5001)]
    for start in range(0, 5000, 500):
        session.events(proc, events[start : start + 500])
    stats = session.processes[1].stats["e"]
    assert stats.count == 5000 and len(stats.recent) == 5
    assert len(stats.index.counts) == 1000 and stats.index.overflow == 4000
    by_name = snapshot.build(session, snapshot.View(filter=parse("e", CATALOG)), NOW)
    assert by_name.total_events == 5000 and by_name.unchecked == 0
    by_value = snapshot.build(session, snapshot.View(filter=parse("arg0~value-", CATALOG)), NOW)
    assert by_value.total_events == 1000 and by_value.unchecked == 4000
    assert by_value.events[0].unchecked == 4000


def test_history_is_pruned():
    session = Session()
    proc = Process(id=1)
    proc.apply_hello({"pid": 1, "v": 1})
    session.process_started(proc)
    session.events(proc, [[1, T0, 1, "e", [], None]])
    session.events(proc, [[2, T0 + model.HISTORY_SECONDS + 120, 1, "e", [], None]])
    assert min(session.processes[1].seconds) > T0
    assert session.processes[1].stats["e"].count == 2


def test_values_display_and_presenters():
    assert values.display(Cut("abc", 5000)) == "abc… (5,000 chars)"
    assert values.display(Described("code f at x.py:3")) == "<code f at x.py:3>"
    assert values.display(["a", 1, {"k": b"\x00"}]) == "['a', 1, {'k': b'\\x00'}]"
    assert values.display("x" * 300, 10) == "x" * 9 + "…"
    assert presenters.sparkline([0, 1, 2, 4, 8]) == " ▁▂▄█"
    assert presenters.human_bytes(2048) == "2.0K" and presenters.human_bytes(None) == "-"
    assert presenters.number(1234.5) == "1,234.5" and presenters.number(7) == "7"


def test_heatmap_rows_make_one_span_per_run_of_a_style():
    catalog = load_catalog()
    heat = heat_view.Heatmap(
        categories=("filesystem",),
        start=100,
        cells=((0, 0, 9, 9, 9, 0, 1),),
        totals=(28,),
        peak=9,
    )
    (line,) = presenters.heatmap_lines(heat, catalog, label_width=4)
    assert line.plain == "File ··███·░        28"
    cells = [(line.plain[s.start : s.end], str(s.style)) for s in line.spans]
    colour = catalog.category("filesystem").color
    assert cells == [("··", "grey23"), ("███", colour), ("·", "grey23"), ("░", colour)]
    (chosen,) = presenters.heatmap_lines(heat, catalog, label_width=4, selected=(0, 3))
    assert chosen.plain == line.plain
    assert [chosen.plain[s.start : s.end] for s in chosen.spans] == ["··", "█", "█", "█", "·", "░"]


def test_a_snapshot_stays_as_it_was_built_while_the_session_goes_on(session):
    """The UI reads a snapshot on its own thread while ingest goes on changing the
    session: nothing in a snapshot may share the session's changing state, and nothing
    may be assigned to it."""
    snap = snapshot.build(session, snapshot.View(), NOW)
    as_built = deepcopy(snap)
    process = session.processes[1].process
    session.events(
        process,
        [
            [998, T0 + 39.9, 1, "open", ["/etc/hosts", "r", 0], None],
            [999, T0 + 39.9, 1, "late.event", [], None],
        ],
    )
    assert snapshot.build(session, snapshot.View(), NOW) != as_built  # the session moved on
    assert snap == as_built
    with pytest.raises(AttributeError):
        snap.total_events = 0  # type: ignore[misc]
