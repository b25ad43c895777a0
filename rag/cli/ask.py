"""`rag search`, `rag ask` and `rag chat`: ranked paragraphs, one answer with its citations (from
the running server when there is one), and a conversation with follow-up questions."""

from __future__ import annotations

import json
import logging

import typer
from rich.markup import escape

from rag.cli.options import DOC_HELP, LEVEL_HELP, PLACE_HELP, YEAR_HELP, _scope, _scope_option, _settings
from rag.console import err, fail, out
from rag.errors import RagError
from rag.scope import Scope
from rag.settings import Settings


def _retriever(s: Settings):
    from rag.search.retrieve import Retriever

    return Retriever(s)


def search(
    question: str = typer.Argument(..., help="The question, in Chinese (either script) or English."),
    k: int = typer.Option(10, "-k", help="How many results."),
    json_out: bool = typer.Option(False, "--json", help="A JSON list of results on stdout."),
    docs: list[str] | None = _scope_option("--doc", DOC_HELP),
    places: list[str] | None = _scope_option("--place", PLACE_HELP),
    years: list[str] | None = _scope_option("--year", YEAR_HELP),
    levels: list[str] | None = _scope_option("--level", LEVEL_HELP),
) -> None:
    """Fused dense + BM25 search: ranked paragraphs with breadcrumb and scores."""
    try:
        s = _settings()
        if k < 1:
            raise RagError("-k must be at least 1")
        scope = _scope(docs, places, years, levels)
        timings: dict = {}
        results = _retriever(s).search(question, k, timings, scope=scope)
    except RagError as exc:
        fail(exc)
    if json_out:
        print(json.dumps([r.to_dict() for r in results], ensure_ascii=False))
        return
    if scope:
        out.print(f"[dim]scope: {escape(scope.describe())}[/]", highlight=False)
    for r in results:
        also = f"  [dim](+ twin {', '.join(a['id'] for a in r.also)})[/]" if r.also else ""
        out.print(f"[bold]{r.rank}.[/] {r.breadcrumb}  [dim]{r.id}[/]{also}")
        out.print(
            f"   fused {r.score:.4f}  dense {r.dense:.3f} (#{r.dense_rank})  bm25 {r.bm25:.2f} (#{r.bm25_rank})",
            highlight=False,
        )
        out.print(f"   {r.text[:200]}{'…' if len(r.text) > 200 else ''}", markup=False, highlight=False)
    err.print(f"retrieval {timings.get('retrieve_ms')} ms")


# --- answering --------------------------------------------------------------------------------------
def _assistant(s: Settings, preload: str | None = None):
    """`preload`: the model to load while the index loads (for commands that will answer)."""
    from rag.answer.assistant import Assistant

    return Assistant(s, preload=preload)


def _print_citations(citations: list[dict]) -> None:
    for c in citations:
        where = c.get("location") or f"¶{c['paragraph']}"
        out.print(f"[bold][{c['n']}][/] {c['breadcrumb']}  [dim]{where} · {c['id']}[/]")
        out.print(f"    「{c['quote']}」", markup=False, highlight=False)


def ask(
    question: str = typer.Argument(..., help="The question, in Chinese (either script) or English."),
    model: str = typer.Option(None, "--model", help="default (1.5B) or small (0.5B)."),
    k: int = typer.Option(None, "-k", help="How many passages to retrieve."),
    local: bool = typer.Option(
        False,
        "--local",
        help="Answer in this process even when a `rag serve` for the same index and settings is running.",
    ),
    json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
    docs: list[str] | None = _scope_option("--doc", DOC_HELP),
    places: list[str] | None = _scope_option("--place", PLACE_HELP),
    years: list[str] | None = _scope_option("--year", YEAR_HELP),
    levels: list[str] | None = _scope_option("--level", LEVEL_HELP),
) -> None:
    """Answer a question with verified citations, or say that the reports do not say.

    When a `rag serve` with the same index and settings runs on this machine, the question goes to
    it (its model is loaded already: the first token comes seconds sooner); the answer is the same."""
    try:
        s = _settings()
        if k is not None and k < 1:
            raise RagError("-k must be at least 1")
        scope = _scope(docs, places, years, levels)
        terminal = None if json_out else _Terminal()
        result = None if local or not s.forward_to_server else _ask_resident(s, question, k, model, scope, terminal)
        via = " · answered by the running server" if result is not None else ""
        if result is None:
            assistant = _assistant(s, preload=model or s.llm.choice)
            assistant.check_model(model)  # an LLM server that is down is one error line, not evidence then one
            ans = assistant.ask(question, k=k, model=model, on_event=terminal, scope=scope)
            result = ans.to_dict()
    except RagError as exc:
        fail(exc)
    if json_out:
        print(json.dumps(result, ensure_ascii=False))
        return
    assert terminal is not None and result is not None  # --json returned above; an error exited
    terminal.finish(result["answer"], result["citations"])
    t = result["timings"]
    err.print(
        f"retrieval {t.get('retrieve_ms')} ms · evidence {t.get('evidence_s')} s · first token "
        f"{t.get('first_token_s', '-')} s · total {t.get('total_s')} s · prompt {t.get('prompt_tokens', 0)} "
        f"tokens{via}"
    )


def _ask_resident(
    s: Settings, question: str, k: int | None, model: str | None, scope: Scope | None, terminal
) -> dict | None:
    """The answer of a running `rag serve` for this index and these settings, or None when there is
    none to ask (the caller answers itself)."""
    from rag import resident

    server = resident.find(s)
    if server is None:
        return None
    key = resident.api_key()
    try:
        return resident.ask(
            server, question, k=k, model=model or s.llm.choice, on_event=terminal, api_key=key, scope=scope
        )
    except resident.Unreachable as exc:
        logging.getLogger(__name__).info(
            "the server at %s did not take the question (%s); answering here", server.url, exc
        )
        return None


class _Terminal:
    """One answer on the terminal: the strongest evidence at once, then the answer as it is
    generated, then the citations (the streamed text belongs to this answer, not to the module)."""

    def __init__(self) -> None:
        self.streamed: list[str] = []

    def __call__(self, kind: str, data) -> None:
        if kind == "evidence":
            out.print(f"[dim]evidence: {data['breadcrumb']}[/]")
            out.print(f"[dim]  「{data['quote']}」[/]", highlight=False)
        elif kind == "token":
            if not self.streamed:
                out.print("[bold]answer:[/] ", end="")
            self.streamed.append(data)
            out.print(data, end="", markup=False, highlight=False)
        elif kind == "retry":
            out.print(f"\n[yellow]{data}[/]")

    def finish(self, answer: str, citations: list[dict]) -> None:
        """The citation markers when the checked answer is the streamed text, the whole checked
        answer when checking changed it (refusal, retry, extractive fallback, script)."""
        import re

        streamed = "".join(self.streamed).strip()
        final = answer.strip()
        if streamed and re.sub(r"\[\d+\]", "", final) == streamed:
            out.print("".join(re.findall(r"\[\d+\]", final)), highlight=False)
        else:
            out.print()
            out.print(f"[bold]answer:[/] {final}", highlight=False)
        _print_citations(citations)


def chat(
    model: str = typer.Option(None, "--model", help="default (1.5B) or small (0.5B)."),
    k: int = typer.Option(None, "-k", help="How many passages to retrieve."),
    docs: list[str] | None = _scope_option("--doc", DOC_HELP),
    places: list[str] | None = _scope_option("--place", PLACE_HELP),
    years: list[str] | None = _scope_option("--year", YEAR_HELP),
    levels: list[str] | None = _scope_option("--level", LEVEL_HELP),
) -> None:
    """Interactive questions with history: follow-ups like 「那乙市呢？」 are rewritten (and shown)
    before retrieval; /sources re-prints the last citations; Ctrl-C stops an answer; /quit leaves.
    A scope (--doc, --place, --year, --level) holds for every question of the session."""
    from rag.answer.followup import ChatState, rewrite

    try:
        s = _settings()
        scope = _scope(docs, places, years, levels)
        assistant = _assistant(s, preload=model or s.llm.choice)
        assistant.retriever.scope_docs(scope)  # a bad scope fails now, not at every question
    except RagError as exc:
        fail(exc)
    state = ChatState()
    if scope:
        err.print(f"[dim]scope: {escape(scope.describe())}[/]", highlight=False)
    err.print("Ask about the reports. /sources shows the last citations, /quit leaves, Ctrl-C stops an answer.")
    while True:
        try:
            line = input("问> ").strip()
        except (EOFError, KeyboardInterrupt):
            err.print()
            return
        if not line:
            continue
        if line in ("/quit", "/exit", "/q"):
            return
        if line == "/sources":
            if state.last_citations:
                _print_citations(state.last_citations)
            else:
                err.print("no citations yet")
            continue
        standalone = rewrite(line, state.history, assistant.retriever.place_aliases, assistant.retriever.unknown_places)
        if standalone != line:
            out.print(f"[dim]→ {standalone}[/]", highlight=False)
        terminal = _Terminal()
        try:
            ans = assistant.ask(standalone, k=k, model=model, on_event=terminal, scope=scope)
        except KeyboardInterrupt:
            out.print("\n[yellow](answer interrupted)[/]")
            continue
        except RagError as exc:
            err.print(f"[bold red]error:[/] {exc}")
            continue
        terminal.finish(ans.answer, [c.to_dict() for c in ans.citations])
        state.history.append(standalone)
        state.last_citations = [c.to_dict() for c in ans.citations]
