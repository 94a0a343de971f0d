"""The one-line-per-declared-service table the box prints at the end."""

from __future__ import annotations

import sys

from infra.box.records import SERVICE_TYPE, declared_image, short_name
from infra.box.run_state import Run


def print_report(run: Run) -> None:
    """One line per declared service: running, running on a stand-in image, or declared only."""
    if run.plan is None:
        return
    print("box: services of the plan:", file=sys.stderr)
    for record in sorted(run.plan.manifest.of_type(SERVICE_TYPE), key=lambda r: str(r.inputs["name"])):
        name = str(record.inputs["name"])
        image = run.images.get(declared_image(record))
        if image is None:
            status = "not applied (the run stopped before)"
        elif image.local is None:
            status = image.how
        elif name in run.running:
            status = (
                "running"
                if image.how.startswith("built")
                else f"running on a stand-in image: {image.how[10:]}"
            )
        elif name in run.completed:
            status = "completed (a one-shot job, run by the journey)"
        elif name in run.problems:
            status = f"NOT running: {run.problems[name]}"
        else:
            status = "not applied (the run stopped before)"
        print(f"  {short_name(record):<24} {status}", file=sys.stderr)
