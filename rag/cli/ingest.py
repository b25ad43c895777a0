"""`rag ingest`, `rag chunks` and `rag index`: reports cut into the chunk store, how they were cut,
and the indexes built over it."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer
from rich.table import Table
from rich.tree import Tree

from rag.cli.options import _settings, _write_error
from rag.console import err, fail, out
from rag.errors import RagError


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
        if s.store.url:
            raise RagError(
                "a shared library (RAG_STORE__URL) is written by `rag index` and by uploads, not by `rag ingest`"
            )
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
    assert s is not None  # set, or the command exited above
    err.print(f"chunk store written to {s.index_dir}")


def _count(nodes: list[dict]) -> int:
    return sum(1 + _count(n["children"]) for n in nodes)


def chunks(
    doc: str | None = typer.Option(None, "--doc", help="Document id or file name (default: all)."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per chunk on stdout."),
) -> None:
    """Show how reports were cut: the section tree, then every chunk."""
    from rag.search.stores import open_chunk_store

    try:
        s = _settings()
        store = open_chunk_store(s)
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
        if s.store.url:
            return _index_shared(s, paths, rebuild)
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


def _index_shared(s, paths: list[Path] | None, rebuild: bool) -> None:
    """`rag index` on a shared library: its seeds folder and the uploads in the store, published
    to every replica (reports are added to a shared library by uploading them)."""
    from rag.library_shared import SharedLibrary

    if paths:
        raise RagError(
            "a shared library is indexed from its seeds folder (RAG_SEEDS_DIR) and its uploads; "
            "upload reports through the service instead of naming files"
        )
    library = SharedLibrary(s)
    try:
        change = library.rebuild() if rebuild else library.sync()
    finally:
        library.close()
    if change is None:
        err.print("the shared library is up to date")
        return
    err.print(
        f"indexed {change.chunks} chunks from {change.documents} documents in the shared library: "
        f"{change.embedded} embedded, {change.reused} from cache, {change.seconds:.1f}s"
    )


def copy_library(
    store_url: str = typer.Option(..., "--store-url", help="The shared chunk store: postgresql://user@host:port/db."),
    milvus_uri: str = typer.Option(..., "--milvus-uri", help="The Milvus server: http://host:19530."),
    json_out: bool = typer.Option(False, "--json", help="What was copied, as one JSON object on stdout."),
) -> None:
    """Copy this index folder's library (uploads, exclusions, chunks, vectors) to a PostgreSQL
    database and a Milvus server, for service replicas to share. The local library is only read."""
    from rag.deploy.migrate import copy_library as copy
    from rag.deploy.migrate import shared_settings

    try:
        s = _settings()
        done = copy(s, shared_settings(s, store_url, milvus_uri))
    except RagError as exc:
        fail(exc)
    if json_out:
        print(json.dumps(asdict(done), ensure_ascii=False))
        return
    err.print(
        f"copied {done.documents} documents ({done.uploads} uploaded, {done.excluded} excluded seeds) and "
        f"{done.chunks} chunks; {done.embedded} embedded again; {done.seconds:.1f}s. Serve it with "
        "RAG_STORE__URL, RAG_VECTORS__STORE=milvus and RAG_VECTORS__MILVUS_URI set."
    )
