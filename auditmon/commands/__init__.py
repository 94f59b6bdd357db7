"""The auditmon subcommands, one module each."""
