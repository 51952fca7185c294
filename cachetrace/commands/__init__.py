"""Subcommands of the ``cachetrace`` CLI, one module each (see ``cachetrace.cli``)."""
