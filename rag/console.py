"""Where the command line writes: logs and progress to stderr (`err`), results to stdout (`out`,
so that `--json` output can be piped), and the one way a command fails: a one-line message and
exit code 1, never a traceback. Shared by every module that defines `rag` commands.
"""

from __future__ import annotations

import typer
from rich.console import Console

err = Console(stderr=True)
out = Console()


def fail(exc: Exception) -> None:
    """Print `exc` as one error line on stderr and exit with code 1."""
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)  # one line, however long
    raise typer.Exit(1)
