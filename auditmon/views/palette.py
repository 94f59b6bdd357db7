"""The one risk palette: how each risk level is drawn, in the UI and on the command line
(rich style strings)."""

RISK_STYLE = {"info": "dim", "notice": "", "warning": "bold red"}
