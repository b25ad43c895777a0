"""The exceptions the command line and the API turn into a clear message.

Every user-facing failure is a `RagError`; its subclass says what kind of failure it is, and carries
the HTTP status the API answers it with (`status`) and, for the library's own cases, a stable
machine-readable `code`. The command line prints the message on one line and exits non-zero,
whatever the subclass.
"""

from __future__ import annotations


class RagError(Exception):
    """A user-facing failure: bad input, missing model, stale index. Never a bug."""

    status: int = 400
    code: str | None = None


class NotFound(RagError):
    """Something named that the library does not hold."""

    status = 404


class Conflict(RagError):
    """A request at odds with the library's current state."""

    status = 409


class Unprocessable(RagError):
    """Input of the right shape that still cannot be used (e.g. a file that is not a report)."""

    status = 422


class Unavailable(RagError):
    """The service cannot do it now, through no fault of the request: the LLM server is unreachable,
    slow or failing, the index is stale or damaged, the disk is full. Trying again later (or after the
    fix the message names) may work."""

    status = 503


class LLMUnavailable(Unavailable):
    """The LLM server (``RAG_LLM__BACKEND=openai``) is down, slow or failing: its own code, so that a
    client can tell a model outage from the rest of the service being unavailable."""

    code = "llm_unavailable"


class DocumentNotFound(NotFound):
    """No document with that id in the corpus."""

    code = "document_not_found"


class InvalidReport(Unprocessable):
    """An upload that cannot become a report: not UTF-8, binary, empty, too large, no text to index."""

    code = "invalid_report"


class DuplicateReport(Conflict):
    """An upload whose text is already in the corpus."""

    code = "duplicate_document"


class LastDocument(Conflict):
    """Removing the document would leave nothing to search."""

    code = "last_document"
