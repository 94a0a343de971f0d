"""A Service record -> the Engine API ServiceSpec the box creates it with (pure functions).

pulumi-docker turns a `docker:index/service:Service`'s inputs into an Engine API service spec; this
module does the same for the box, field by field: the task's container (mounts, configs, secrets,
health check), its networks, placement, resources and restart policy, then the service's mode,
rollout and endpoint. Every input object is read through `Fields`, so a field not translated here
is an error: the service the box starts must be the service the program declares.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infra.box.records import CONFIG_TYPE, NETWORK_TYPE, SECRET_TYPE, labels
from infra.box.spec_inputs import Fields, Refs, SpecError, go_duration_ns, put, put_durations
from infra.manifest import ResourceRecord, is_secret

FILE_DEFAULTS = {"UID": "0", "GID": "0", "Mode": 0o444}
"""pulumi-docker's defaults for a mounted config or secret file (owner root, mode 0444)."""


def _file(f: Fields) -> dict[str, Any]:
    return {
        "Name": f.require("fileName"),
        "UID": str(f.get("fileUid") or FILE_DEFAULTS["UID"]),
        "GID": str(f.get("fileGid") or FILE_DEFAULTS["GID"]),
        "Mode": int(f.get("fileMode") if f.get("fileMode") is not None else FILE_DEFAULTS["Mode"]),
    }


def _mount(value: Any, where: str) -> dict[str, Any]:
    f = Fields(value, where)
    mount = {"Type": f.require("type"), "Source": f.get("source"), "Target": f.require("target")}
    mount["ReadOnly"] = bool(f.get("readOnly", False))
    if (bind := f.get("bindOptions")) is not None:
        b = Fields(bind, f"{where}.bindOptions")
        mount["BindOptions"] = {"Propagation": b.require("propagation")}
        b.done()
    if (volume := f.get("volumeOptions")) is not None:
        v = Fields(volume, f"{where}.volumeOptions")
        options: dict[str, Any] = {}
        put(options, "NoCopy", v.get("noCopy"))
        put(options, "Labels", labels(v.get("labels")))
        if v.get("driverName") is not None:
            options["DriverConfig"] = {"Name": v.get("driverName"), "Options": v.get("driverOptions") or {}}
        else:
            v.get("driverOptions")
        v.done()
        mount["VolumeOptions"] = options
    if (tmpfs := f.get("tmpfsOptions")) is not None:
        t = Fields(tmpfs, f"{where}.tmpfsOptions")
        options = {}
        put(options, "SizeBytes", t.get("sizeBytes"))
        put(options, "Mode", t.get("mode"))
        t.done()
        mount["TmpfsOptions"] = options
    f.done()
    return {k: v for k, v in mount.items() if v is not None}


def _healthcheck(value: Any, where: str) -> dict[str, Any]:
    f = Fields(value, where)
    check: dict[str, Any] = {"Test": list(f.require("tests"))}
    durations = (("interval", "Interval"), ("timeout", "Timeout"), ("startPeriod", "StartPeriod"))
    put_durations(f, check, durations)
    put(check, "Retries", f.get("retries"))
    f.done()
    return check


def _container_spec(service: ResourceRecord, value: Any, refs: Refs, image: str) -> dict[str, Any]:
    where = f"{service.name}: taskSpec.containerSpec"
    f = Fields(value, where)
    f.require("image")
    spec: dict[str, Any] = {"Image": image}
    put(spec, "Command", f.get("commands"))
    put(spec, "Args", f.get("args"))
    env = f.get("env") or {}
    if any(is_secret(v) for v in env.values()):
        raise SpecError(f"{where}.env carries a secret value; mount it as a secret instead")
    put(spec, "Env", [f"{key}={env[key]}" for key in sorted(env)])
    plain = (("user", "User"), ("dir", "Dir"), ("hostname", "Hostname"), ("stopSignal", "StopSignal"))
    for key, api in plain:
        put(spec, api, f.get(key))
    put(spec, "Groups", f.get("groups"))
    if f.get("readOnly"):
        spec["ReadOnly"] = True
    if (grace := f.get("stopGracePeriod")) is not None:
        spec["StopGracePeriod"] = go_duration_ns(grace, where=f"{where}.stopGracePeriod")
    mounts = f.get("mounts") or []
    put(spec, "Mounts", [_mount(m, f"{where}.mounts[{i}]") for i, m in enumerate(mounts)])
    configs = []
    for i, item in enumerate(f.get("configs") or []):
        c = Fields(item, f"{where}.configs[{i}]")
        created = refs.resolve(service, c.require("configId"), CONFIG_TYPE, f"configs[{i}]")
        if c.get("configName") != created.name:
            raise SpecError(f"{where}.configs[{i}]: name {c.get('configName')!r} is not {created.name!r}")
        configs.append({"File": _file(c), "ConfigID": created.id, "ConfigName": created.name})
        c.done()
    put(spec, "Configs", configs)
    secrets = []
    for i, item in enumerate(f.get("secrets") or []):
        s = Fields(item, f"{where}.secrets[{i}]")
        created = refs.resolve(service, s.require("secretId"), SECRET_TYPE, f"secrets[{i}]")
        if s.get("secretName") != created.name:
            raise SpecError(f"{where}.secrets[{i}]: name {s.get('secretName')!r} is not {created.name!r}")
        secrets.append({"File": _file(s), "SecretID": created.id, "SecretName": created.name})
        s.done()
    put(spec, "Secrets", secrets)
    if (check := f.get("healthcheck")) is not None:
        spec["HealthCheck"] = _healthcheck(check, f"{where}.healthcheck")
    if (hosts := f.get("hosts")) is not None:
        spec["Hosts"] = [f"{h['ip']} {h['host']}" for h in hosts]
    put(spec, "Sysctls", f.get("sysctl"))
    f.done()
    return spec


def _resources(value: Any, where: str) -> dict[str, Any]:
    f = Fields(value, where)
    out: dict[str, Any] = {}
    for key, api in (("limits", "Limits"), ("reservation", "Reservations")):
        part = f.get(key)
        if part is None:
            continue
        p = Fields(part, f"{where}.{key}")
        entry: dict[str, Any] = {}
        put(entry, "NanoCPUs", p.get("nanoCpus"))
        put(entry, "MemoryBytes", p.get("memoryBytes"))
        if key == "reservation" and (generic := p.get("genericResources")) is not None:
            g = Fields(generic, f"{where}.{key}.genericResources")
            specs = []
            for text in g.get("discreteResourcesSpecs") or []:
                kind, _, count = text.partition("=")
                specs.append({"DiscreteResourceSpec": {"Kind": kind, "Value": int(count)}})
            for text in g.get("namedResourcesSpecs") or []:
                kind, _, value_ = text.partition("=")
                specs.append({"NamedResourceSpec": {"Kind": kind, "Value": value_}})
            g.done()
            put(entry, "GenericResources", specs)
        p.done()
        out[api] = entry
    f.done()
    return out


def _restart_policy(value: Any, where: str) -> dict[str, Any]:
    f = Fields(value, where)
    policy: dict[str, Any] = {"Condition": f.get("condition", "any")}
    put_durations(f, policy, (("delay", "Delay"), ("window", "Window")))
    put(policy, "MaxAttempts", f.get("maxAttempts"))
    f.done()
    return policy


def _rollout(value: Any, where: str) -> dict[str, Any]:
    """updateConfig / rollbackConfig: same shape in both."""
    f = Fields(value, where)
    out: dict[str, Any] = {}
    put(out, "Parallelism", f.get("parallelism"))
    put_durations(f, out, (("delay", "Delay"), ("monitor", "Monitor")))
    put(out, "FailureAction", f.get("failureAction"))
    if (ratio := f.get("maxFailureRatio")) is not None:
        out["MaxFailureRatio"] = float(ratio)
    put(out, "Order", f.get("order"))
    f.done()
    return out


def _placement(value: Any, where: str) -> dict[str, Any]:
    f = Fields(value, where)
    out: dict[str, Any] = {}
    put(out, "Constraints", f.get("constraints"))
    prefs = f.get("prefs") or []
    put(out, "Preferences", [{"Spread": {"SpreadDescriptor": p}} for p in prefs])
    put(out, "MaxReplicas", f.get("maxReplicas"))
    platforms = f.get("platforms") or []
    put(out, "Platforms", [{"Architecture": p["architecture"], "OS": p["os"]} for p in platforms])
    f.done()
    return out


def _endpoint(value: Any, where: str, mode: str | None) -> dict[str, Any]:
    f = Fields(value, where)
    out: dict[str, Any] = {"Mode": mode or f.get("mode", "vip")}
    f.get("mode")
    ports = []
    for i, item in enumerate(f.get("ports") or []):
        p = Fields(item, f"{where}.ports[{i}]")
        port: dict[str, Any] = {
            "Protocol": p.get("protocol", "tcp"),
            "TargetPort": p.require("targetPort"),
        }
        put(port, "PublishedPort", p.get("publishedPort"))
        put(port, "PublishMode", p.get("publishMode"))
        put(port, "Name", p.get("name"))
        p.done()
        ports.append(port)
    put(out, "Ports", ports)
    f.done()
    return out


def _mode(value: Any, where: str) -> dict[str, Any]:
    f = Fields(value or {"replicated": {"replicas": 1}}, where)
    global_ = f.get("global")
    replicated = f.get("replicated")
    f.done()
    if global_:
        return {"Global": {}}
    r = Fields(replicated or {}, f"{where}.replicated")
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
    f = Fields(record.inputs, record.name)
    spec: dict[str, Any] = {"Name": f.require("name"), "Labels": labels(f.get("labels"))}
    t = Fields(f.require("taskSpec"), f"{record.name}: taskSpec")
    container = t.require("containerSpec")
    image = image_for(record, str(container.get("image")) if isinstance(container, dict) else "")
    task: dict[str, Any] = {"ContainerSpec": _container_spec(record, container, refs, image)}
    networks = []
    for i, item in enumerate(t.get("networksAdvanceds") or []):
        n = Fields(item, f"{record.name}: taskSpec.networksAdvanceds[{i}]")
        # pulumi-docker sends the network's id under `id` (older releases: `name`).
        ref = n.require("id") if "id" in n.value else n.require("name")
        created = refs.resolve(record, ref, NETWORK_TYPE, f"networksAdvanceds[{i}]")
        entry: dict[str, Any] = {"Target": created.id}
        put(entry, "Aliases", n.get("aliases"))
        put(entry, "DriverOpts", n.get("driverOpts"))
        n.done()
        networks.append(entry)
    put(task, "Networks", networks)
    if (placement := t.get("placement")) is not None:
        task["Placement"] = _placement(placement, f"{record.name}: taskSpec.placement")
    if (resources := t.get("resources")) is not None:
        task["Resources"] = _resources(resources, f"{record.name}: taskSpec.resources")
    if (restart := t.get("restartPolicy")) is not None:
        task["RestartPolicy"] = _restart_policy(restart, f"{record.name}: taskSpec.restartPolicy")
    if (log := t.get("logDriver")) is not None:
        task["LogDriver"] = {"Name": log["name"], "Options": log.get("options") or {}}
    put(task, "ForceUpdate", t.get("forceUpdate"))
    put(task, "Runtime", t.get("runtime"))
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
