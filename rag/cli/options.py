"""What every `rag` command shares: the settings, one-line errors for a failed write, and the
scope options (--doc, --place, --year, --level) of ask, search and chat."""

from __future__ import annotations

import typer

from rag.errors import RagError
from rag.scope import LEVELS, Scope
from rag.settings import Settings, get_settings


def _settings() -> Settings:
    return get_settings()


def _write_error(exc: OSError, s: Settings | None) -> RagError:
    """An operating-system error while writing the store or the index, as one line: a full disk
    says how much room is left; anything else names the file and the reason."""
    from rag.files import is_no_space, no_space_error

    if is_no_space(exc) and s is not None:
        return no_space_error(s.index_dir, "the index")
    where = f" {exc.filename}" if exc.filename else ""
    return RagError(f"cannot write{where}: {exc.strerror or exc}")


# --- scope: the same four options on ask, search and chat -------------------------------------------
DOC_HELP = "these documents (id or file name)"
PLACE_HELP = "these places' reports"
YEAR_HELP = "reports of these years"
LEVEL_HELP = f"reports of these levels ({', '.join(LEVELS)})"


def _scope_option(flag: str, what: str):
    return typer.Option(None, flag, help=f"Only {what} (repeatable, or comma-separated).", show_default=False)


def _scope(
    docs: list[str] | None, places: list[str] | None, years: list[str] | None, levels: list[str] | None
) -> Scope | None:
    """The scope the options give (None: the whole library); a `RagError` for a non-year. What the
    library does not hold is found by the retriever that answers (`Retriever.scope_docs`)."""
    scope = Scope.of(docs=docs, places=places, years=years, levels=levels)
    return scope or None
