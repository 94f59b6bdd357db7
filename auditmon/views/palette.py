"""The one risk palette: how each risk level is drawn, in the UI and on the command line
(rich style strings)."""

RISK_STYLE = {"info": "dim", "notice": "", "warning": "bold red"}

#: How each alert priority is drawn (Falco's eight, most severe first).
PRIORITY_STYLE = {
    "emergency": "bold white on red",
    "alert": "bold white on red",
    "critical": "bold white on red",
    "error": "bold red",
    "warning": "bold yellow",
    "notice": "cyan",
    "informational": "dim",
    "debug": "dim",
}
