"""The `rag` command line: models, ingestion, inspection of chunks, search, answers and the service.

This module only assembles the app; each command group lives in its own module: `rag.cli.models`,
`rag.cli.ingest` (ingest, chunks, index), `rag.cli.ask` (search, ask, chat), `rag.cli.eval`,
`rag.cli.indicators`, with their shared options in `rag.cli.options` (`rag serve`, which starts the
HTTP service, is added by `api.cli`, the installed `rag` command; the
consoles and the one way to fail are in `rag.console`).

Logs and progress go to stderr; `--json` output goes to stdout, one object per line where the
command lists things. A `RagError` becomes a one-line message and exit code 1, never a traceback.
"""

from __future__ import annotations

import logging
import sys

import typer

from rag.cli.ask import ask, chat, search
from rag.cli.eval import eval_cmd
from rag.cli.indicators import indicators_cmd
from rag.cli.ingest import chunks, copy_library, index, ingest
from rag.cli.models import models_app

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Offline question answering over Chinese government work reports."
)
app.add_typer(models_app, name="models")


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging on stderr.")) -> None:
    level = logging.DEBUG if verbose else logging.WARNING
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # libraries that set their own logger level stay quiet too
        handler.setLevel(level)
    try:  # jieba prints its dictionary loading to stderr at INFO; keep it quiet unless asked
        import jieba

        jieba.setLogLevel(logging.DEBUG if verbose else logging.WARNING)
        logging.getLogger("bm25s").setLevel(logging.DEBUG if verbose else logging.WARNING)
    except ImportError:  # pragma: no cover
        pass


# --- the commands, in the order `rag --help` lists them ----------------------------------------------
app.command()(ingest)
app.command()(chunks)
app.command()(index)
app.command("copy-library")(copy_library)
app.command()(search)
app.command("eval")(eval_cmd)
app.command("indicators")(indicators_cmd)
app.command()(ask)
app.command()(chat)
# `rag serve` starts the HTTP service: it is added by `api.cli`, the installed `rag` command


if __name__ == "__main__":  # `python -m rag.cli.main …`: the library's commands (`python -m api.cli` adds serve)
    app()
