"""What a run touched, and what changed between two runs: the inventory behind
``auditmon report`` and ``auditmon diff`` (pure: no I/O but reading recordings, no
drawing; ``auditmon.console`` renders it).

For a live view of one process, feed an ``InventoryBuilder`` like any sink and call
``builder.inventory([process.id])``; for a recording, ``read_report``.
"""

from auditmon.report.inventory import SECTIONS, Inventory, InventoryBuilder

__all__ = ["SECTIONS", "Inventory", "InventoryBuilder"]
