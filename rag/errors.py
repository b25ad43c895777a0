"""The one exception type the command line and the API turn into a clear message."""


class RagError(Exception):
    """A user-facing failure: bad input, missing model, stale index. Never a bug."""
