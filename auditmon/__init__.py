"""auditmon: a live monitor for CPython audit events."""

import sys

__version__ = "0.1.0"

# auditmon never monitors itself: if this interpreter loaded the agent (its environment
# came from `auditmon env`, say) and the argv check in the agent missed it, stop it now.
_agent = sys.modules.get("_auditmon_agent")
if _agent is not None:
    _agent.disable()
del _agent
