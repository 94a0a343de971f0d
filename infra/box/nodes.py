"""The box's swarm: one container per hosted plan node, each running its own Docker engine.

Each node container gets the plan node's hostname, every capability but CAP_SYS_RESOURCE (this
machine withholds it, so `--privileged` cannot start), its own data-root under the cache (so images
loaded into it stay for the next run) and a second engine socket the box reaches from the host. The
leader inits the swarm on its address on the box's bridge, the others join, and the box sets each
node's labels exactly as the plan's membership commands do. Host-mode ports of the services placed
on a node are published on 127.0.0.1 of this machine, as the node's public address would be.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import docker
from infra.box import BoxError
from infra.box.dockerd import Layout
from infra.box.topology import PlanNode

BOX_NETWORK = "deepcube-box"
BOX_BRIDGE = "deepcube-box0"
BOX_SUBNET = "10.213.0.0/24"
ADDRESS_POOL = "10.214.0.0/16"
"""Overlay subnets of the box's swarm: apart from the box's bridge."""
NODE_LABEL = "deepcube.box.node"
API_VERSION = "1.41"
"""Docker 20.10's API: fixed, so a client can be made before the node's engine answers."""


@dataclass
class Node:
    """A running node: its plan node, container, address and engine."""

    plan: PlanNode
    container: str
    ip: str
    api: docker.APIClient
    node_id: str = ""


def container_name(hostname: str) -> str:
    return f"deepcube-box-{hostname}"


class Cluster:
    """Starts, joins, labels and removes the node containers."""

    def __init__(self, host: docker.APIClient, layout: Layout, node_image: str) -> None:
        self.host = host
        self.layout = layout
        self.node_image = node_image
        self.nodes: list[Node] = []

    @property
    def leader(self) -> Node:
        return self.nodes[0]

    def start(
        self,
        plan_nodes: Sequence[PlanNode],
        ports: dict[str, list[tuple[int, str]]],
        say: Callable[[str], None],
    ) -> None:
        """Start every node container, then the swarm: init on the leader, join, label."""
        self.remove_leftovers()
        self.host.create_network(
            BOX_NETWORK,
            driver="bridge",
            options={"com.docker.network.bridge.name": BOX_BRIDGE},
            ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=BOX_SUBNET)]),
            labels={NODE_LABEL: "network"},
        )
        for plan_node in plan_nodes:
            self.nodes.append(self._start_node(plan_node, ports.get(plan_node.hostname, [])))
        for node in self.nodes:
            self._wait_engine(node)
            self._reset(node)
        leader = self.leader
        leader.api.init_swarm(
            advertise_addr=leader.ip,
            listen_addr="0.0.0.0:2377",
            default_addr_pool=[ADDRESS_POOL],
            subnet_size=24,
        )
        tokens = leader.api.inspect_swarm()["JoinTokens"]
        for node in self.nodes[1:]:
            node.api.join_swarm(
                [f"{leader.ip}:2377"],
                tokens["Manager" if node.plan.manager else "Worker"],
                listen_addr="0.0.0.0:2377",
                advertise_addr=node.ip,
            )
        for node in self.nodes:
            node.node_id = node.api.info()["Swarm"]["NodeID"]
            current = leader.api.inspect_node(node.node_id)
            spec = dict(current["Spec"])
            spec["Labels"] = dict(node.plan.labels)
            leader.api.update_node(node.node_id, current["Version"]["Index"], spec)
            labels = " ".join(f"{k}={v}" for k, v in sorted(node.plan.labels.items()))
            role = "leader" if node.plan.leader else ("manager" if node.plan.manager else "worker")
            say(f"node {node.plan.hostname} ({role}, {node.ip}): {labels}")
        self._wait_ready()

    def _start_node(self, plan_node: PlanNode, ports: list[tuple[int, str]]) -> Node:
        folder = self.layout.node(plan_node.hostname)
        (folder / "docker").mkdir(parents=True, exist_ok=True)
        (folder / "run").mkdir(parents=True, exist_ok=True)
        (folder / "run" / "docker.sock").unlink(missing_ok=True)
        name = container_name(plan_node.hostname)
        host_config = self.host.create_host_config(
            cap_add=["ALL"],
            cap_drop=["SYS_RESOURCE"],
            security_opt=["seccomp=unconfined", "apparmor=unconfined"],
            device_cgroup_rules=["a *:* rwm"],
            binds={
                str(folder / "docker"): {"bind": "/var/lib/docker", "mode": "rw"},
                str(folder / "run"): {"bind": "/run/box", "mode": "rw"},
            },
            tmpfs={"/run": "", "/tmp": ""},
            port_bindings={f"{port}/{proto}": ("127.0.0.1", port) for port, proto in ports},
        )
        # `--security-opt systempaths=unconfined`: /proc/sys writable for the node's engine.
        host_config["MaskedPaths"] = []
        host_config["ReadonlyPaths"] = []
        container = self.host.create_container(
            self.node_image,
            name=name,
            hostname=plan_node.hostname,
            host_config=host_config,
            ports=[(port, proto) for port, proto in ports],
            labels={NODE_LABEL: plan_node.hostname},
            networking_config=self.host.create_networking_config(
                {BOX_NETWORK: self.host.create_endpoint_config()}
            ),
        )
        try:
            self.host.start(container["Id"])
        except docker.errors.APIError as exc:
            raise BoxError(f"node {plan_node.hostname} did not start: {exc.explanation}") from exc
        ip = self.host.inspect_container(name)["NetworkSettings"]["Networks"][BOX_NETWORK]["IPAddress"]
        socket = folder / "run" / "docker.sock"
        api = docker.APIClient(base_url=f"unix://{socket}", timeout=600, version=API_VERSION)
        return Node(plan=plan_node, container=name, ip=ip, api=api)

    def _wait_engine(self, node: Node) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                node.api.ping()
                return
            if self.host.inspect_container(node.container)["State"]["Status"] != "running":
                logs = self.host.logs(node.container, tail=5).decode(errors="replace").strip()
                raise BoxError(f"node {node.plan.hostname} stopped: {logs.splitlines()[-1:] or '?'}")
            time.sleep(0.5)
        raise BoxError(f"the engine of node {node.plan.hostname} did not answer within 60 s")

    @staticmethod
    def _reset(node: Node) -> None:
        """Forget a previous run's swarm, containers, volumes and networks (the images stay)."""
        if node.api.info()["Swarm"]["LocalNodeState"] != "inactive":
            node.api.leave_swarm(force=True)
        for container in node.api.containers(all=True, quiet=True):
            node.api.remove_container(container["Id"], force=True, v=True)
        node.api.prune_volumes()
        node.api.prune_networks()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = [n["Status"]["State"] for n in self.leader.api.nodes()]
            if len(states) == len(self.nodes) and all(s == "ready" for s in states):
                return
            time.sleep(0.5)
        raise BoxError("the swarm's nodes did not all become ready within 60 s")

    def fitting(self, placed: Callable[[PlanNode], bool]) -> list[Node]:
        return [node for node in self.nodes if placed(node.plan)]

    def stop(self) -> None:
        """Remove the services, leave the swarm, drop containers, volumes and the node containers."""
        with contextlib.suppress(Exception):
            if self.nodes:
                for service in self.leader.api.services():
                    with contextlib.suppress(Exception):
                        self.leader.api.remove_service(service["ID"])
                self._wait_no_tasks()
        for node in reversed(self.nodes):
            with contextlib.suppress(Exception):
                self._reset(node)
        self.nodes = []
        self.remove_leftovers()

    def _wait_no_tasks(self, timeout_s: float = 40) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not any(n.api.containers(quiet=True) for n in self.nodes):
                return
            time.sleep(0.5)

    def remove_leftovers(self) -> None:
        """Node containers and the box network, from this run or an interrupted one."""
        for container in self.host.containers(all=True, filters={"label": NODE_LABEL}):
            with contextlib.suppress(docker.errors.APIError):
                self.host.stop(container["Id"], timeout=20)
            with contextlib.suppress(docker.errors.APIError):
                self.host.remove_container(container["Id"], force=True, v=True)
        for network in self.host.networks(names=[BOX_NETWORK]):
            with contextlib.suppress(docker.errors.APIError):
                self.host.remove_network(network["Id"])


def published_ports(port_specs: Iterable[dict]) -> list[tuple[int, str]]:
    """(port, protocol) of the host-mode ports of an Engine API EndpointSpec's `Ports`."""
    return sorted(
        {
            (int(p["PublishedPort"]), str(p.get("Protocol", "tcp")))
            for p in port_specs
            if p.get("PublishMode") == "host" and p.get("PublishedPort")
        }
    )
