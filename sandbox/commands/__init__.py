"""CLI commands, one module per area; each registers its commands on ``shared.app``.

Modules here import typer, rich and the light parts of the library at module level; a library module
that pulls numpy, chromadb, gradio or fastapi is imported inside its command, so ``sandbox --help``
stays instant. The work happens in the library. The app object and the options commands share live
in ``shared`` (not in ``sandbox.cli``), so any command module can be imported first; ``cli`` registers
them all.
"""
