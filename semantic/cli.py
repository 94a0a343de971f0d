"""`semantic` command line: a thin typer layer over `semantic.api`.

Errors have the platform's one form (`deepcube.cli`): a `SemanticError` or a usage mistake is ONE
line on stderr, `semantic: error: <message>`, with exit code 2; `semantic --traceback <command>`
shows the full stack instead. Progress bars go to stderr, results to stdout.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from deepcube.cli import CliApp
from semantic import api, postgis_command
from semantic.boundary import BOUNDARY
from semantic.database import DSN_ENV

app = CliApp(
    BOUNDARY,
    name="semantic",
    help="Cube -> PostGIS loader, R2RML/OWL mapping generator and local GeoSPARQL query.",
    no_args_is_help=True,
)
err = Console(stderr=True)

DsnOption = Annotated[
    str | None,
    typer.Option(
        "--dsn", envvar=DSN_ENV, help=f"libpq URI postgresql://user:pass@host:port/db (or ${DSN_ENV})."
    ),
]


@contextmanager
def progress_bars(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar per load phase, fed by the loader's (phase, done, total) hook.

    A load that fails takes its bars away (erased on a terminal, never printed elsewhere): its
    stderr is the error's one line, printed by the boundary once the bars are gone.
    """
    if not enabled:
        yield lambda phase, done, total: None
        return
    columns = (TextColumn("{task.description:<13}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    bars = Progress(*columns, console=err, transient=False)
    tasks: dict[str, int] = {}

    def hook(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bars.add_task(phase, total=total)
        bars.update(tasks[phase], completed=done, total=total)

    bars.start()
    try:
        yield hook
    except BaseException:
        bars.live.transient = True
        bars.live.stop()  # not `bars.stop()`, which ends a non-terminal's output with a blank line
        raise
    bars.stop()


@app.command()
def init(dsn: DsnOption = None) -> None:
    """Create or migrate the database schema (idempotent; `load` does it implicitly)."""
    changed = api.init(dsn)
    print("schema created or migrated" if changed else "schema up to date")


DONE = {"create": "loaded", "replace": "replaced", "append": "appended"}
"""What `load` did, as the first words of its summary line."""


@app.command()
def load(
    cube: Annotated[str, typer.Argument(help="Zarr cube: a folder or s3://bucket/path.zarr")],
    dsn: DsnOption = None,
    cube_id: Annotated[
        str | None, typer.Option("--cube-id", help="Id in the database (default: cube name).")
    ] = None,
    variables: Annotated[
        list[str] | None,
        typer.Option(
            "--variables",
            "-v",
            help="Variables to load (repeat or comma-separate); static (2-D) ones become cell attributes.",
        ),
    ] = None,
    time: Annotated[
        str | None, typer.Option("--time", help="START/END (inclusive); adds that range.")
    ] = None,
    bbox: Annotated[str | None, typer.Option("--bbox", help="WEST,SOUTH,EAST,NORTH in degrees.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Load a cube into PostGIS in one transaction (replace; or add a time range with --time)."""
    names = [n.strip() for v in (variables or []) for n in v.split(",") if n.strip()] or None

    with progress_bars(not quiet) as hook:
        report = api.load(cube, dsn, cube_id=cube_id, variables=names, time=time, bbox=bbox, progress=hook)
    print(
        f"{DONE[report.mode]} cube {report.cube_id!r}: {report.n_cells} cells, "
        f"{report.n_observations} observations "
        f"({report.n_times} time steps x {len(report.variables)} variables) in {report.seconds:.2f} s "
        f"({report.rows_per_second:,.0f} rows/s)"
    )
    if report.cells_kept:
        print("cells unchanged (same grid, window and static layers): kept their table and index")
    if report.static:
        how = "on the cells"
        if report.mode == "append":
            how = "kept on the cells (an append does not rewrite them)"
        print(f"static (2-D) variables {how}: {', '.join(report.static)}")
    if report.skipped_static:
        print(f"skipped static (2-D) variables of a type SQL cannot hold: {', '.join(report.skipped_static)}")


@app.command()
def mapping(
    cube_id: Annotated[str, typer.Argument(help="Id of a loaded cube.")],
    dsn: DsnOption = None,
    out: Annotated[Path, typer.Option("-o", "--out", help="Folder for the four files.")] = Path("mapping"),
) -> None:
    """Write ontology.ttl, mapping.r2rml.ttl, ontop.properties and queries/*.rq for a loaded cube."""
    files = api.write_mapping(cube_id, dsn, out)
    for path in files:
        print(path)


@app.command()
def query(
    query_file: Annotated[Path, typer.Argument(help="SPARQL 1.1 + GeoSPARQL query file (.rq).")],
    dsn: DsnOption = None,
    cube_id: Annotated[
        str | None, typer.Option("--cube-id", help="Answer locally over this loaded cube.")
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option("--endpoint", help="Send the query to this SPARQL 1.1 endpoint (e.g. Ontop's /sparql)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table | csv | json | geojson")] = "table",
    limit: Annotated[
        int, typer.Option("--limit", min=0, help="Rows shown by the table format (0: all).")
    ] = 20,
    bbox: Annotated[
        str | None,
        typer.Option("--bbox", help="Local: only cells intersecting WEST,SOUTH,EAST,NORTH (degrees)."),
    ] = None,
    time: Annotated[
        str | None, typer.Option("--time", help="Local: only observations in START/END (inclusive, UTC).")
    ] = None,
    variables: Annotated[
        list[str] | None,
        typer.Option("--variables", "-v", help="Local: only these variables (repeat or comma-separate)."),
    ] = None,
    max_triples: Annotated[
        int | None,
        typer.Option(
            "--max-triples",
            min=0,
            help="Local: refuse past this many materialised triples "
            "(default 300,000, about 1 GB at the peak).",
        ),
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Local: print the narrowed SQL and triple counts, then stop.")
    ] = False,
) -> None:
    """Answer a GeoSPARQL query: locally over the part of a cube it touches (morph-kgc + rdflib +
    shapely), or at a SPARQL endpoint (--endpoint)."""
    result = api.query(
        query_file,
        dsn,
        cube_id=cube_id,
        endpoint=endpoint,
        fmt=fmt,
        table_rows=limit or None,
        bbox=bbox,
        time=time,
        variables=variables,
        max_triples=max_triples,
        explain=explain,
    )
    if not isinstance(result, str):
        Console().print(result)
    else:
        sys.stdout.write(result if result.endswith("\n") else result + "\n")


app.add_typer(postgis_command.app, name="postgis")

if __name__ == "__main__":
    app()
