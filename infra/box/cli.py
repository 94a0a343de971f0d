"""`scripts/box`: run the swarm half of the platform for real, walk the journey, tear it all down.

    scripts/box [--stack ovh] [--set KEY=VALUE ...] [--cache DIR] [--scale N]

Stack values that must differ on one machine are `--set` overrides (the same mechanism as
`python -m infra.plan --set`); the box's defaults come first and are printed, yours win. The exit
code is 0 only if every journey step passed; otherwise the failed steps are named. Whatever
happens (success, failure, Ctrl-C, SIGTERM), the services, the swarm, the node containers, the
engine and the interfaces it made are removed before the box exits.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import docker
from deepcube.cli import BAD_INPUT, INTERRUPTED, error_line
from infra.box import BoxError
from infra.box.apply import Applier, wait_converged
from infra.box.dockerd import Engine, Layout
from infra.box.images import table_lines
from infra.box.journey import Platform, StepFailed, step_cube, step_homepage, step_load, step_metrics
from infra.box.nodes import Cluster, published_ports
from infra.box.plan import BoxPlan, evaluate_plan
from infra.box.progress import Progress
from infra.box.provision import (
    S3_HOST,
    endpoint_override,
    load_images,
    resolve_images,
    s3_stand_in,
)
from infra.box.records import SERVICE_TYPE, declared_constraints, declared_image, short_name
from infra.box.report import print_report
from infra.box.run_state import Run
from infra.box.swarm_ops import (
    declared_only_deps,
    engine_for,
    ensure_running,
    rerun_job,
    scale_workers,
)
from infra.box.topology import Placed, fits, hosted_nodes, plan_nodes
from infra.box.usecase_step import step_usecase
from infra.stack_files import StackFileError, parse_override

DEFAULT_CACHE = Path(os.environ.get("DEEPCUBE_BOX_CACHE", "/var/cache/deepcube-box"))
BOX_OVERRIDES = (
    "dns.domain=deepcube.localhost",
    "services.domain=deepcube.localhost",
    f"cloud.object_storage.endpoint=https://{S3_HOST}",
)
"""One machine, no public DNS: Caddy serves `*.localhost` with its own CA; S3 is the box's stand-in.

Only the endpoint changes: the stand-in's host is in no provider's domain, so the config model draws
no region from it, and the stack's own region and signing region (which moto accepts) stay as the
stack declares them, so the box runs the very wiring the cloud gets."""


class Interrupted(BaseException):
    """SIGTERM or SIGHUP: unwind like Ctrl-C so the teardown runs."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/box", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default="ovh", help="stack whose plan is applied (default: ovh)")
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a stack config value, e.g. services.data.dask_workers=1",
    )
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="cache folder (images, wheelhouse)")
    parser.add_argument(
        "--scale",
        type=int,
        default=None,
        help="Dask workers for the scale step (default: one more than the plan's)",
    )
    parser.add_argument(
        "--hold",
        type=int,
        default=0,
        metavar="SECONDS",
        help="keep the platform up this long after the journey, to look around",
    )
    args = parser.parse_args(argv)
    try:
        for text in args.sets:
            parse_override(text)
    except StackFileError as exc:
        print(error_line("box", exc), file=sys.stderr)
        return BAD_INPUT
    if os.geteuid() != 0:
        print(error_line("box", "run as root (it starts its own Docker engine)"), file=sys.stderr)
        return BAD_INPUT
    run = Run(
        progress=Progress(),
        layout=Layout(args.cache),
        stack=args.stack,
        overrides=[*BOX_OVERRIDES, *args.sets],
    )
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    code = 1
    try:
        code = _run(run, args.scale, args.hold)
    except (KeyboardInterrupt, Interrupted) as exc:
        run.progress.say(f"interrupted ({type(exc).__name__} {exc}); tearing down")
        run.failed_steps.append("interrupted")
        code = INTERRUPTED
    except (BoxError, docker.errors.DockerException) as exc:
        run.progress.say(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print_report(run)
        _teardown(run)
    if code == 0 and run.failed_steps:
        code = 1
    verdict = "passed" if code == 0 else "FAILED: " + ", ".join(run.failed_steps or ["setup"])
    print(f"box: journey {verdict} in {time.monotonic() - run.progress.start:.0f} s", file=sys.stderr)
    return code


def _run(run: Run, scale: int | None, hold: int) -> int:
    p = run.progress
    print("box: stack overrides for one machine (--set):", file=sys.stderr)
    for text in run.overrides:
        print(f"  {text}", file=sys.stderr)
    print("box: image substitutions (infra/box/images.py IMAGES):", file=sys.stderr)
    for line in table_lines():
        print(f"  {line}", file=sys.stderr)

    with p.step(f"plan: evaluate the {run.stack} stack offline, generated secrets fresh for this run"):
        run.plan = evaluate_plan(run.stack, run.overrides, run.run_key)
        services = run.plan.manifest.of_type(SERVICE_TYPE)
        p.say(f"{len(run.plan.manifest.resources)} resources, {len(services)} swarm services")

    with p.step("engine: start the box's own dockerd"):
        run.engine = Engine(run.layout)
        run.engine.start()
        p.say(f"dockerd pid {run.engine.process.pid if run.engine.process else '?'} on {run.layout.socket}")
    host = run.engine.api()

    with p.step("images: base, wheelhouse, the project's images and the stand-ins"):
        resolve_images(run, host)

    plan = run.plan
    runnable = [r for r in services if run.images[declared_image(r)].local is not None]
    endpoint_mode = endpoint_override(runnable, p.say)
    nodes = plan_nodes(plan.manifest)
    placed = [Placed(short_name(r), tuple(declared_constraints(r))) for r in runnable]
    hosted = hosted_nodes(nodes, placed)
    ports: dict[str, list[tuple[int, str]]] = {}
    for record in runnable:
        endpoint = (record.inputs.get("endpointSpec") or {}).get("ports") or []
        as_api = [
            {
                "PublishedPort": x.get("publishedPort"),
                "Protocol": x.get("protocol", "tcp"),
                "PublishMode": x.get("publishMode"),
            }
            for x in endpoint
        ]
        for node in hosted:
            if fits(declared_constraints(record), node):
                ports.setdefault(node.hostname, []).extend(published_ports(as_api))
                break

    with p.step(f"swarm: {len(hosted)} of the plan's {len(nodes)} nodes, labelled as the plan labels them"):
        run.cluster = Cluster(host, run.layout, run.images["(swarm node)"].local or "")
        run.cluster.start(hosted, ports, p.say)

    with p.step("images: load into the nodes that can run them"):
        load_images(run, host, runnable)

    with p.step("apply: the plan's networks, secrets, configs and services, one to one"):
        leader = run.cluster.leader
        run.applier = Applier(
            leader.api,
            image_for=lambda record, declared: run.images[declared].local or declared,
            runs=lambda record: run.images[declared_image(record)].local is not None,
            endpoint_mode=endpoint_mode,
            say=p.say,
        )
        deployment = run.applier.apply(plan)
        p.say(
            f"{len(deployment.created)} networks/secrets/configs, {len(deployment.services)} services created"
        )
        s3_stand_in(run, host)

    with p.step("converge: every created service runs within 6 minutes (jobs: judged by their step)"):
        names = {run.applier.deployment.specs[urn]["Name"]: sid for urn, sid in deployment.services.items()}
        jobs = {
            spec["Name"] for spec in deployment.specs.values() if spec["Labels"].get("deepcube.mode") == "job"
        }
        services = {name: sid for name, sid in names.items() if name not in jobs}
        run.problems = wait_converged(leader.api, services, set(), 360, p.say)
        for name in sorted(jobs):
            done = wait_converged(leader.api, {name: names[name]}, {name}, 0, lambda _: None)
            if done:
                run.problems[name] = "job not complete (yet): " + done[name]
            else:
                p.say(f"{name}: completed")
        run.running = set(names) - set(run.problems)
        for name, problem in sorted(run.problems.items()):
            p.say(f"{name}: NOT running: {problem}")
        # Not a verdict by itself: a job may wait for what the journey makes (the loader for the
        # cube), a service may need one that is declared only here; the steps using them judge.
        for name in sorted(run.problems):
            needs = declared_only_deps(run, name)
            if needs:
                run.problems[name] += f"; it needs {', '.join(needs)}, declared only here"

    platform = Platform(
        manifest=plan.manifest,
        engine_for=lambda name, running=True: engine_for(run, name, running),
        running=run.running,
        domain=_domain(plan),
    )
    _journey_step(run, "a. homepage through the gateway", lambda: step_homepage(platform, p.say))
    cube: dict = {}
    _journey_step(
        run,
        "b. a cube built on the platform",
        lambda: cube.update(step_cube(platform, p.say, lambda r: ensure_running(run, r))),
    )
    if cube:
        _journey_step(
            run,
            "c. the cube loaded into PostGIS",
            lambda: step_load(platform, p.say, cube, lambda r: rerun_job(run, r)),
        )
    else:
        run.failed_steps.append("c. the cube loaded into PostGIS (no cube from b)")
    _journey_step(
        run,
        "d. Prometheus scrapes through Swarm discovery",
        lambda: step_metrics(platform, p.say, len(run.cluster.nodes) if run.cluster else 1),
    )
    _journey_step(run, "e. scale the Dask workers", lambda: scale_workers(run, platform, scale))
    if cube:
        _journey_step(
            run,
            "f. the fire-danger use case on the platform",
            lambda: step_usecase(platform, p.say, lambda r: ensure_running(run, r)),
        )
    else:
        run.failed_steps.append("f. the fire-danger use case on the platform (no cube from b)")
    if hold:
        p.say(f"holding the platform up for {hold} s (Ctrl-C to tear down now)")
        time.sleep(hold)
    return 0 if not run.failed_steps else 1


def _journey_step(run: Run, title: str, action: Callable[[], None]) -> None:
    with run.progress.step(f"journey {title}"):
        try:
            action()
        except (StepFailed, BoxError, docker.errors.APIError) as exc:
            run.progress.say(f"FAILED: {exc}")
            run.failed_steps.append(title)
            return
        except Exception as exc:  # an unforeseen fault still names its step, and teardown follows
            run.progress.say(f"FAILED: {type(exc).__name__}: {exc}")
            run.failed_steps.append(title)
            return
    run.passed_steps.append(title)


def _domain(plan: BoxPlan) -> str:
    url = str(plan.manifest.outputs.get("homepage_url") or "")
    return urlsplit(url).hostname or ""


def _teardown(run: Run) -> None:
    p = run.progress
    p.say("teardown: services, swarm, node containers, engine, interfaces")
    if run.cluster is not None:
        try:
            run.cluster.stop()
        except Exception as exc:
            p.say(f"teardown of the nodes: {exc}")
    if run.engine is not None:
        if run.cluster is None:
            try:
                Cluster(run.engine.api(timeout=30), run.layout, "").remove_leftovers()
            except Exception as exc:
                p.say(f"teardown of leftovers: {exc}")
        run.engine.stop()
        removed = run.engine.cleanup_links()
        if removed:
            p.say(f"removed interfaces: {', '.join(removed)}")
