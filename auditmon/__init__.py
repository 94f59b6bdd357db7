"""auditmon: a live monitor for CPython audit events."""

import sys

__version__ = "0.1.0"

# auditmon never monitors itself: if this interpreter loaded the agent (its environment
# came from `auditmon env`, say) and the argv check in the agent missed it, stop it now.
# Run mode may have started in the agent's C extension without its Python package.
for _name in ("_auditmon_agent", "_auditmon_native"):
    _agent = sys.modules.get(_name)
    if _agent is not None:
        _agent.disable()
        break
del _name, _agent
