"""What B touched that A did not, and the reverse: two reports' inventories compared item
by item on their keys, which hold no pids, times, ephemeral ports or temporary names.

Counts are not compared (a retry or a loop changes them, not what was touched); a file
both touched but in other ways (read in A, written in B) is ``changed``.
"""

from __future__ import annotations

from typing import Any

from auditmon.report.inventory import SECTIONS

SCHEMA = "auditmon-diff"
VERSION = 1


def diff_reports(
    a: dict[str, Any], b: dict[str, Any], names: tuple[str, str] | None = None
) -> dict[str, Any]:
    """The diff document (docs/report-schema.md, "Diff") of report documents ``a`` and
    ``b``; ``names`` are what to call them (the files given), else their recordings."""
    sections: dict[str, Any] = {}
    differences = 0
    for section in SECTIONS:
        before = {item["key"]: item for item in a["inventory"].get(section, [])}
        after = {item["key"]: item for item in b["inventory"].get(section, [])}
        added = [after[key] for key in sorted(after.keys() - before.keys())]
        removed = [before[key] for key in sorted(before.keys() - after.keys())]
        changed = []
        if section == "files":
            for key in sorted(before.keys() & after.keys()):
                if set(before[key]["ops"]) != set(after[key]["ops"]):
                    changed.append(
                        {"key": key, "a": list(before[key]["ops"]), "b": list(after[key]["ops"])}
                    )
        if added or removed or changed:
            sections[section] = {"added": added, "removed": removed, "changed": changed}
            differences += len(added) + len(removed) + len(changed)
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "a": _side(a, names[0] if names else None),
        "b": _side(b, names[1] if names else None),
        "equal": differences == 0,
        "differences": differences,
        "sections": sections,
    }


def _side(report: dict[str, Any], name: str | None) -> dict[str, Any]:
    recording = report.get("recording", {})
    return {
        "path": name if name is not None else recording.get("path"),
        "events": recording.get("events"),
        "dropped": recording.get("dropped"),
        "cut": recording.get("cut"),
    }
