"""The `rag` command as installed: the library's commands (`rag.cli.main`) and `rag serve`, which
starts the HTTP service. The service is built on the library, never the other way round, so the
command that starts it is added here."""

from __future__ import annotations

from api.serve import serve
from rag.cli.main import app

app.command()(serve)

if __name__ == "__main__":  # `python -m api.cli …` works like the `rag` script
    app()
