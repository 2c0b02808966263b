"""The state machines' tasks, one handler per state: ``build`` (build.asl.json), ``deploy``
(deploy.asl.json, started by build, promote and rollback) and ``rollback`` (rollback.asl.json).
Their inputs and outputs are declared in sprout.handlers.contracts."""
