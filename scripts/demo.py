"""The README's main job: every user-facing tool once, end to end, on local folders.

Each step runs the same command a user would type (printed before it runs), so the demo doubles
as a walkthrough: sample inputs -> cube -> checks and a preview image -> the fire-danger use case
(UC3 notebook: model vs baselines, next-day danger map) -> PostGIS -> R2RML/OWL mapping -> a
GeoSPARQL answer -> the offline plan of the ovh stack. A private PostGIS is started
on loopback for the semantic steps and stopped afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from semantic.local_postgis import LocalPostgis

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out" / "demo"
BIN = Path(sys.executable).parent
console = Console()


def run(title: str, *argv: str, env: dict[str, str] | None = None, show_env: bool = False) -> None:
    """Run one user command from the repo root; stop the demo on the first failure. `show_env`
    prints the variables too (when they are part of the command to type, not a secret)."""
    console.print(Rule(f"[bold]{title}"))
    shown = " ".join([*(f"{k}={v}" for k, v in (env or {}).items() if show_env), *argv])
    shown = shown.replace(str(BIN) + "/", "").replace(str(ROOT) + "/", "")
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
    inputs, cube, mapping, uc3 = OUT / "inputs", OUT / "cube.zarr", OUT / "mapping", OUT / "uc3"
    cube_engine, semantic = str(BIN / "cube-engine"), str(BIN / "semantic")

    run("Sample inputs: three products on different grids + static layers", cube_engine, "demo-data",
        str(inputs))
    run("Build the cube", cube_engine, "gen", str(inputs / "cube.yaml"), "--output", str(cube))
    run("Inspect it", cube_engine, "info", str(cube))
    run("Check its conventions", cube_engine, "validate", str(cube))
    run("Render one slice", cube_engine, "preview", str(cube), "--var", "air_temperature_2m",
        "-o", str(OUT / "preview.png"))
    run("Use case UC3: next-day fire danger (the notebook, headless)", str(BIN / "python"), "-m",
        "usecases.uc3_fire_danger.uc3_fire_danger", env={"UC3_CUBE": str(cube), "UC3_OUT": str(uc3)},
        show_env=True)

    console.print(Rule("[bold]Start a private PostGIS on 127.0.0.1"))
    with LocalPostgis(root=OUT / "postgis") as db:
        env = {"DEEPCUBE_DSN": db.dsn}
        console.print(f"[dim]DEEPCUBE_DSN=postgresql://{db.user}:***@127.0.0.1:{db.port}/{db.database}[/dim]")
        run("Load the cube into PostGIS (one transaction, binary COPY)", semantic, "load", str(cube),
            "--cube-id", "demo", env=env)
        run("Write the ontology, R2RML mapping, ontop.properties and example queries", semantic,
            "mapping", "demo", "-o", str(mapping), env=env)
        # Answered locally over the whole cube: only the cells, days and variable it asks about
        # are materialised.
        run("Answer a GeoSPARQL query (bbox + time + threshold)", semantic, "query",
            str(mapping / "queries" / "01_bbox_time_threshold.rq"), "--cube-id", "demo", env=env)

    run("Offline plan of the ovh stack (no cloud, no Pulumi CLI)", str(BIN / "python"), "-m", "infra.plan",
        "ovh")
    run("Policies on that plan", str(BIN / "python"), "-m", "infra.plan", "check", "ovh")
    console.print(Rule("[bold green]demo complete"))
    console.print(f"cube: {cube.relative_to(ROOT)}   preview: {(OUT / 'preview.png').relative_to(ROOT)}   "
                  f"fire danger map: {(uc3 / 'fire_danger_map.png').relative_to(ROOT)}   "
                  f"mapping: {mapping.relative_to(ROOT)}")
    console.print(uc3_summary(uc3 / "metrics.json"), highlight=False)


def uc3_summary(path: Path) -> str:
    """One line from the use case's metrics: the model against the better baseline on held-out days."""
    m = json.loads(path.read_text())
    model, name = m["model"], m["baseline"]
    base = m["baselines"][name]
    return (f"UC3 fire danger ({len(m['test_days'])} held-out days, positive rate "
            f"{m['positive_rate_test']:.3f}): ROC AUC {model['roc_auc']:.3f} "
            f"vs {name} {base['roc_auc']:.3f}, "
            f"PR AUC {model['pr_auc']:.3f} vs {base['pr_auc']:.3f}; forecast for {m['forecast_day']}")


if __name__ == "__main__":
    main()
