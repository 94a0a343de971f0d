"""The swarm as the plan declares it: nodes, their facts, and the services placed on them.

Wiring invariants need facts that no single resource holds: which nodes a service's placement
constraints can pick, whether those nodes hold a public address, which security-group rules guard
that address, how Docker is set up on them (data-root, log driver, sysctls, host mounts). This
module reads them from the plan's records, from the very inputs the cloud and Docker will act on:
- a node is an OpenStack instance whose metadata role starts with `swarm-`; its Docker settings
  come from the `/etc/docker/daemon.json` and `/etc/sysctl.d/*` files its cloud-init writes, and
  its host mounts from the cloud-init `mounts` entries;
- its labels are the `--label-add` arguments of the membership command that sets them;
- a node whose cloud-init is a secret (it carries keys, e.g. for EODATA) is `hidden`: the plan
  cannot tell its Docker settings or mounts, and invariants do not judge what they cannot see;
- it is public when a floating IP is associated with one of its ports, and that port's security
  groups are the ones guarding the address;
- a service is a `docker:index/service:Service`; its placement is evaluated against the nodes
  with Swarm's constraint rules (`==`/`!=` on node.role, node.hostname, node.labels.*,
  node.platform.os).
"""

from __future__ import annotations

import base64
import ipaddress
import itertools
import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from infra.manifest import ResourceRecord, is_secret

INSTANCE = "openstack:compute/instance:Instance"
PORT = "openstack:networking/port:Port"
SEC_GROUP_RULE = "openstack:networking/secGroupRule:SecGroupRule"
FLOATING_IP_ASSOCIATE = "openstack:networking/floatingIpAssociate:FloatingIpAssociate"
REMOTE_COMMAND = "command:remote:Command"
DOCKER_SERVICE = "docker:index/service:Service"
DOCKER_SECRET = "docker:index/secret:Secret"
DOCKER_CONFIG = "docker:index/serviceConfig:ServiceConfig"
DOCKER_NETWORK = "docker:index/network:Network"

DEFAULT_DATA_ROOT = "/var/lib/docker"
DEFAULT_LOG_DRIVER = "json-file"
MEMBERSHIP_SUFFIX = "-membership"


@dataclass(frozen=True)
class IngressRule:
    """One ingress rule of a security group, as far as reachability from outside is concerned."""

    protocol: str | None
    port_min: int | None
    port_max: int | None
    remote_prefix: str | None

    def admits(self, port: int, protocol: str) -> bool:
        """Whether traffic to `port`/`protocol` from the rule's remote passes."""
        if self.protocol not in (None, "", "any", protocol):
            return False
        if self.port_min is None and self.port_max is None:
            return True
        low = self.port_min or 1
        return low <= port <= (self.port_max or low)

    def from_outside(self) -> bool:
        """Whether the remote is an address range (not another group of the platform)."""
        if not self.remote_prefix:
            return False
        try:
            ipaddress.ip_network(self.remote_prefix, strict=False)
        except ValueError:
            return False
        return True


@dataclass(frozen=True)
class SwarmNode:
    """One Docker Swarm node of the plan and what is declared about it."""

    hostname: str
    manager: bool
    labels: Mapping[str, str]
    public: bool
    public_rules: tuple[IngressRule, ...]
    """Ingress rules of the security groups on the port that holds the floating IP."""
    daemon: Mapping[str, Any]
    """The node's `/etc/docker/daemon.json` (empty: Docker's defaults)."""
    sysctls: Mapping[str, str]
    host_mounts: tuple[str, ...]
    """Mount points cloud-init declares on the node (`mounts` module)."""
    hidden: bool = False
    """Its cloud-init is a secret in the plan: daemon, sysctls and mounts are unknown, not empty."""

    @property
    def data_root(self) -> str:
        return str(self.daemon.get("data-root", DEFAULT_DATA_ROOT))

    @property
    def log_driver(self) -> str:
        return str(self.daemon.get("log-driver", DEFAULT_LOG_DRIVER))

    def attribute(self, key: str) -> str | None:
        """The value a placement constraint's left-hand side reads on this node."""
        if key == "node.role":
            return "manager" if self.manager else "worker"
        if key == "node.hostname":
            return self.hostname
        if key == "node.platform.os":
            return "linux"
        if key.startswith("node.labels."):
            return self.labels.get(key.removeprefix("node.labels."))
        return None

    def satisfies(self, constraints: Sequence[str]) -> bool:
        """Swarm's rule: every constraint must hold; a missing label never equals a value."""
        for constraint in constraints:
            negate = "!=" in constraint
            key, _, value = constraint.partition("!=" if negate else "==")
            actual = self.attribute(key.strip())
            equal = actual is not None and actual == value.strip()
            if equal == negate:
                return False
        return True


@dataclass(frozen=True)
class BindMount:
    source: str
    target: str
    read_only: bool


@dataclass(frozen=True)
class SwarmServiceView:
    """A declared Docker service, reduced to what wiring invariants look at."""

    record: ResourceRecord
    name: str
    """The catalogue name (label `deepcube.service`), e.g. `caddy`."""
    constraints: tuple[str, ...]
    host_ports: tuple[tuple[int, str], ...]
    """(published port, protocol) of every host-mode port."""
    volumes: tuple[str, ...]
    """Named (node-local) volumes."""
    binds: tuple[BindMount, ...]
    networks: tuple[str, ...]
    """URNs of the docker networks it joins."""
    secrets: tuple[str, ...]
    """Resource names of the docker secrets it mounts."""
    env: Mapping[str, Any]
    labels: Mapping[str, str]
    command: tuple[str, ...] = field(default=())

    @property
    def urn(self) -> str:
        return self.record.urn


@dataclass(frozen=True)
class SwarmTopology:
    nodes: tuple[SwarmNode, ...]
    services: tuple[SwarmServiceView, ...]

    def candidates(self, service: SwarmServiceView) -> list[SwarmNode]:
        """The nodes Swarm may place the service's tasks on."""
        return [node for node in self.nodes if node.satisfies(service.constraints)]


def _cloud_config(user_data: Any) -> dict[str, Any]:
    if not isinstance(user_data, str) or not user_data.startswith("#cloud-config"):
        return {}
    try:
        document = yaml.safe_load(user_data)
    except yaml.YAMLError:
        return {}
    return document if isinstance(document, dict) else {}


def _written_files(document: Mapping[str, Any]) -> dict[str, str]:
    files = {}
    for entry in document.get("write_files") or []:
        if isinstance(entry, Mapping) and isinstance(entry.get("path"), str):
            content = entry.get("content", "")
            if entry.get("encoding") in ("b64", "base64"):
                content = base64.b64decode(content).decode()
            files[entry["path"]] = str(content)
    return files


def _sysctls(files: Mapping[str, str]) -> dict[str, str]:
    values = {}
    for path, content in sorted(files.items()):
        if not path.startswith("/etc/sysctl.d/"):
            continue
        for line in content.splitlines():
            key, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith("#"):
                values[key.strip()] = value.strip()
    return values


def _labels_set_by(command: Any) -> dict[str, str]:
    if not isinstance(command, str):
        return {}
    try:
        words = shlex.split(command)
    except ValueError:
        return {}
    labels = {}
    for flag, value in itertools.pairwise(words):
        if flag == "--label-add":
            key, _, val = value.partition("=")
            labels[key] = val
    return labels


def _ingress_rules(records: Sequence[ResourceRecord]) -> dict[str, list[IngressRule]]:
    """Security group URN -> its ingress rules."""
    rules: dict[str, list[IngressRule]] = {}
    for record in records:
        if record.type != SEC_GROUP_RULE or str(record.inputs.get("direction", "ingress")) != "ingress":
            continue
        for group in record.property_dependencies.get("securityGroupId", []):
            rules.setdefault(group, []).append(
                IngressRule(
                    protocol=record.inputs.get("protocol"),
                    port_min=record.inputs.get("portRangeMin"),
                    port_max=record.inputs.get("portRangeMax"),
                    remote_prefix=record.inputs.get("remoteIpPrefix"),
                )
            )
    return rules


def _nodes(records: Sequence[ResourceRecord]) -> list[SwarmNode]:
    by_urn = {record.urn: record for record in records}
    rules = _ingress_rules(records)
    public_ports = {
        port for record in records if record.type == FLOATING_IP_ASSOCIATE
        for port in record.property_dependencies.get("portId", [])
    }
    labels = {
        record.name.removesuffix(MEMBERSHIP_SUFFIX): _labels_set_by(record.inputs.get("create"))
        for record in records
        if record.type == REMOTE_COMMAND and record.name.endswith(MEMBERSHIP_SUFFIX)
    }
    nodes = []
    for record in records:
        role = str((record.inputs.get("metadata") or {}).get("role", ""))
        if record.type != INSTANCE or not role.startswith("swarm-"):
            continue
        hostname = str(record.inputs.get("name", record.name))
        ports = record.property_dependencies.get("networks", [])
        exposed = [port for port in ports if port in public_ports]
        public_rules = tuple(
            rule
            for port in exposed
            for group in by_urn[port].property_dependencies.get("securityGroupIds", []) if port in by_urn
            for rule in rules.get(group, [])
        )
        document = _cloud_config(record.inputs.get("userData"))
        files = _written_files(document)
        try:
            daemon = json.loads(files.get("/etc/docker/daemon.json", "{}"))
        except json.JSONDecodeError:
            daemon = {"invalid": True}
        mounts = tuple(
            str(entry[1])
            for entry in document.get("mounts") or []
            if isinstance(entry, list) and len(entry) > 1
        )
        nodes.append(
            SwarmNode(
                hostname=hostname,
                manager=role == "swarm-manager",
                labels=labels.get(hostname, {}),
                public=bool(exposed),
                public_rules=public_rules,
                daemon=daemon,
                sysctls=_sysctls(files),
                host_mounts=mounts,
                hidden=is_secret(record.inputs.get("userData")),
            )
        )
    return sorted(nodes, key=lambda node: node.hostname)


def _service(record: ResourceRecord, by_urn: Mapping[str, ResourceRecord]) -> SwarmServiceView:
    inputs = record.inputs
    task = inputs.get("taskSpec") or {}
    container = task.get("containerSpec") or {}
    labels = {
        str(item.get("label")): str(item.get("value"))
        for item in inputs.get("labels") or []
        if isinstance(item, Mapping)
    }
    ports = tuple(
        (int(port["publishedPort"]), str(port.get("protocol") or "tcp"))
        for port in (inputs.get("endpointSpec") or {}).get("ports") or []
        if port.get("publishMode") == "host" and port.get("publishedPort")
    )
    mounts = container.get("mounts") or []
    deps = [by_urn[urn] for urn in record.property_dependencies.get("taskSpec", []) if urn in by_urn]
    return SwarmServiceView(
        record=record,
        name=labels.get("deepcube.service", str(inputs.get("name", record.name))),
        constraints=tuple((task.get("placement") or {}).get("constraints") or ()),
        host_ports=ports,
        volumes=tuple(str(m.get("source")) for m in mounts if m.get("type", "volume") == "volume"),
        binds=tuple(
            BindMount(str(m.get("source")), str(m.get("target")), bool(m.get("readOnly")))
            for m in mounts
            if m.get("type") == "bind"
        ),
        networks=tuple(dep.urn for dep in deps if dep.type == DOCKER_NETWORK),
        secrets=tuple(dep.name for dep in deps if dep.type == DOCKER_SECRET),
        env=dict(container.get("env") or {}),
        labels=labels,
        command=tuple(
            str(word) for word in [*(container.get("commands") or []), *(container.get("args") or [])]
        ),
    )


def read_topology(records: Sequence[ResourceRecord]) -> SwarmTopology:
    """Nodes and services of a plan (either may be empty, e.g. in synthetic test plans)."""
    by_urn = {record.urn: record for record in records}
    services = tuple(
        sorted(
            (_service(record, by_urn) for record in records if record.type == DOCKER_SERVICE),
            key=lambda service: service.name,
        )
    )
    return SwarmTopology(nodes=tuple(_nodes(records)), services=services)


def caddy_sites(records: Sequence[ResourceRecord]) -> set[str]:
    """Site addresses of every Caddyfile the plan ships as a Swarm config (global block excluded)."""
    sites: set[str] = set()
    for record in records:
        if record.type != DOCKER_CONFIG or "caddyfile" not in record.name:
            continue
        try:
            text = base64.b64decode(str(record.inputs.get("data", ""))).decode()
        except ValueError:
            continue
        for line in text.splitlines():
            if line[:1] in ("", " ", "\t", "#", "(", "{", "}") or not line.rstrip().endswith("{"):
                continue
            for address in line.rstrip().removesuffix("{").replace(",", " ").split():
                host = address.split("://")[-1].split(":")[0]
                if host:  # `:9180 {` listens on a port for every name: not a DNS name
                    sites.add(host)
    return sites
