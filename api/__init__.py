"""HTTP API over the answering pipeline: `api.main.create_app()`; see api/README.md."""
