"""Alerts in Falco's JSON output shape, one object a line (``--alerts FILE|-``), so
falcosidekick and the tools behind it can forward them::

    {"hostname": …, "output": "12:00:01.123456789: Warning …", "output_fields": {…},
     "priority": "Warning", "rule": …, "source": "auditmon", "tags": […],
     "time": "2026-12-03T12:00:01.123456789Z"}
"""

from __future__ import annotations

import json
import socket
import sys
import time
from typing import IO, Any

from auditmon.model.alerts import Alert
from auditmon.model.priority import falco_name


def rfc3339(seconds: float) -> str:
    """UTC, with nanoseconds, as Falco writes ``time``."""
    whole = int(seconds)
    nanos = int(round((seconds - whole) * 1e9))
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{nanos:09d}Z"


def falco_alert(alert: Alert, hostname: str) -> dict[str, Any]:
    """One alert as Falco's JSON output has it (``output`` begins with the local time
    and the priority, as Falco's does)."""
    whole = int(alert.time)
    nanos = int(round((alert.time - whole) * 1e9)) % 1_000_000_000
    clock = time.strftime("%H:%M:%S", time.localtime(whole)) + f".{nanos:09d}"
    priority = falco_name(alert.priority)
    return {
        "hostname": hostname,
        "output": f"{clock}: {priority} {alert.output}",
        "output_fields": {"evt.time": int(alert.time * 1e9), **alert.fields},
        "priority": priority,
        "rule": alert.rule,
        "source": "auditmon",
        "tags": list(alert.tags),
        "time": rfc3339(alert.time),
    }


class AlertLog:
    """An ``AlertSink`` writing each alert shown as a JSON line to a file or, for
    ``-``, to stdout; flushed per line, so a follower sees it at once."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.hostname = socket.gethostname()
        self.file: IO[str] = sys.stdout if target == "-" else open(target, "w", encoding="utf-8")

    def alert(self, alert: Alert) -> None:
        line = json.dumps(falco_alert(alert, self.hostname), ensure_ascii=False)
        self.file.write(line + "\n")
        self.file.flush()

    def suppressed(self, alert: Alert, count: int = 1) -> None:
        """Falco's output has no room for counts; the summary and recordings have them."""

    def close(self) -> None:
        if self.file is not sys.stdout:
            self.file.close()
