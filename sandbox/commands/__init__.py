"""CLI commands, one module per area; each registers its commands on ``sandbox.cli.app``.

Modules here import typer, rich and the light parts of the library at module level; a library module
that pulls numpy, chromadb, gradio or fastapi is imported inside its command, so ``sandbox --help``
stays instant. The work happens in the library.
"""
