"""Offline plan speed: resources/s and CPU seconds at 10, 100 and 300 nodes.

Target: a 300-node stack (~900 resources) plans in under 3 s of CPU, growing linearly. Each size
runs in a fresh process (the Pulumi runtime is global) with `infra.offline.evaluate`, which
freezes the GC during the run as the real CLI does.

    .venv/bin/python bench/bench_plan.py                 # synthetic program, 3 resources per node
    .venv/bin/python bench/bench_plan.py --stack ovh --count-key swarm.workers.count
                                                         # the real program, sized by a config key

The synthetic program mirrors a node pool: per node an instance, its port and a volume
attachment's volume, inside one component per pool, so URNs, parents and dependencies are as deep
as in the real program.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SIZES = (10, 100, 300)

PROGRAM = """
import pulumi
import pulumi_openstack as openstack

class Pool(pulumi.ComponentResource):
    def __init__(self, name, count, opts=None):
        super().__init__("bench:nodes:Pool", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        net = openstack.networking.Network(f"{name}-net", name=f"{name}-net", opts=child)
        for i in range(count):
            address = f"10.0.{i // 250}.{i % 250 + 2}"
            fixed = [{"subnet_id": "sub", "ip_address": address}]
            port = openstack.networking.Port(f"{name}-{i}", network_id=net.id, fixed_ips=fixed, opts=child)
            volume = openstack.blockstorage.Volume(f"{name}-{i}-data", size=50, opts=child)
            openstack.compute.Instance(f"{name}-{i}", name=f"{name}-{i}", flavor_name="b2-7",
                                       image_name="Ubuntu 22.04", networks=[{"port": port.id}],
                                       metadata={"stack": pulumi.get_stack(), "volume": volume.name},
                                       user_data="#cloud-config\\npackages: [docker.io]\\n", opts=child)
        self.register_outputs({})

count = pulumi.Config().require_int("nodes")
Pool(f"bench-{pulumi.get_stack()}-pool", count)
"""


def synthetic_project(root: Path) -> Path:
    (root / "prog").mkdir()
    (root / "prog" / "__main__.py").write_text(textwrap.dedent(PROGRAM))
    (root / "Pulumi.yaml").write_text("name: bench\nruntime: python\nmain: prog/\nconfig:\n  nodes: 1\n")
    (root / "Pulumi.bench.yaml").write_text("config: {}\n")
    return root


def measure_one(nodes: int, stack: str | None, count_key: str | None) -> dict[str, float]:
    """Evaluate one size in this process; CPU and wall time around `evaluate` only."""
    sys.path.insert(0, str(REPO))
    from infra.offline import evaluate

    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        if stack:
            root, run_stack, overrides = REPO, stack, [f"{count_key}={nodes}"]
        else:
            root, run_stack, overrides = synthetic_project(Path(tmp)), "bench", [f"nodes={nodes}"]
        cpu, wall = time.process_time(), time.perf_counter()
        manifest = evaluate(run_stack, overrides, root=root)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"nodes": nodes, "resources": len(manifest.resources), "cpu_s": cpu, "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", help="Bench the real program for this stack instead of the synthetic one.")
    parser.add_argument("--count-key", help="Dotted config key that sets the node count (with --stack).")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stack and not args.count_key:
        parser.error("--stack needs --count-key, e.g. swarm.workers.count")
    if args.one is not None:
        print(json.dumps(measure_one(args.one, args.stack, args.count_key)))
        return

    print(f"{'nodes':>6} {'resources':>10} {'cpu s':>8} {'wall s':>8} {'res/s (cpu)':>12} {'ms/res':>7}")
    rows = []
    for nodes in args.sizes:
        command = [sys.executable, __file__, "--one", str(nodes)]
        if args.stack:
            command += ["--stack", args.stack, "--count-key", args.count_key]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"size {nodes}: {done.stderr.strip().splitlines()[-1] if done.stderr else 'failed'}")
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        rate = row["resources"] / row["cpu_s"]
        print(
            f"{nodes:>6} {row['resources']:>10} {row['cpu_s']:>8.2f} {row['wall_s']:>8.2f} {rate:>12.0f} "
            f"{1000 * row['cpu_s'] / row['resources']:>7.2f}"
        )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        per_first = first["cpu_s"] / first["resources"]
        per_last = last["cpu_s"] / last["resources"]
        marginal = (last["cpu_s"] - first["cpu_s"]) / (last["resources"] - first["resources"])
        print(
            f"CPU per resource, largest vs smallest: {per_last / per_first:.2f}x (<=1 is linear); "
            f"marginal {1000 * marginal:.2f} ms/resource"
        )


if __name__ == "__main__":
    main()
