"""Plan records -> Docker Engine API specs, one to one and nothing else (pure functions).

The records carry pulumi-docker's inputs in their wire names (`taskSpec.containerSpec.mounts[]`,
`endpointSpec.ports[].publishMode`, Go duration strings...). The provider turns them into Engine API
service specs; this module does the same for the box, field by field. A field it does not know
raises `SpecError` instead of being dropped: a service the box starts must be the service the
program declares, so a new input must be translated here before the box can apply it.

References between records (a service's network, config and secret ids) are offline stand-in ids:
they are resolved to the records they name (checked against the service's recorded dependencies)
and from there to the ids Docker gave the objects the box created for those records.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.manifest import ResourceRecord, is_secret
from infra.mock_engine import stable_token

NETWORK_TYPE = "docker:index/network:Network"
SECRET_TYPE = "docker:index/secret:Secret"
CONFIG_TYPE = "docker:index/serviceConfig:ServiceConfig"
SERVICE_TYPE = "docker:index/service:Service"
IMAGE_TYPE = "docker:index/image:Image"
SWARM_TYPES = (NETWORK_TYPE, SECRET_TYPE, CONFIG_TYPE, SERVICE_TYPE)

FILE_DEFAULTS = {"UID": "0", "GID": "0", "Mode": 0o444}
"""pulumi-docker's defaults for a mounted config or secret file (owner root, mode 0444)."""

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}


class SpecError(ValueError):
    """A record cannot be translated faithfully; the message names the record and the field."""


def go_duration_ns(text: str, *, where: str = "duration") -> int:
    """A Go duration string (`30s`, `1m30s`, `0s`) in nanoseconds, as the Engine API wants it."""
    if text in ("0", ""):
        return 0
    pos = 0
    total = 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_NS[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        raise SpecError(f"{where}: {text!r} is not a duration like 30s or 1m30s")
    return round(total)


def mock_id(record: ResourceRecord) -> str:
    """The id the offline plan gave this record (`infra.mock_engine.PlanMocks.new_resource`)."""
    return f"{record.name}-{stable_token(record.type, record.name)}"


@dataclass(frozen=True)
class Created:
    """A swarm object the box created for a plan record."""

    urn: str
    id: str
    name: str


class Refs:
    """Resolves the plan's stand-in ids to the objects created for them, checking dependencies."""

    def __init__(self, records: list[ResourceRecord], created: Mapping[str, Created]) -> None:
        self._by_mock_id = {mock_id(r): r for r in records if r.type in SWARM_TYPES}
        self._created = created

    def resolve(self, service: ResourceRecord, ref: str, type_: str, where: str) -> Created:
        """The created object behind the stand-in id `ref` that `service` names at `where`."""
        record = self._by_mock_id.get(ref)
        if record is None or record.type != type_:
            raise SpecError(f"{service.name}: {where} names {ref!r}, which is no {type_} of the plan")
        if record.urn not in service.dependencies:
            raise SpecError(f"{service.name}: {where} names {record.name} without depending on it")
        created = self._created.get(record.urn)
        if created is None:
            raise SpecError(f"{service.name}: {where} names {record.name}, which the box has not created")
        return created


class _Fields:
    """One input object being translated: every key must be taken, leftovers are errors."""

    def __init__(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise SpecError(f"{where}: expected an object, found {value!r}")
        self.value = value
        self.where = where
        self.taken: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.taken.add(key)
        return self.value.get(key, default)

    def require(self, key: str) -> Any:
        self.taken.add(key)
        if key not in self.value:
            raise SpecError(f"{self.where}.{key} is required")
        return self.value[key]

    def done(self) -> None:
        left = sorted(set(self.value) - self.taken)
        if left:
            raise SpecError(f"{self.where}: {', '.join(left)} not translated by the box")


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != [] and value != {}:
        target[key] = value


def labels(items: list[dict[str, str]] | None) -> dict[str, str]:
    """pulumi-docker's `[{label, value}]` -> the Engine API's label map."""
    return {item["label"]: item["value"] for item in items or []}


def network_spec(record: ResourceRecord) -> dict[str, Any]:
    """Keyword arguments of `APIClient.create_network` for a Network record."""
    f = _Fields(record.inputs, record.name)
    spec: dict[str, Any] = {"name": f.require("name"), "driver": f.get("driver", "bridge")}
    spec["attachable"] = bool(f.get("attachable", False))
    spec["internal"] = bool(f.get("internal", False))
    spec["labels"] = labels(f.get("labels"))
    _put(spec, "options", f.get("options"))
    spec["check_duplicate"] = True
    f.done()
    return spec


def object_name(record: ResourceRecord) -> str:
    """The Swarm name of a config or secret record; its data is created separately."""
    f = _Fields(record.inputs, record.name)
    name = f.require("name")
    data = f.require("data")
    f.get("labels")
    f.done()
    if record.type == CONFIG_TYPE and is_secret(data):
        raise SpecError(f"{record.name}: a config with secret data should be a secret")
    return name


def _file(f: _Fields) -> dict[str, Any]:
    return {
        "Name": f.require("fileName"),
        "UID": str(f.get("fileUid") or FILE_DEFAULTS["UID"]),
        "GID": str(f.get("fileGid") or FILE_DEFAULTS["GID"]),
        "Mode": int(f.get("fileMode") if f.get("fileMode") is not None else FILE_DEFAULTS["Mode"]),
    }


def _mount(value: Any, where: str) -> dict[str, Any]:
    f = _Fields(value, where)
    mount = {"Type": f.require("type"), "Source": f.get("source"), "Target": f.require("target")}
    mount["ReadOnly"] = bool(f.get("readOnly", False))
    if (bind := f.get("bindOptions")) is not None:
        b = _Fields(bind, f"{where}.bindOptions")
        mount["BindOptions"] = {"Propagation": b.require("propagation")}
        b.done()
    if (volume := f.get("volumeOptions")) is not None:
        v = _Fields(volume, f"{where}.volumeOptions")
        options: dict[str, Any] = {}
        _put(options, "NoCopy", v.get("noCopy"))
        _put(options, "Labels", labels(v.get("labels")))
        if v.get("driverName") is not None:
            options["DriverConfig"] = {"Name": v.get("driverName"), "Options": v.get("driverOptions") or {}}
        else:
            v.get("driverOptions")
        v.done()
        mount["VolumeOptions"] = options
    if (tmpfs := f.get("tmpfsOptions")) is not None:
        t = _Fields(tmpfs, f"{where}.tmpfsOptions")
        options = {}
        _put(options, "SizeBytes", t.get("sizeBytes"))
        _put(options, "Mode", t.get("mode"))
        t.done()
        mount["TmpfsOptions"] = options
    f.done()
    return {k: v for k, v in mount.items() if v is not None}


def _healthcheck(value: Any, where: str) -> dict[str, Any]:
    f = _Fields(value, where)
    check: dict[str, Any] = {"Test": list(f.require("tests"))}
    for key, api in (("interval", "Interval"), ("timeout", "Timeout"), ("startPeriod", "StartPeriod")):
        if (text := f.get(key)) is not None:
            check[api] = go_duration_ns(text, where=f"{where}.{key}")
    _put(check, "Retries", f.get("retries"))
    f.done()
    return check


def _container_spec(service: ResourceRecord, value: Any, refs: Refs, image: str) -> dict[str, Any]:
    where = f"{service.name}: taskSpec.containerSpec"
    f = _Fields(value, where)
    f.require("image")
    spec: dict[str, Any] = {"Image": image}
    _put(spec, "Command", f.get("commands"))
    _put(spec, "Args", f.get("args"))
    env = f.get("env") or {}
    if any(is_secret(v) for v in env.values()):
        raise SpecError(f"{where}.env carries a secret value; mount it as a secret instead")
    _put(spec, "Env", [f"{key}={env[key]}" for key in sorted(env)])
    plain = (("user", "User"), ("dir", "Dir"), ("hostname", "Hostname"), ("stopSignal", "StopSignal"))
    for key, api in plain:
        _put(spec, api, f.get(key))
    _put(spec, "Groups", f.get("groups"))
    if f.get("readOnly"):
        spec["ReadOnly"] = True
    if (grace := f.get("stopGracePeriod")) is not None:
        spec["StopGracePeriod"] = go_duration_ns(grace, where=f"{where}.stopGracePeriod")
    mounts = f.get("mounts") or []
    _put(spec, "Mounts", [_mount(m, f"{where}.mounts[{i}]") for i, m in enumerate(mounts)])
    configs = []
    for i, item in enumerate(f.get("configs") or []):
        c = _Fields(item, f"{where}.configs[{i}]")
        created = refs.resolve(service, c.require("configId"), CONFIG_TYPE, f"configs[{i}]")
        if c.get("configName") != created.name:
            raise SpecError(f"{where}.configs[{i}]: name {c.get('configName')!r} is not {created.name!r}")
        configs.append({"File": _file(c), "ConfigID": created.id, "ConfigName": created.name})
        c.done()
    _put(spec, "Configs", configs)
    secrets = []
    for i, item in enumerate(f.get("secrets") or []):
        s = _Fields(item, f"{where}.secrets[{i}]")
        created = refs.resolve(service, s.require("secretId"), SECRET_TYPE, f"secrets[{i}]")
        if s.get("secretName") != created.name:
            raise SpecError(f"{where}.secrets[{i}]: name {s.get('secretName')!r} is not {created.name!r}")
        secrets.append({"File": _file(s), "SecretID": created.id, "SecretName": created.name})
        s.done()
    _put(spec, "Secrets", secrets)
    if (check := f.get("healthcheck")) is not None:
        spec["HealthCheck"] = _healthcheck(check, f"{where}.healthcheck")
    if (hosts := f.get("hosts")) is not None:
        spec["Hosts"] = [f"{h['ip']} {h['host']}" for h in hosts]
    _put(spec, "Sysctls", f.get("sysctl"))
    f.done()
    return spec


def _resources(value: Any, where: str) -> dict[str, Any]:
    f = _Fields(value, where)
    out: dict[str, Any] = {}
    for key, api in (("limits", "Limits"), ("reservation", "Reservations")):
        part = f.get(key)
        if part is None:
            continue
        p = _Fields(part, f"{where}.{key}")
        entry: dict[str, Any] = {}
        _put(entry, "NanoCPUs", p.get("nanoCpus"))
        _put(entry, "MemoryBytes", p.get("memoryBytes"))
        if key == "reservation" and (generic := p.get("genericResources")) is not None:
            g = _Fields(generic, f"{where}.{key}.genericResources")
            specs = []
            for text in g.get("discreteResourcesSpecs") or []:
                kind, _, count = text.partition("=")
                specs.append({"DiscreteResourceSpec": {"Kind": kind, "Value": int(count)}})
            for text in g.get("namedResourcesSpecs") or []:
                kind, _, value_ = text.partition("=")
                specs.append({"NamedResourceSpec": {"Kind": kind, "Value": value_}})
            g.done()
            _put(entry, "GenericResources", specs)
        p.done()
        out[api] = entry
    f.done()
    return out


def _restart_policy(value: Any, where: str) -> dict[str, Any]:
    f = _Fields(value, where)
    policy: dict[str, Any] = {"Condition": f.get("condition", "any")}
    for key, api in (("delay", "Delay"), ("window", "Window")):
        if (text := f.get(key)) is not None:
            policy[api] = go_duration_ns(text, where=f"{where}.{key}")
    _put(policy, "MaxAttempts", f.get("maxAttempts"))
    f.done()
    return policy


def _rollout(value: Any, where: str) -> dict[str, Any]:
    """updateConfig / rollbackConfig: same shape in both."""
    f = _Fields(value, where)
    out: dict[str, Any] = {}
    _put(out, "Parallelism", f.get("parallelism"))
    for key, api in (("delay", "Delay"), ("monitor", "Monitor")):
        if (text := f.get(key)) is not None:
            out[api] = go_duration_ns(text, where=f"{where}.{key}")
    _put(out, "FailureAction", f.get("failureAction"))
    if (ratio := f.get("maxFailureRatio")) is not None:
        out["MaxFailureRatio"] = float(ratio)
    _put(out, "Order", f.get("order"))
    f.done()
    return out


def _placement(value: Any, where: str) -> dict[str, Any]:
    f = _Fields(value, where)
    out: dict[str, Any] = {}
    _put(out, "Constraints", f.get("constraints"))
    prefs = f.get("prefs") or []
    _put(out, "Preferences", [{"Spread": {"SpreadDescriptor": p}} for p in prefs])
    _put(out, "MaxReplicas", f.get("maxReplicas"))
    platforms = f.get("platforms") or []
    _put(out, "Platforms", [{"Architecture": p["architecture"], "OS": p["os"]} for p in platforms])
    f.done()
    return out


def _endpoint(value: Any, where: str, mode: str | None) -> dict[str, Any]:
    f = _Fields(value, where)
    out: dict[str, Any] = {"Mode": mode or f.get("mode", "vip")}
    f.get("mode")
    ports = []
    for i, item in enumerate(f.get("ports") or []):
        p = _Fields(item, f"{where}.ports[{i}]")
        port: dict[str, Any] = {
            "Protocol": p.get("protocol", "tcp"),
            "TargetPort": p.require("targetPort"),
        }
        _put(port, "PublishedPort", p.get("publishedPort"))
        _put(port, "PublishMode", p.get("publishMode"))
        _put(port, "Name", p.get("name"))
        p.done()
        ports.append(port)
    _put(out, "Ports", ports)
    f.done()
    return out


def _mode(value: Any, where: str) -> dict[str, Any]:
    f = _Fields(value or {"replicated": {"replicas": 1}}, where)
    global_ = f.get("global")
    replicated = f.get("replicated")
    f.done()
    if global_:
        return {"Global": {}}
    r = _Fields(replicated or {}, f"{where}.replicated")
    replicas = r.get("replicas", 1)
    r.done()
    return {"Replicated": {"Replicas": int(replicas)}}


ImageFor = Callable[[ResourceRecord, str], str]
"""(service record, declared image) -> the image reference the box runs."""


def service_spec(
    record: ResourceRecord, refs: Refs, image_for: ImageFor, endpoint_mode: str | None = None
) -> dict[str, Any]:
    """The Engine API ServiceSpec of a Service record (`POST /services/create` body).

    `endpoint_mode` replaces the declared endpoint mode when the box must override it (printed by
    the caller); None keeps the declared one.
    """
    f = _Fields(record.inputs, record.name)
    spec: dict[str, Any] = {"Name": f.require("name"), "Labels": labels(f.get("labels"))}
    t = _Fields(f.require("taskSpec"), f"{record.name}: taskSpec")
    container = t.require("containerSpec")
    image = image_for(record, str(container.get("image")) if isinstance(container, dict) else "")
    task: dict[str, Any] = {"ContainerSpec": _container_spec(record, container, refs, image)}
    networks = []
    for i, item in enumerate(t.get("networksAdvanceds") or []):
        n = _Fields(item, f"{record.name}: taskSpec.networksAdvanceds[{i}]")
        # pulumi-docker sends the network's id under `id` (older releases: `name`).
        ref = n.require("id") if "id" in n.value else n.require("name")
        created = refs.resolve(record, ref, NETWORK_TYPE, f"networksAdvanceds[{i}]")
        entry: dict[str, Any] = {"Target": created.id}
        _put(entry, "Aliases", n.get("aliases"))
        _put(entry, "DriverOpts", n.get("driverOpts"))
        n.done()
        networks.append(entry)
    _put(task, "Networks", networks)
    if (placement := t.get("placement")) is not None:
        task["Placement"] = _placement(placement, f"{record.name}: taskSpec.placement")
    if (resources := t.get("resources")) is not None:
        task["Resources"] = _resources(resources, f"{record.name}: taskSpec.resources")
    if (restart := t.get("restartPolicy")) is not None:
        task["RestartPolicy"] = _restart_policy(restart, f"{record.name}: taskSpec.restartPolicy")
    if (log := t.get("logDriver")) is not None:
        task["LogDriver"] = {"Name": log["name"], "Options": log.get("options") or {}}
    _put(task, "ForceUpdate", t.get("forceUpdate"))
    _put(task, "Runtime", t.get("runtime"))
    t.done()
    spec["TaskTemplate"] = task
    spec["Mode"] = _mode(f.get("mode"), f"{record.name}: mode")
    if (update := f.get("updateConfig")) is not None:
        spec["UpdateConfig"] = _rollout(update, f"{record.name}: updateConfig")
    if (rollback := f.get("rollbackConfig")) is not None:
        spec["RollbackConfig"] = _rollout(rollback, f"{record.name}: rollbackConfig")
    endpoint = f.get("endpointSpec")
    if endpoint is not None or endpoint_mode is not None:
        spec["EndpointSpec"] = _endpoint(endpoint or {}, f"{record.name}: endpointSpec", endpoint_mode)
    f.get("convergeConfig")  # the provider's own wait for convergence; the box waits itself
    f.done()
    return spec


def declared_endpoint_mode(record: ResourceRecord) -> str:
    """The endpoint mode the record declares (Swarm's default is `vip`)."""
    return str((record.inputs.get("endpointSpec") or {}).get("mode") or "vip")


def declared_image(record: ResourceRecord) -> str:
    return str(record.inputs["taskSpec"]["containerSpec"]["image"])


def short_name(record: ResourceRecord) -> str:
    """The catalogue name of a service record (its `deepcube.service` label, else its Swarm name)."""
    return labels(record.inputs.get("labels")).get("deepcube.service") or str(record.inputs["name"])


def declared_constraints(record: ResourceRecord) -> list[str]:
    """The placement constraints a Service record declares."""
    return list(((record.inputs.get("taskSpec") or {}).get("placement") or {}).get("constraints") or [])
