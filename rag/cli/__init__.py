"""The `rag` command line of the library (`rag.cli.main:app`; the installed `rag` is `api.cli:app`, which adds `serve`)."""
