"""The README's main job: every user-facing tool once, end to end, on local folders.

Each step runs the same command a user would type (printed before it runs), so the demo doubles
as a walkthrough. A private PostGIS is started for the semantic steps and stopped afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out" / "demo"
BIN = Path(sys.executable).parent
console = Console()


def run(title: str, *argv: str, env: dict[str, str] | None = None) -> None:
    """Run one user command from the repo root; stop the demo on the first failure."""
    console.print(Rule(f"[bold]{title}"))
    shown = " ".join(argv).replace(str(ROOT) + "/", "")
    console.print(f"[dim]$ {shown}[/dim]")
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=ROOT, env={**os.environ, **(env or {})})
    if result.returncode != 0:
        console.print(f"[red]step failed ({result.returncode}): {title}[/red]")
        raise SystemExit(result.returncode)
    console.print(f"[green]ok[/green] [dim]{time.perf_counter() - started:.1f}s[/dim]")


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    python = str(BIN / "python")
    run("Offline plan of the ovh stack", python, "-m", "infra.plan", "ovh")
    console.print(Rule("[bold green]demo complete"))
    console.print(f"outputs in {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
