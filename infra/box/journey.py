"""The user journey on the box's swarm: each step asserts what a user would see.

Steps reach the platform the way a user or an operator does: the gateway on 127.0.0.1 (as the
node's public address), and `docker exec` into the services' own containers for what only runs
inside the swarm (a notebook's shell, the monitoring API behind the identity gate). Everything a step
needs about the platform (routes, module list, cube locations, credentials wiring) is read from the
plan, never restated here.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import docker
from infra.box import BoxError
from infra.box.records import SERVICE_TYPE
from infra.box.records import labels as label_map
from infra.manifest import Manifest, ResourceRecord


class StepFailed(BoxError):
    """A journey step saw something other than what it asserts; the message says what."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: str


def https_get(host: str, port: int, server_name: str, path: str, cafile_pem: str | None) -> Response:
    """GET over TLS to host:port with SNI and Host `server_name`, verified against `cafile_pem`."""
    context = (
        ssl.create_default_context(cadata=cafile_pem) if cafile_pem else ssl._create_unverified_context()
    )
    raw = socket.create_connection((host, port), timeout=15)
    wrapped = context.wrap_socket(raw, server_hostname=server_name)
    conn = http.client.HTTPConnection(server_name, port, timeout=15)
    conn.sock = wrapped
    conn.request("GET", path, headers={"Host": server_name, "User-Agent": "deepcube-box"})
    resp = conn.getresponse()
    body = resp.read().decode(errors="replace")
    conn.close()
    return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)


def exec_in(api: docker.APIClient, container: str, cmd: list[str], user: str = "") -> tuple[int, str]:
    """Run a command in a container; (exit code, combined output)."""
    created = api.exec_create(container, cmd, user=user)
    output = api.exec_start(created["Id"]).decode(errors="replace")
    return int(api.exec_inspect(created["Id"])["ExitCode"] or 0), output


def task_container(api: docker.APIClient, service_name: str, timeout_s: float = 60) -> str:
    """The id of a running container of a service on this node's engine."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = api.containers(filters={"label": f"com.docker.swarm.service.name={service_name}"})
        if found:
            return str(found[0]["Id"])
        time.sleep(1)
    raise StepFailed(f"no running container of {service_name} on this node")


def plan_service(manifest: Manifest, short: str) -> ResourceRecord | None:
    for record in manifest.of_type(SERVICE_TYPE):
        if label_map(record.inputs.get("labels")).get("deepcube.service") == short:
            return record
    return None


@dataclass
class Platform:
    """What the steps need from the running box."""

    manifest: Manifest
    engine_for: Callable[..., docker.APIClient]
    """(swarm service name, running=True) -> the engine of a node running (or that ran) its task."""
    running: set[str]
    """Swarm names of the services running now."""
    domain: str


def step_homepage(p: Platform, say: Callable[[str], None]) -> None:
    """a. The homepage through Caddy on 127.0.0.1 lists the modules; a protected route is refused."""
    caddy = plan_service(p.manifest, "caddy")
    if caddy is None or caddy.inputs["name"] not in p.running:
        raise StepFailed("the gateway (caddy) is not running")
    api = p.engine_for(caddy.inputs["name"])
    container = task_container(api, caddy.inputs["name"])
    code, root_pem = exec_in(api, container, ["cat", "/data/caddy/pki/authorities/local/root.crt"])
    if code != 0:
        raise StepFailed(f"Caddy has no local CA for {p.domain}: {root_pem.strip()[:200]}")
    deadline = time.monotonic() + 60
    while True:
        try:
            home = https_get("127.0.0.1", 443, p.domain, "/", root_pem)
            break
        except (OSError, ssl.SSLError) as exc:
            if time.monotonic() > deadline:
                raise StepFailed(f"https://{p.domain}/ on 127.0.0.1:443: {exc}") from exc
            time.sleep(2)
    if home.status != 200:
        raise StepFailed(f"homepage: HTTP {home.status}")
    modules: dict[str, str] = p.manifest.outputs.get("module_urls") or {}
    missing = [name for name, url in modules.items() if urlsplit(url).path not in home.body]
    if not modules or missing:
        raise StepFailed(f"homepage does not link the modules {missing or '(none declared)'}")
    say(f"homepage: HTTP 200 over TLS (Caddy's CA), links all {len(modules)} modules of the plan")
    protected = []
    for name, url in sorted(modules.items()):
        record = plan_service(p.manifest, name)
        roles = label_map(record.inputs.get("labels")).get("deepcube.route.roles") if record else None
        if record is not None and roles not in (None, "public") and record.inputs["name"] in p.running:
            protected.append((name, urlsplit(url).path))
    if not protected:
        raise StepFailed("no running module has a protected route to try")
    for name, path in protected:
        resp = https_get("127.0.0.1", 443, p.domain, path, root_pem)
        if 200 <= resp.status < 300:
            raise StepFailed(f"{path} ({name}) answered HTTP {resp.status} without a session")
        where = resp.headers.get("location", "")
        say(f"{path} without a session: HTTP {resp.status}" + (f" -> {where}" if where else "") + ", refused")


def json_in(api: docker.APIClient, container: str, cmd: list[str]) -> Any:
    code, out = exec_in(api, container, cmd)
    if code != 0:
        shown = " ".join(word if len(word) < 40 else "<script>" for word in cmd[:3])
        raise StepFailed(f"{shown} ... exited {code}: {out.strip()[-400:]}")
    # The result is the last JSON line; the tools it ran may print progress and warnings before it.
    for line in reversed(out.strip().splitlines()):
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    raise StepFailed(f"no JSON result in the output: {out.strip()[-400:]}")


def service_env(record: ResourceRecord) -> dict[str, str]:
    return dict(record.inputs["taskSpec"]["containerSpec"].get("env") or {})


def _secret_files(record: ResourceRecord) -> list[str]:
    return [str(s["fileName"]) for s in record.inputs["taskSpec"]["containerSpec"].get("secrets") or []]


def s3_wiring_gaps(record: ResourceRecord) -> list[str]:
    """What a service lacks of the S3 contract: AWS_ENDPOINT_URL, and a credentials file secret."""
    env = service_env(record)
    gaps = []
    if not env.get("AWS_ENDPOINT_URL"):
        gaps.append("env AWS_ENDPOINT_URL")
    path = env.get("AWS_SHARED_CREDENTIALS_FILE", "")
    if not path:
        gaps.append("env AWS_SHARED_CREDENTIALS_FILE")
    elif not any(path in (f, f"/run/secrets/{f}") for f in _secret_files(record)):
        gaps.append(f"a secret mounted at {path}")
    return gaps


def cube_uri(manifest: Manifest) -> tuple[str, str]:
    """(cube id, s3 URI) of the first cube the semantic loader is configured with."""
    loader = plan_service(manifest, "semantic-loader")
    if loader is None:
        raise StepFailed("the plan declares no semantic-loader, so no cube location to build")
    first = (service_env(loader).get("CUBES") or "").split()
    if not first or "=" not in first[0]:
        raise StepFailed("semantic-loader has no CUBES entry")
    cube_id, uri = first[0].split("=", 1)
    if not uri.startswith("s3://"):
        raise StepFailed(f"the loader's cube {cube_id} is at {uri}, not on the platform's S3")
    return cube_id, uri


BUILD_SCRIPT = r"""
import json, os, subprocess, sys, yaml, s3fs
work, sources, uri, scheduler = sys.argv[1:5]
subprocess.run(["cube-engine", "demo-data", work], check=True, stdout=subprocess.DEVNULL)
fs = s3fs.S3FileSystem()
config = yaml.safe_load(open(os.path.join(work, "cube.yaml")))
for source in config["sources"]:
    paths = []
    for pattern in source["paths"]:
        folder = os.path.dirname(pattern)
        fs.put(os.path.join(work, folder) + "/", f"{sources}/{folder}/", recursive=True)
        paths.append(f"{sources}/{pattern}")
    source["paths"] = paths
config["output"]["path"] = uri
with open(os.path.join(work, "cube-s3.yaml"), "w") as out:
    yaml.safe_dump(config, out, sort_keys=False)
from distributed import Client
workers = len(Client(scheduler, timeout=30).scheduler_info()["workers"])
gen = subprocess.run(["cube-engine", "gen", os.path.join(work, "cube-s3.yaml"), "--scheduler", scheduler],
                     capture_output=True, text=True)
if gen.returncode != 0:
    print(json.dumps({"error": (gen.stderr or gen.stdout).strip()[-600:]}))
    sys.exit(1)
import xarray as xr
ds = xr.open_zarr(fs.get_mapper(uri), consolidated=True)
print(json.dumps({"workers": workers, "dims": {k: int(v) for k, v in ds.sizes.items()},
                  "variables": sorted(ds.data_vars), "sources": len(fs.find(sources))}))
"""


def required_service(manifest: Manifest, short: str) -> ResourceRecord:
    """The plan's service of that catalogue name; a step that needs it fails without it."""
    record = plan_service(manifest, short)
    if record is None:
        raise StepFailed(f"the plan declares no {short} service")
    return record


def container_of(
    p: Platform, record: ResourceRecord, ensure_running: Callable[[ResourceRecord], None]
) -> tuple[docker.APIClient, str]:
    """(the engine of its node, a running container) of a service, started first if it is a template."""
    ensure_running(record)
    name = str(record.inputs["name"])
    api = p.engine_for(name)
    return api, task_container(api, name)


def step_cube(
    p: Platform, say: Callable[[str], None], ensure_running: Callable[[ResourceRecord], None]
) -> dict:
    """b. A cube built from the Jupyter service's container on the Dask cluster, S3 in and out."""
    jupyter = required_service(p.manifest, "jupyter")
    dask = [plan_service(p.manifest, short) for short in ("dask-worker", "dask-scheduler")]
    wired = [r for r in (jupyter, *dask) if r]
    gaps = {str(r.inputs["name"]): s3_wiring_gaps(r) for r in wired}
    if any(gaps.values()):
        missing = "; ".join(f"{name} lacks {', '.join(g)}" for name, g in gaps.items() if g)
        raise StepFailed(f"S3 wiring missing: {missing}")
    _, uri = cube_uri(p.manifest)
    api, container = container_of(p, jupyter, ensure_running)
    scheduler = service_env(jupyter).get("DASK_SCHEDULER_ADDRESS", "tcp://dask-scheduler:8786")
    bucket = uri.removeprefix("s3://").split("/", 1)[0]
    sources = f"s3://{bucket}/box-journey/sources"
    result = json_in(
        api, container, ["python", "-c", BUILD_SCRIPT, "/tmp/box-journey", sources, uri, scheduler]
    )
    if result.get("workers", 0) < 1:
        raise StepFailed(f"the Dask scheduler at {scheduler} has no worker")
    say(f"{result['sources']} source files uploaded to {sources}; {result['workers']} Dask workers")
    say(f"cube {uri}: dims {result['dims']}, {len(result['variables'])} variables")
    return dict(result)


def step_load(
    p: Platform, say: Callable[[str], None], cube: dict, rerun: Callable[[ResourceRecord], None]
) -> None:
    """c. The semantic-loader job loads the cube into PostGIS; row counts equal the cube's."""
    loader = plan_service(p.manifest, "semantic-loader")
    postgis = plan_service(p.manifest, "postgis")
    if loader is None or postgis is None:
        raise StepFailed("the plan declares no semantic-loader or no postgis")
    cube_id, _ = cube_uri(p.manifest)
    rerun(loader)
    name = str(postgis.inputs["name"])
    api = p.engine_for(name)
    container = task_container(api, name)
    env = service_env(postgis)
    user, db = env.get("POSTGRES_USER", "postgres"), env.get("POSTGRES_DB", "postgres")
    query = (
        f"SELECT json_build_object('cells', (SELECT count(*) FROM deepcube.\"cells_{cube_id}\"),"
        f" 'observations', (SELECT count(*) FROM deepcube.\"obs_{cube_id}\"))"
    )
    counts = json_in(api, container, ["psql", "-U", user, "-d", db, "-tA", "-c", query])
    dims = cube["dims"]
    cells = dims.get("y", dims.get("lat", 0)) * dims.get("x", dims.get("lon", 0))
    observations = cells * dims.get("time", 0)
    if (counts["cells"], counts["observations"]) != (cells, observations):
        raise StepFailed(f"PostGIS has {counts}, the cube {cells} cells x {dims.get('time')} times")
    say(f"PostGIS: {counts['cells']} cells, {counts['observations']} observations = the cube's {dims}")
    mapping_dir = service_env(loader).get("MAPPING_DIR", "/mapping")
    lapi = p.engine_for(str(loader.inputs["name"]), False)  # the node its (completed) task ran on
    files = [f for f in ("mapping.r2rml.ttl", "ontology.ttl", "ontop.properties")]
    check = " && ".join(f"test -s {mapping_dir}/{cube_id}/{f}" for f in files)
    mounts = loader.inputs["taskSpec"]["containerSpec"].get("mounts") or []
    volume = next((m["source"] for m in mounts if m["target"] == mapping_dir), None)
    if volume is None:
        raise StepFailed(f"semantic-loader mounts no volume at {mapping_dir}")
    probe = lapi.create_container(
        lapi.inspect_container(container)["Config"]["Image"],
        ["sh", "-c", check],
        host_config=lapi.create_host_config(
            binds={volume: {"bind": mapping_dir, "mode": "ro"}}, network_mode="none"
        ),
        entrypoint=[],
    )
    try:
        lapi.start(probe["Id"])
        status = lapi.wait(probe["Id"], timeout=60)["StatusCode"]
    finally:
        lapi.remove_container(probe["Id"], force=True)
    if status != 0:
        raise StepFailed(f"volume {volume} lacks {cube_id}/{{{', '.join(files)}}}")
    say(f"mapping files in volume {volume}: {cube_id}/{', '.join(files)}")


def step_metrics(p: Platform, say: Callable[[str], None], nodes: int) -> None:
    """d. Prometheus finds node-exporter (and the others) through Swarm discovery, all up."""
    prometheus = plan_service(p.manifest, "prometheus")
    if prometheus is None or str(prometheus.inputs["name"]) not in p.running:
        raise StepFailed("prometheus is not running")
    name = str(prometheus.inputs["name"])
    api = p.engine_for(name)
    container = task_container(api, name)
    prefix = next(
        (
            a.split("=", 1)[1]
            for a in prometheus.inputs["taskSpec"]["containerSpec"].get("args") or []
            if a.startswith("--web.route-prefix=")
        ),
        "",
    )
    url = f"http://127.0.0.1:9090{prefix.rstrip('/')}/api/v1/targets"
    deadline = time.monotonic() + 120
    while True:
        targets = json_in(api, container, ["wget", "-qO-", url])["data"]["activeTargets"]
        up: dict[str, int] = {}
        down: dict[str, str] = {}
        for target in targets:
            job = target["labels"].get("job", "?")
            if target["health"] == "up":
                up[job] = up.get(job, 0) + 1
            else:
                down[job] = target.get("lastError") or target["health"]
        if up.get("node-exporter", 0) >= nodes and not down:
            break
        if time.monotonic() > deadline:
            raise StepFailed(f"targets up {up}, not up {down} (node-exporter expected on {nodes} nodes)")
        time.sleep(5)
    say(f"Prometheus targets up via dockerswarm_sd: {up}")
