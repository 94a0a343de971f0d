"""`cube-engine`: a thin typer layer over the library.

The command is a process of its own, so `gen` and `append` let glibc keep freed memory in its heap
while they run (`memory.reuse_heap_memory`, off with `CUBE_ENGINE_MALLOC_TUNING=0`); the library
itself never changes the allocator. Errors have the platform's one form (`deepcube.cli`): a
`CubeEngineError` or a usage mistake is one line on stderr, `cube-engine: error: <message>`, with
exit code 2 (`cube-engine --traceback <command>` shows the Python traceback instead). `validate`
exits 1 when the cube has problems (one line each on stdout, then the error line).
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from deepcube.cli import Boundary, CliApp

from .errors import CubeEngineError

BOUNDARY = Boundary("cube-engine", CubeEngineError)
app = CliApp(
    BOUNDARY,
    no_args_is_help=True,
    help="Build analysis-ready Zarr cubes from EO and weather sources.",
)
# Format 3 cubes carry consolidated metadata on purpose (one read opens the cube); zarr's notice
# about it is not something a user can act on, and would break the one-line error contract.
warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part", category=UserWarning)
err = Console(stderr=True, soft_wrap=True)  # progress bars and warnings, one line each (also when piped)
out = Console(soft_wrap=True)


class _Bar:
    """A rich progress bar fed by the library's (done, total) callback."""

    def __init__(self, label: str):
        self.progress = Progress(
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=False,
            disable=not err.is_terminal,
        )
        self.task = None

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        self.progress.__exit__(*exc)

    def __call__(self, done: int, total: int) -> None:
        if self.task is None:
            self.task = self.progress.add_task("chunks", total=total)
        self.progress.update(self.task, completed=done, total=total)


def _heap_tuning():
    """The allocator tuning of a `cube-engine` process building a cube (see the module docstring)."""
    from .memory import reuse_heap_memory
    from .settings import load_settings

    return reuse_heap_memory(load_settings().malloc_tuning)


@app.command()
def schema() -> None:
    """Print the JSON schema of the cube configuration."""
    from .config import config_schema

    sys.stdout.write(json.dumps(config_schema(), indent=2) + "\n")


def _report(result, verb: str) -> None:
    for warning in result.warnings:
        err.print(f"[yellow]Warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
    if result.note:
        out.print(result.note, highlight=False, soft_wrap=True)
        return
    out.print(
        f"{verb} {result.path}: {result.times} time steps, {result.tasks} chunk tasks in "
        f"{result.seconds:.1f} s",
        highlight=False,
    )


@app.command()
def gen(
    config: Annotated[Path, typer.Argument(help="Cube config YAML.")],
    output: Annotated[str | None, typer.Option("--output", "-o", help="Override output.path.")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address, e.g. tcp://host:8786.")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Local threads (default: CPU count).")] = None,
) -> None:
    """Build the cube and publish it atomically."""
    from . import api
    from .config import load_config

    cfg = load_config(config, output=output)
    with _Bar("gen") as bar, _heap_tuning():
        result = api.gen(cfg, scheduler=scheduler, workers=workers, progress=bar)
    _report(result, "Wrote")


@app.command()
def append(
    config: Annotated[Path, typer.Argument(help="Cube config YAML (the one the cube was built from).")],
    output: Annotated[str | None, typer.Option("--output", "-o", help="Override output.path.")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address.")] = None,
    workers: Annotated[int | None, typer.Option(help="Local threads.")] = None,
) -> None:
    """Add what the sources hold after the cube's last step (up to time.end, if set); the cube is
    unchanged until the new steps are published. Nothing new: a note, exit code 0."""
    from . import api
    from .config import load_config

    cfg = load_config(config, output=output)
    with _Bar("append") as bar, _heap_tuning():
        result = api.append(cfg, scheduler=scheduler, workers=workers, progress=bar)
    _report(result, "Appended to")


def _parse_chunks(text: str | None) -> dict[str, int] | None:
    if not text:
        return None
    result = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        key = {"lat": "y", "lon": "x"}.get(key.strip(), key.strip())
        if key not in ("time", "y", "x") or not value.strip().isdigit() or int(value) < 1:
            raise CubeEngineError(f"--chunks: expected e.g. 'time=256,y=64,x=64', got {text!r}")
        result[key] = int(value)
    return result


@app.command()
def rechunk(
    cube: Annotated[str, typer.Argument(help="Input cube (folder or s3:// URL).")],
    output: Annotated[str, typer.Option("--output", "-o", help="Output cube.")],
    preset: Annotated[str | None, typer.Option(help="timeseries or image.")] = None,
    chunks: Annotated[str | None, typer.Option(help="Explicit chunks, e.g. time=256,y=64,x=64.")] = None,
    memory: Annotated[int, typer.Option(help="Memory budget per slab in MB.")] = 256,
) -> None:
    """Rewrite a cube with other chunks, in bounded memory."""
    from .rechunk import rechunk as do_rechunk

    if preset not in (None, "timeseries", "image"):
        raise CubeEngineError(f"--preset: expected 'timeseries' or 'image', got {preset!r}")
    with _Bar("rechunk") as bar:
        path = do_rechunk(
            cube,
            output,
            preset=preset,
            chunks=_parse_chunks(chunks),
            memory_budget=memory * 2**20,
            progress=bar,
        )
    out.print(f"Wrote {path}", highlight=False)


@app.command()
def info(
    cube: Annotated[str, typer.Argument(help="Cube folder or s3:// URL.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the info as JSON.")] = False,
) -> None:
    """Show dims, variables, chunks, time coverage and size."""
    from .inspection import cube_info, open_for_inspection

    ds, _ = open_for_inspection(cube)
    data = cube_info(ds, cube)
    if as_json:
        sys.stdout.write(data.model_dump_json(indent=2) + "\n")
        return
    out.print(f"[bold]{data.title or cube}[/bold]  ({cube})")
    out.print("dims: " + ", ".join(f"{k}={v}" for k, v in data.dims.items()))
    if data.time_coverage:
        out.print(f"time: {data.time_coverage[0]} .. {data.time_coverage[1]}")
    if data.bbox_degrees:
        out.print("bbox (lon/lat): " + ", ".join(f"{v:.4f}" for v in data.bbox_degrees))
    out.print(
        f"crs: {data.crs}   zarr format: {data.zarr_format}   size: {(data.size_bytes or 0) / 2**20:.1f} MiB"
    )
    table = Table("variable", "dims", "chunks", "units", "long name")
    for v in data.variables:
        table.add_row(
            v.name, ",".join(v.dims), "x".join(map(str, v.chunks or [])), v.units or "", v.long_name or ""
        )
    out.print(table)


@app.command()
def validate(
    cube: Annotated[str, typer.Argument(help="Cube folder or s3:// URL.")],
    deep: Annotated[
        bool | None,
        typer.Option(
            "--deep/--quick",
            help="Read and decode every chunk, or check metadata only "
            "(default: deep when the cube is under CUBE_ENGINE_DEEP_VALIDATE_MB, 512 MiB).",
        ),
    ] = None,
) -> None:
    """Check conventions (and every chunk's bytes); one line per problem on stdout, exit 1 if any."""
    from .chunkcheck import check_chunks, stored_megabytes
    from .inspection import open_for_inspection, validate_cube
    from .settings import load_settings

    ds, consolidated = open_for_inspection(cube)
    problems = validate_cube(ds, consolidated)
    if deep is None:
        deep = stored_megabytes(cube) <= load_settings().deep_validate_mb
    if deep:
        problems += check_chunks(cube)
    for problem in problems:
        sys.stdout.write(f"{cube}: {problem}\n")
    if problems:
        many = f"{len(problems)} problems, the first: " if len(problems) > 1 else ""
        BOUNDARY.fail(f"{cube} is not valid: {many}{problems[0]}", code=1)
    checked = "every chunk decoded" if deep else "metadata only; --deep decodes every chunk"
    out.print(f"{cube}: valid ({checked})", highlight=False)


@app.command()
def preview(
    cube: Annotated[str, typer.Argument(help="Cube folder or s3:// URL.")],
    var: Annotated[str, typer.Option("--var", help="Variable to draw.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file to write.")],
    time: Annotated[
        str | None, typer.Option("--time", help="Time to draw (the step whose period holds it).")
    ] = None,
) -> None:
    """Write a PNG map of one slice with a colour bar and a title."""
    from .api import open_cube
    from .outputs import check_local_output
    from .preview import render_preview

    check_local_output(output, "--output", folder=False)
    path = render_preview(open_cube(cube), var, output, time, cube_path=cube)
    out.print(f"Wrote {path}", highlight=False)


@app.command("demo-data")
def demo_data(
    directory: Annotated[Path, typer.Argument(help="Folder to write the sample inputs and cube.yaml into.")],
    days: Annotated[int, typer.Option(min=1, help="Days of sample inputs to write.")] = 10,
    extend: Annotated[
        int | None,
        typer.Option(min=1, help="Instead: add this many days after the last one in DIR (for append)."),
    ] = None,
) -> None:
    """Write a small, realistic sample input set and DIR/cube.yaml that builds DIR/cube.zarr (its
    time axis is open-ended: `append` adds the days that `--extend` writes later)."""
    from .demo import extend_demo, write_demo
    from .outputs import check_local_output

    check_local_output(directory, "DIR")
    if extend is not None:
        first, last = extend_demo(directory, extend)
        config = directory / "cube.yaml"
        out.print(
            f"Added sample inputs for {first:%Y-%m-%d}..{last:%Y-%m-%d} to {directory}; "
            f"next: cube-engine append {config}",
            highlight=False,
            soft_wrap=True,
        )
        return
    path = write_demo(directory, days=days)
    message = f"Wrote sample inputs and {path}; next: cube-engine gen {path}"
    out.print(message, highlight=False, soft_wrap=True)


if __name__ == "__main__":  # pragma: no cover
    app()
