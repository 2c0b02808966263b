"""The ``sprout`` subcommands, one module per area; each module's ``add_parsers(sub)`` declares its
commands and binds each leaf to its handler (``handler(ctx) -> exit status``)."""
