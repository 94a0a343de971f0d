"""What the journey does to the swarm's services: start a template, run a job again, scale the
Dask workers through the stack config, find the engine of the node a service runs on."""

from __future__ import annotations

import time

import docker
from infra.box.apply import create_kwargs, wait_converged
from infra.box.journey import Platform, StepFailed, step_cube
from infra.box.nodes import Node
from infra.box.plan import evaluate_plan
from infra.box.records import SERVICE_TYPE, declared_image, short_name
from infra.box.run_state import Run
from infra.manifest import ResourceRecord


def ensure_running(run: Run, record: ResourceRecord) -> None:
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


def rerun_job(run: Run, record: ResourceRecord) -> None:
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
            said = last_log_lines(api, service_id)
            raise StepFailed(f"{name} failed {len(failed)} times: {failed[-1]}; {said}")
        time.sleep(2)
    raise StepFailed(f"{name} did not complete within 5 minutes")


def last_log_lines(api: docker.APIClient, service_id: str, lines: int = 6) -> str:
    """What the failed job said last (its logs live on the node that ran it; a manager reads them)."""
    try:
        raw = api.service_logs(service_id, stdout=True, stderr=True, tail=lines)
        text = b"".join(raw).decode(errors="replace") if not isinstance(raw, bytes) else raw.decode()
    except docker.errors.APIError as exc:
        return f"(no logs: {exc})"
    return "last log lines: " + " | ".join(line.strip() for line in text.splitlines()[-lines:])


def scale_workers(run: Run, platform: Platform, scale: int | None) -> None:
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
    result = step_cube(platform, p.say, lambda r: ensure_running(run, r))
    p.say(f"step b again with {target} workers: cube {result['dims']} on {result['workers']} workers")


def declared_only_deps(run: Run, swarm_name: str) -> list[str]:
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


def engine_for(run: Run, service_name: str, running: bool = True) -> docker.APIClient:
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
