"""Execute a text notebook headless and keep it, with its outputs, as .ipynb.

`python -m usecases.run usecases/uc3_fire_danger/uc3_fire_danger.py -o out/uc3/uc3_fire_danger.ipynb`

jupytext reads the percent-format file and nbclient runs it on a local `python3` kernel whose working
directory is the repository root (so `import usecases` works from a checkout), with this process's
environment (`UC3_CUBE`, `DASK_SCHEDULER_ADDRESS`, AWS variables...). Used by the tests too, so what
CI runs is what people run. (`jupytext --execute` would need nbconvert as well.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent


def run_notebook(source: Path, output: Path | None = None, timeout: int = 1800) -> nbformat.NotebookNode:
    """Run every cell of `source` in order; a failing cell raises (nbclient's CellExecutionError,
    which names the cell and carries its traceback). Writes the executed notebook to `output`."""
    notebook = jupytext.read(source)
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}
    )
    client.execute()
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, output)
    return notebook


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path, help="a jupytext percent-format .py file")
    parser.add_argument("-o", "--output", type=Path, help="where to write the executed .ipynb")
    args = parser.parse_args()
    run_notebook(args.notebook, args.output)
    print(f"executed {args.notebook}" + (f" -> {args.output}" if args.output else ""))


if __name__ == "__main__":
    main()
