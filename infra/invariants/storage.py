"""Invariant: every data location a service is given is one it can actually reach.

A service that starts with an `s3://` URI of a bucket nobody creates, without the credential to
read it, or with a path that exists on no node it may run on, deploys fine and fails at the first
read. The plan holds every fact needed to see it beforehand:
- `s3://` URIs (in env values and command/args words) must name a container the stack creates
  (`openstack:objectstorage/container:Container` `name`), and every S3 client (a service with an
  `s3://` URI or an `AWS_*` variable) must mount the S3 credential secret at the path its
  `AWS_SHARED_CREDENTIALS_FILE` names and have `AWS_ENDPOINT_URL` (the stack's endpoint) and
  `AWS_DEFAULT_REGION` (its signing region: Swift's S3 API refuses requests signed for another);
  no credential may travel as an environment value;
- the containers are created in the object store's region (`cloud.object_storage.region`), never
  in another (OVH's compute region GRA9 has no containers the endpoint of GRA would serve);
- host paths: every bind source must exist on every node the placement can pick: a mount point
  cloud-init declares there, Docker's own paths (data-root, its socket) or the kernel's; an absolute
  path in env or command under EODATA must lie under a bind mount of the service;
- a Dask worker runs its clients' tasks, so it must reach what they reach: the S3 credential and
  every bind mount a client of the same scheduler has.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from typing import Any

from components.data_access import S3_CREDENTIALS_KEY
from infra.invariants.topology import (
    DEFAULT_DATA_ROOT,
    DOCKER_SECRET,
    SwarmNode,
    SwarmServiceView,
    SwarmTopology,
    read_topology,
)
from infra.manifest import ResourceRecord
from infra.policy_model import PolicyContext, Violation

POLICY = "storage-wiring"
CONTAINER = "openstack:objectstorage/container:Container"
SECRETS_DIR = "/run/secrets"
CREDENTIAL_SECRET_SUFFIX = "-secret-" + S3_CREDENTIALS_KEY.replace("_", "-")
"""How PlatformServices names the Docker secret resource holding the shared-credentials file."""
CREDENTIAL_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
DEFAULT_EODATA = "/eodata"
KERNEL_PATHS = ("/proc", "/sys", "/dev")
RUNTIME_PATHS = ("/run", "/var/run")
"""Where Docker's socket lives; present on every node running Docker."""

_S3_URI = re.compile(r"s3://([^/\s,;\"']+)[^\s,;\"']*")
_ABS_PATH = re.compile(r"(?:^|[\s=,;])(/[^\s,;\"'=]*)")
_SCHEDULER = re.compile(r"tcp://[A-Za-z0-9._-]+:\d+")


def _under(path: str, root: str) -> bool:
    path, root = posixpath.normpath(path), posixpath.normpath(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


def _texts(service: SwarmServiceView) -> list[str]:
    """Every configured string a service acts on: env values, then command and args words."""
    return [str(value) for value in service.env.values() if isinstance(value, str)] + list(service.command)


def s3_uris(service: SwarmServiceView) -> list[tuple[str, str]]:
    """(URI, bucket) of every `s3://` URI in env values and command words, in order, once each."""
    found: dict[str, str] = {}
    for text in _texts(service):
        for match in _S3_URI.finditer(text):
            found.setdefault(match.group(0), match.group(1))
    return list(found.items())


def absolute_paths(service: SwarmServiceView) -> list[str]:
    """Absolute paths in env values and command words (`id=/path` and `--opt=/path` included)."""
    found: dict[str, None] = {}
    for text in _texts(service):
        for match in _ABS_PATH.finditer(text):
            found.setdefault(match.group(1).rstrip("/") or "/")
    return list(found)


def _container_spec(service: SwarmServiceView) -> Mapping[str, Any]:
    return (service.record.inputs.get("taskSpec") or {}).get("containerSpec") or {}


def _secret_paths(service: SwarmServiceView, swarm_names: set[str]) -> list[str]:
    """Where the service mounts any of the Docker secrets named `swarm_names`."""
    paths = []
    for entry in _container_spec(service).get("secrets") or []:
        if isinstance(entry, Mapping) and entry.get("secretName") in swarm_names:
            name = str(entry.get("fileName", ""))
            paths.append(name if name.startswith("/") else f"{SECRETS_DIR}/{name}")
    return paths


def _credential_secrets(records: Sequence[ResourceRecord]) -> set[str]:
    """Swarm names of the S3 credential secrets the plan declares."""
    return {
        str(r.inputs.get("name"))
        for r in records
        if r.type == DOCKER_SECRET and r.name.endswith(CREDENTIAL_SECRET_SUFFIX)
    }


def _object_storage(ctx: PolicyContext, key: str) -> str | None:
    """`cloud.object_storage.<key>` of the stack config, if set (the pack runs without a config)."""
    cloud = ctx.stack_config.get("cloud")
    store = cloud.get("object_storage") if isinstance(cloud, Mapping) else None
    value = store.get(key) if isinstance(store, Mapping) else None
    return value if isinstance(value, str) else None


def eodata_points(ctx: PolicyContext) -> set[str]:
    """Container paths meaning EODATA: the stack's mount point and the conventional `/eodata`."""
    points = {DEFAULT_EODATA}
    cloud = ctx.stack_config.get("cloud")
    eodata = cloud.get("eodata") if isinstance(cloud, Mapping) else None
    if isinstance(eodata, Mapping) and isinstance(eodata.get("mount_point"), str):
        points.add(eodata["mount_point"])
    return points


def node_has(node: SwarmNode, source: str) -> bool:
    """Whether a host path exists on the node by declaration: its cloud-init mounts, Docker's own
    paths (data-root, runtime dir with the socket), the kernel's filesystems, or the root itself."""
    if source == "/" or node.hidden:
        return True  # a hidden node's mounts are unknown: not judged
    # Docker's data-root is accepted here whatever the node's setting: whether it matches is the
    # business of the `node-paths` invariant, which names the mismatch.
    roots = (*node.host_mounts, node.data_root, DEFAULT_DATA_ROOT, *KERNEL_PATHS, *RUNTIME_PATHS)
    return any(_under(source, root) for root in roots)


class _Check:
    """One pass over the plan; collects violations per service."""

    def __init__(self, records: Sequence[ResourceRecord], ctx: PolicyContext) -> None:
        self.topology: SwarmTopology = read_topology(records)
        self.buckets = {
            str(r.inputs.get("name")) for r in records if r.type == CONTAINER and r.inputs.get("name")
        }
        self.secret_names = _credential_secrets(records)
        self.endpoint = _object_storage(ctx, "endpoint")
        self.signing_region = _object_storage(ctx, "signing_region")
        self.store_region = _object_storage(ctx, "region")
        self.containers = [r for r in records if r.type == CONTAINER]
        self.eodata = eodata_points(ctx)
        self.violations: list[Violation] = []

    def report(self, service: SwarmServiceView, message: str) -> None:
        self.violations.append(Violation(POLICY, service.urn, f"{service.name}: {message}"))

    def has_credential(self, service: SwarmServiceView) -> bool:
        """The credential secret is mounted exactly where AWS_SHARED_CREDENTIALS_FILE looks."""
        wanted = service.env.get("AWS_SHARED_CREDENTIALS_FILE")
        return wanted is not None and wanted in _secret_paths(service, self.secret_names)

    def is_s3_client(self, service: SwarmServiceView) -> bool:
        return bool(
            s3_uris(service)
            or any(str(key).startswith("AWS_") for key in service.env)
            or _secret_paths(service, self.secret_names)
        )

    def s3(self, service: SwarmServiceView) -> None:
        for uri, bucket in s3_uris(service):
            if bucket not in self.buckets:
                self.report(service, f"{uri} names container {bucket!r}, which the stack does not create")
        for key in CREDENTIAL_ENV:
            if key in service.env:
                self.report(service, f"sets {key} in its environment; mount the S3 credentials file instead")
        if not self.is_s3_client(service):
            return
        uris = s3_uris(service)
        what = f"reads {uris[0][0]}" if uris else "is an S3 client (AWS_* settings)"
        if not self.has_credential(service):
            where = service.env.get("AWS_SHARED_CREDENTIALS_FILE", "unset")
            self.report(service, f"{what} without the S3 credential secret mounted at {where}")
        endpoint = service.env.get("AWS_ENDPOINT_URL")
        if not endpoint:
            self.report(service, f"{what} without AWS_ENDPOINT_URL")
        elif self.endpoint and endpoint != self.endpoint:
            self.report(service, f"AWS_ENDPOINT_URL {endpoint} is not the stack's endpoint {self.endpoint}")
        region = service.env.get("AWS_DEFAULT_REGION")
        if self.signing_region and region != self.signing_region:
            signed = f"AWS_DEFAULT_REGION {region}" if region else "no AWS_DEFAULT_REGION (us-east-1)"
            self.report(
                service,
                f"{what} with {signed}; the endpoint expects requests signed for {self.signing_region}",
            )

    def container_regions(self) -> None:
        """Every container is created where the endpoint looks for it: the object store's region."""
        if not self.store_region:
            return
        for record in self.containers:
            region = record.inputs.get("region")
            if isinstance(region, str) and region != self.store_region:
                self.violations.append(
                    Violation(
                        POLICY,
                        record.urn,
                        f"container {record.inputs.get('name')} is created in region {region}, not in the "
                        f"object store's region {self.store_region} that the S3 endpoint serves",
                    )
                )

    def host_paths(self, service: SwarmServiceView) -> None:
        candidates = self.topology.candidates(service)
        for bind in service.binds:
            if not bind.source.startswith("/"):
                continue  # computed offline: nothing to judge
            missing = sorted(node.hostname for node in candidates if not node_has(node, bind.source))
            if missing:
                self.report(
                    service,
                    f"binds host path {bind.source}, which no mount declares on {', '.join(missing)}",
                )
            if not bind.read_only and any(_under(bind.source, point) for point in self.eodata):
                self.report(service, f"binds EODATA {bind.source} writable; the archive is read-only")
        for path in absolute_paths(service):
            if any(_under(path, bind.target) for bind in service.binds):
                continue
            point = next((p for p in sorted(self.eodata) if _under(path, p)), None)
            if point is not None:
                self.report(service, f"uses {path} under EODATA ({point}) but binds no mount holding it")

    def dask_clusters(self) -> None:
        """Workers must reach what the clients of their scheduler reach (they run the clients' tasks)."""
        groups: dict[str, list[SwarmServiceView]] = {}
        for service in self.topology.services:
            for address in {m.group(0) for text in _texts(service) for m in _SCHEDULER.finditer(text)}:
                groups.setdefault(address, []).append(service)
        for address, members in sorted(groups.items()):
            workers = [s for s in members if list(s.command[:2]) == ["dask", "worker"]]
            clients = [s for s in members if s not in workers]
            for worker in workers:
                for client in clients:
                    self._worker_reaches(worker, client, address)

    def _worker_reaches(self, worker: SwarmServiceView, client: SwarmServiceView, address: str) -> None:
        # A worker with S3 settings of its own but no credential is already named by `s3`.
        if self.has_credential(client) and not self.is_s3_client(worker):
            self.report(
                worker,
                f"lacks the S3 credential that {client.name} (a client of {address}) has: "
                "its tasks cannot read or write the client's s3:// cubes",
            )
        targets = {bind.target for bind in worker.binds}
        for bind in client.binds:
            if bind.target not in targets:
                self.report(
                    worker,
                    f"lacks the mount {bind.target} that {client.name} (a client of {address}) has: "
                    "its tasks cannot open the client's paths there",
                )


def storage_wiring(records: Sequence[ResourceRecord], ctx: PolicyContext) -> list[Violation]:
    """Every S3 URI and host path a service is given is reachable from where it runs (see module doc)."""
    check = _Check(records, ctx)
    for service in check.topology.services:
        check.s3(service)
        check.host_paths(service)
    check.dask_clusters()
    check.container_regions()
    return sorted(set(check.violations))
