"""CLI commands, one module per area; each registers its commands on ``sandbox.cli.app``.

Modules here import only typer/rich at module level; the work happens in the library.
"""
