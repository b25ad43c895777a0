"""The `rag` command line (`rag.cli.main:app`)."""
