"""Journey step: the fire-danger use case (UC3) runs where a scientist runs it.

The notebook is the copy the Jupyter image puts in every person's home, run headless inside the
Jupyter service's container with the environment the program gives that service (the S3 credentials
file and endpoint, the Dask scheduler's address): it opens the cube step b built on the platform's S3
and computes on the platform's Dask workers. The step then reads what the notebook wrote, so a run
that "finished" without a model, a map or a sane score still fails here.
"""

from __future__ import annotations

from collections.abc import Callable

from infra.box.journey import (
    Platform,
    StepFailed,
    container_of,
    cube_uri,
    json_in,
    required_service,
    service_env,
)
from infra.manifest import ResourceRecord

NOTEBOOK = "/home/jovyan/work/usecases/uc3_fire_danger.py"
"""Where the cube-engine image puts the use case for every person (docker/cube-engine/Dockerfile)."""

OUT = "/tmp/box-uc3"

RUN_SCRIPT = r"""
import json, pathlib, sys
from usecases.run import run_notebook
notebook, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
executed = run_notebook(notebook, out / "uc3_fire_danger.ipynb")
outputs = [o for c in executed.cells for o in c.get("outputs", []) if o.get("name") == "stdout"]
lines = [line for o in outputs for line in o.get("text", "").splitlines()]
where = next((line for line in lines if line.startswith("computing on")), "")
m = json.loads((out / "metrics.json").read_text())
print(json.dumps({"model": m["model"], "baseline": m["baseline"], "baselines": m["baselines"],
                  "positive_rate": m["positive_rate_test"], "test_days": len(m["test_days"]),
                  "cube": m["cube"], "where": where,
                  "figures": {p.name: p.stat().st_size for p in out.glob("*.png")}}))
"""

FIGURES = ("fire_danger_map.png", "feature_importance.png")


def check_outcome(result: dict, cube: str) -> str:
    """The use case's promise, from what its notebook wrote; one line for the progress log."""
    if result["cube"] != cube:
        raise StepFailed(f"the notebook read {result['cube']}, not the platform's cube {cube}")
    if not result["where"].startswith("computing on dask cluster"):
        raise StepFailed(f"the notebook did not compute on the Dask cluster: {result['where'] or 'no word'}")
    missing = [f for f in FIGURES if result["figures"].get(f, 0) < 1000]
    if missing:
        raise StepFailed(f"the notebook wrote no (or an empty) {', '.join(missing)}")
    model = result["model"]["roc_auc"]
    base = result["baselines"][result["baseline"]]["roc_auc"]
    if not 0.5 < model <= 1.0 or model <= base:
        raise StepFailed(
            f"model ROC AUC {model:.3f} does not beat the {result['baseline']} baseline {base:.3f}"
        )
    return (
        f"UC3: ROC AUC {model:.3f} vs {result['baseline']} baseline {base:.3f} on {result['test_days']} "
        f"held-out days (positive rate {result['positive_rate']:.3f}), {result['where']}; "
        f"figures {', '.join(FIGURES)}"
    )


def step_usecase(
    p: Platform, say: Callable[[str], None], ensure_running: Callable[[ResourceRecord], None]
) -> None:
    """f. The UC3 notebook from the Jupyter image runs on the platform's Dask cluster and S3 cube."""
    jupyter = required_service(p.manifest, "jupyter")
    _, uri = cube_uri(p.manifest)
    name = str(jupyter.inputs["name"])
    scheduler = service_env(jupyter).get("DASK_SCHEDULER_ADDRESS", "")
    if not scheduler:
        raise StepFailed(f"{name} is given no DASK_SCHEDULER_ADDRESS: the notebook would compute locally")
    api, container = container_of(p, jupyter, ensure_running)
    command = ["env", f"UC3_CUBE={uri}", f"UC3_OUT={OUT}", "python", "-c", RUN_SCRIPT, NOTEBOOK, OUT]
    say(f"{NOTEBOOK} in {name}, cube {uri}, Dask at {scheduler}")
    say(check_outcome(json_in(api, container, command), uri))
