"""Ingest: the monitor's sockets, decoding and per-connection accounting.

``loop.Ingest`` accepts agents (``auditmon run``) and follows attach sockets;
``connection.Connection`` decodes and validates one stream; ``ledger.Ledger`` keeps the
accounting (received, dropped, lost) that replayed recordings share; ``sinks`` is what
they all feed.
"""

from auditmon.ingest.connection import Connection
from auditmon.ingest.ledger import Ledger
from auditmon.ingest.loop import Ingest, peer_uid
from auditmon.ingest.sinks import Fanout, Sink, wants_raw

__all__ = ["Connection", "Fanout", "Ingest", "Ledger", "Sink", "peer_uid", "wants_raw"]
