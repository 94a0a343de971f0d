"""Apply the plan's swarm records to the box's swarm through the Docker Engine API, one to one.

Networks, then secrets and configs, then services in the order the program makes Pulumi create them
(a service after the services it depends on). Secrets get the run's values from memory; configs get
the plan's own data. A service whose image cannot be had here is not created: it is reported as
declared only. Re-applying a later plan of the same run updates exactly the services whose
translated spec changed, and says which.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker
from infra.box import BoxError
from infra.box.object_specs import network_spec, object_name
from infra.box.plan import BoxPlan
from infra.box.records import CONFIG_TYPE, NETWORK_TYPE, SECRET_TYPE, SERVICE_TYPE
from infra.box.service_spec import ImageFor, service_spec
from infra.box.spec_inputs import Created, Refs
from infra.manifest import ResourceRecord


def service_order(records: list[ResourceRecord]) -> list[ResourceRecord]:
    """Services after the services they depend on (Pulumi's creation order), else by URN."""
    by_urn = {r.urn: r for r in records}
    done: list[ResourceRecord] = []
    seen: set[str] = set()

    def visit(record: ResourceRecord, path: tuple[str, ...]) -> None:
        if record.urn in seen:
            return
        if record.urn in path:
            raise BoxError(f"services depend on each other in a cycle: {record.name}")
        for dep in record.dependencies:
            if dep in by_urn:
                visit(by_urn[dep], (*path, record.urn))
        seen.add(record.urn)
        done.append(record)

    for record in sorted(records, key=lambda r: r.urn):
        visit(record, ())
    return done


def create_kwargs(spec: dict[str, Any]) -> dict[str, Any]:
    """An Engine API ServiceSpec as `APIClient.create_service` / `update_service` keywords."""
    return {
        "name": spec["Name"],
        "labels": spec.get("Labels"),
        "task_template": spec["TaskTemplate"],
        "mode": spec.get("Mode"),
        "update_config": spec.get("UpdateConfig"),
        "rollback_config": spec.get("RollbackConfig"),
        "endpoint_spec": spec.get("EndpointSpec"),
    }


@dataclass
class Deployment:
    """What the box created on the swarm for one plan."""

    created: dict[str, Created] = field(default_factory=dict)
    """Network, secret and config record URN -> the swarm object."""
    services: dict[str, str] = field(default_factory=dict)
    """Service record URN -> service id."""
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Service record URN -> the spec the box applied."""


class Applier:
    """Creates the plan's swarm objects on the leader's engine."""

    def __init__(
        self,
        api: docker.APIClient,
        image_for: ImageFor,
        runs: Callable[[ResourceRecord], bool],
        endpoint_mode: str | None,
        say: Callable[[str], None],
    ) -> None:
        self.api = api
        self.image_for = image_for
        self.runs = runs
        self.endpoint_mode = endpoint_mode
        self.say = say
        self.deployment = Deployment()

    def apply(self, plan: BoxPlan) -> Deployment:
        manifest = plan.manifest
        for record in manifest.of_type(NETWORK_TYPE):
            self._network(record)
        for record in manifest.of_type(SECRET_TYPE):
            self._secret(record, plan)
        for record in manifest.of_type(CONFIG_TYPE):
            self._config(record)
        refs = Refs(manifest.resources, self.deployment.created)
        for record in service_order(manifest.of_type(SERVICE_TYPE)):
            if not self.runs(record):
                continue
            spec = service_spec(record, refs, self.image_for, self.endpoint_mode)
            try:
                result = self.api.create_service(**create_kwargs(spec))
            except docker.errors.APIError as exc:
                raise BoxError(f"{record.name}: the engine refused the service: {exc.explanation}") from exc
            self.deployment.services[record.urn] = result["ID"]
            self.deployment.specs[record.urn] = spec
        return self.deployment

    def reapply(self, plan: BoxPlan) -> list[str]:
        """Bring the swarm to a later plan; returns the URNs of the services that changed."""
        manifest = plan.manifest
        for record in manifest.of_type(NETWORK_TYPE):
            if record.urn not in self.deployment.created:
                self._network(record)
        for record in manifest.of_type(SECRET_TYPE):
            if record.urn not in self.deployment.created:
                self._secret(record, plan)
        for record in manifest.of_type(CONFIG_TYPE):
            current = self.deployment.created.get(record.urn)
            if current is None or current.name != record.inputs.get("name"):
                self._config(record)
        refs = Refs(manifest.resources, self.deployment.created)
        changed = []
        for record in service_order(manifest.of_type(SERVICE_TYPE)):
            if not self.runs(record):
                continue
            spec = service_spec(record, refs, self.image_for, self.endpoint_mode)
            if self.deployment.specs.get(record.urn) == spec:
                continue
            service_id = self.deployment.services.get(record.urn)
            if service_id is None:
                self.deployment.services[record.urn] = self.api.create_service(**create_kwargs(spec))["ID"]
            else:
                version = self.api.inspect_service(service_id)["Version"]["Index"]
                self.api.update_service(service_id, version, **create_kwargs(spec), fetch_current_spec=False)
            self.deployment.specs[record.urn] = spec
            changed.append(record.urn)
        return changed

    def _network(self, record: ResourceRecord) -> None:
        kwargs = network_spec(record)
        result = self.api.create_network(**kwargs)
        self.deployment.created[record.urn] = Created(record.urn, result["Id"], kwargs["name"])

    def _secret(self, record: ResourceRecord, plan: BoxPlan) -> None:
        name = object_name(record)
        value = plan.secret_values.get(record.urn)
        if value is None:
            raise BoxError(f"{record.name}: the run has no value for this secret")
        result = self.api.create_secret(name, value, labels={"deepcube.box": "run"})
        self.deployment.created[record.urn] = Created(record.urn, result["ID"], name)

    def _config(self, record: ResourceRecord) -> None:
        name = object_name(record)
        data = base64.b64decode(str(record.inputs["data"]))
        result = self.api.create_config(name, data)
        self.deployment.created[record.urn] = Created(record.urn, result["ID"], name)


FAILED_TASKS = 5
"""A service whose tasks failed this often (and none runs) is reported instead of waited for."""


def tasks_state(api: docker.APIClient, service_id: str) -> list[dict[str, Any]]:
    """The service's tasks whose desired state is not shutdown (current ones)."""
    return [t for t in api.tasks(filters={"service": service_id}) if t["DesiredState"] != "shutdown"]


def wait_converged(
    api: docker.APIClient,
    services: dict[str, str],
    jobs: set[str],
    timeout_s: float,
    say: Callable[[str], None],
) -> dict[str, str]:
    """Wait until every service runs its tasks (jobs: completed); returns name -> problem for the rest."""
    deadline = time.monotonic() + timeout_s
    pending = dict(services)
    problems: dict[str, str] = {}
    given_up: dict[str, str] = {}
    while pending:  # at least one look, even with no time to wait
        for name, service_id in list(pending.items()):
            spec = api.inspect_service(service_id)["Spec"]
            tasks = tasks_state(api, service_id)
            wanted = spec["Mode"].get("Replicated", {}).get("Replicas")
            if name in jobs:
                every = api.tasks(filters={"service": service_id})
                ok = any(t["Status"]["State"] == "complete" for t in every)
            else:
                running = [t for t in tasks if t["Status"]["State"] == "running"]
                ok = wanted == 0 or (bool(running) and (wanted is None or len(running) == wanted))
            if ok:
                del pending[name]
                say(f"{name}: {'completed' if name in jobs else 'running'}")
            else:
                states = sorted({t["Status"]["State"] for t in tasks}) or ["no task"]
                every = api.tasks(filters={"service": service_id})
                failed = [t for t in every if t["Status"]["State"] in ("failed", "rejected")]
                errors = sorted({t["Status"].get("Err", "") for t in [*tasks, *failed]} - {""})
                problems[name] = ", ".join(states) + (f" ({errors[0]})" if errors else "")
                if len(failed) >= FAILED_TASKS and name not in jobs:
                    given_up[name] = f"{len(failed)} tasks failed ({errors[0] if errors else '?'})"
                    del pending[name]
                    say(f"{name}: gave up after {len(failed)} failed tasks")
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(1)
    left = {name: problems.get(name, "not converged") for name in pending}
    return {**given_up, **left}
