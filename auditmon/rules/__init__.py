"""Rules and alerts: Falco-shaped rule files (``list``, ``macro``, ``rule``; conditions
in the expression language of ``auditmon.model.query``), compiled once (``load``,
``compiler``), run over events by the ``engine`` (a sink of the monitor's pipeline),
alerts written in Falco's JSON shape (``falco``).  ``builtin/`` is the built-in set
(``--rules default``)."""

from auditmon.rules.compiler import Rule, RuleSet
from auditmon.rules.engine import RuleEngine
from auditmon.rules.falco import AlertLog, falco_alert
from auditmon.rules.load import DEFAULT, builtin_files, load_rules
from auditmon.rules.source import RuleFileError

__all__ = [
    "DEFAULT",
    "AlertLog",
    "Rule",
    "RuleEngine",
    "RuleFileError",
    "RuleSet",
    "builtin_files",
    "falco_alert",
    "load_rules",
]
