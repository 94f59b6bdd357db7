"""The headless summary's top values (auditmon.views.highlights): exact counts per
value, and a descriptor opened by number said to be one, not shown as a file named
by the number."""

from __future__ import annotations

from fakedata import T0, process

from auditmon.model import Session
from auditmon.views.highlights import highlights


def test_files_are_counted_by_path_and_descriptors_said_to_be_descriptors():
    session = Session()
    app = process(1, 4100, 4000, ["/usr/bin/python3", "app.py"], T0)
    session.process_started(app)
    opens = [
        ["/srv/app/out.txt", "w", 577],
        ["/srv/app/out.txt", "a", 1089],
        [1, "w", 524288],  # io.open(1, "w"): stdout, at every start-up
        ["/srv/app/config.toml", "r", 524288],
        [0, "r", 524288],
    ]
    for seq, args in enumerate(opens, 1):
        app.received += 1
        session.events(app, [[seq, T0 + seq, 1, "open", args, None]])
    found = {h.title: h for h in highlights(session)}
    assert found["files written"].top == (("/srv/app/out.txt", 2), ("descriptor 1", 1))
    assert found["files read"].top == (("/srv/app/config.toml", 1), ("descriptor 0", 1))
    assert found["files written"].distinct == 2
    assert found["files written"].unchecked == 0
