"""The Docker Swarm cluster: manager and worker pools, init/join by remote commands, labels.

- The managers are the gateway nodes: manager 0 holds the floating IP (SSH bastion and the
  public HTTP(S) entry point) and runs `docker swarm init`.
- Join tokens are read from manager 0 into secret outputs; every other node joins with them.
- Each node has a membership command run on manager 0: on create it sets the node's labels (the
  stack's pool labels, plus `deepcube.node=<hostname>` on every node and `deepcube.public=true` on
  the node holding the floating IP, so services can be pinned to one node or to the public one), on
  delete (scale-in, before the instance is destroyed) it drains the node, demotes a manager and
  removes the node from the swarm.
- `docker_provider` talks to manager 0 over `ssh://`, for the swarm services.
- Every wait in these commands (cloud-init, Docker, a joined node becoming known, a drain) is
  bounded (`components.waits`): a node that never gets there fails `pulumi up`, naming what it
  waited for, instead of hanging it.

The shell lines are built by pure functions below, tested without Pulumi.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker
import pulumi_openstack as openstack
from pulumi_command import remote

from components import waits
from components.access import SshAccess
from components.nodes import NodePool, NodePoolArgs
from components.placement import NODE_LABEL, PUBLIC_CONSTRAINT, PUBLIC_LABEL, Placement, node_constraint

TYPE_TOKEN = "deepcube:swarm:SwarmCluster"
SWARM_PORT = 2377
DRAIN_TIMEOUT_S = 300

# -- pure command builders -------------------------------------------------------------------------

CLOUD_INIT_TIMEOUT_S = 1800
"""First boot: packages (Docker, s3fs), the data volume, EODATA; generous, but not forever."""
DOCKER_TIMEOUT_S = 300
"""Docker answering once cloud-init is done (its last step restarts it)."""
NODE_KNOWN_TIMEOUT_S = 300
"""A node that has just joined becoming visible to the managers."""

WAIT_FOR_DOCKER = "; ".join(
    [
        waits.cloud_init_done(where="this node", timeout_s=CLOUD_INIT_TIMEOUT_S),
        waits.bounded_wait(
            "sudo docker info >/dev/null", what="Docker to answer on this node", timeout_s=DOCKER_TIMEOUT_S
        ),
    ]
)
NODE_ID = "sudo docker info --format '{{.Swarm.NodeID}}'"
IS_ACTIVE = "[ \"$(sudo docker info --format '{{.Swarm.LocalNodeState}}')\" = active ]"


def init_command(advertise_address: str) -> str:
    """Initialise the swarm on the first manager (idempotent); prints the node id."""
    addr = shlex.quote(advertise_address)
    return (
        f"{WAIT_FOR_DOCKER}; {IS_ACTIVE} || "
        f"sudo docker swarm init --advertise-addr {addr} --listen-addr {addr}:{SWARM_PORT} >&2; {NODE_ID}"
    )


def join_token_command(role: str) -> str:
    """Print the join token for `worker` or `manager` (output is a secret)."""
    if role not in ("worker", "manager"):
        raise ValueError(f"join token role must be worker or manager, not {role!r}")
    return f"{WAIT_FOR_DOCKER}; sudo docker swarm join-token -q {role}"


def join_command(token: str, manager_address: str, advertise_address: str) -> str:
    """Join the swarm (idempotent); prints the node id."""
    return (
        f"{WAIT_FOR_DOCKER}; {IS_ACTIVE} || sudo docker swarm join --token {shlex.quote(token)} "
        f"--advertise-addr {shlex.quote(advertise_address)} "
        f"{shlex.quote(manager_address)}:{SWARM_PORT} >&2; {NODE_ID}"
    )


LEAVE_COMMAND = "sudo docker swarm leave --force >/dev/null 2>&1 || true"


def label_command(node_id: str, labels: dict[str, str]) -> str:
    """Set placement labels on a node (run on a manager)."""
    node = shlex.quote(node_id)
    adds = " ".join(f"--label-add {shlex.quote(f'{k}={v}')}" for k, v in sorted(labels.items()))
    wait = waits.bounded_wait(
        f"sudo docker node inspect {node} >/dev/null",
        what=f"the swarm to know node {node_id}",
        timeout_s=NODE_KNOWN_TIMEOUT_S,
        interval_s=2,
    )
    if not adds:
        return wait
    return f"{wait}; sudo docker node update {adds} {node}"


def remove_node_command(node_id: str, *, manager: bool) -> str:
    """Scale-in: drain the node, wait for its tasks to move, demote a manager, remove it."""
    node = shlex.quote(node_id)
    running = f"sudo docker node ps {node} -q --filter desired-state=running"
    # The drain only gives tasks a chance to stop cleanly: the node is removed with --force anyway.
    drained = waits.bounded_wait(
        f'[ -z "$({running})" ]',
        what=f"the tasks of node {node_id} to stop",
        timeout_s=DRAIN_TIMEOUT_S,
        on_timeout="continue",
    )
    steps = [f"sudo docker node update --availability drain {node}", drained]
    if manager:
        steps.append(f"sudo docker node demote {node} || true")
    steps.append(f"sudo docker node rm --force {node}")
    return "; ".join(steps)


# -- component --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SwarmClusterArgs:
    """Inputs of the swarm cluster."""

    managers: NodePoolArgs
    """Manager pool (odd count, >= 1); these are also the gateway nodes."""
    workers: NodePoolArgs
    """Worker pool (count may be 0)."""
    ssh: SshAccess
    """Credentials for remote commands (no bastion: the gateway is the bastion)."""
    external_network: str
    """External network name: the pool of the gateway's floating IP."""
    manager_labels: dict[str, str] = field(default_factory=dict)
    """Swarm labels set on every manager."""
    worker_labels: dict[str, str] = field(default_factory=dict)
    """Swarm labels set on every worker."""
    routed_after: Sequence[pulumi.Resource] = ()
    """Resources the floating IP association waits for (the router interfaces)."""


class SwarmCluster(pulumi.ComponentResource):
    """Managers + workers joined into one swarm, with a docker provider on manager 0."""

    managers: NodePool
    workers: NodePool
    gateway_ip: openstack.networking.FloatingIp
    gateway_address: pulumi.Output[str]
    manager_addresses: list[pulumi.Output[str]]
    worker_addresses: list[pulumi.Output[str]]
    node_labels: dict[str, dict[str, str]]
    worker_token: pulumi.Output[str]
    manager_token: pulumi.Output[str]
    docker_provider: docker.Provider
    placement: Placement
    """Where the services' public ports and node-local volumes go: the floating IP's node, the first
    worker (or manager 0 without workers) for data, manager 0 for the admin modules."""

    def __init__(self, name: str, args: SwarmClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.managers.count < 1:
            raise ValueError(f"{name}: a swarm needs at least one manager")
        self.managers = NodePool(f"{name}-manager", args.managers, child)
        self.workers = NodePool(f"{name}-worker", args.workers, child)
        self.manager_addresses = self.managers.addresses
        self.worker_addresses = self.workers.addresses

        self.gateway_ip = openstack.networking.FloatingIp(
            f"{name}-gateway", pool=args.external_network, description=f"{name} gateway", opts=child
        )
        association = openstack.networking.FloatingIpAssociate(
            f"{name}-gateway",
            floating_ip=self.gateway_ip.address,
            port_id=self.managers.primary_ports[0].id,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.routed_after)),
        )
        self.gateway_address = self.gateway_ip.address
        leader = args.ssh.connection(self.gateway_address)
        through_gateway = args.ssh.via(self.gateway_address)
        leader_address = self.manager_addresses[0]

        init = remote.Command(
            f"{name}-init",
            connection=leader,
            create=leader_address.apply(init_command),
            delete=LEAVE_COMMAND,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[association, self.managers.instances[0]]),
        )
        tokens = {}
        for role in ("worker", "manager"):
            tokens[role] = remote.Command(
                f"{name}-{role}-token",
                connection=leader,
                create=join_token_command(role),
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[init], additional_secret_outputs=["stdout"]
                ),
            )
        self.worker_token = pulumi.Output.secret(tokens["worker"].stdout)
        self.manager_token = pulumi.Output.secret(tokens["manager"].stdout)

        self.node_labels = {}
        node_ids: list[tuple[str, pulumi.Output[str], bool]] = [
            (self.managers.hostnames[0], init.stdout, True)
        ]
        previous_manager: pulumi.Resource = init
        pools = ((self.managers, True, args.manager_labels), (self.workers, False, args.worker_labels))
        for pool, is_manager, labels in pools:
            for index, hostname in enumerate(pool.hostnames):
                self.node_labels[hostname] = {**labels, NODE_LABEL: hostname}
                if is_manager and index == 0:
                    # Manager 0's primary port holds the floating IP (the association below).
                    self.node_labels[hostname][PUBLIC_LABEL] = "true"
                    continue
                token = self.manager_token if is_manager else self.worker_token
                join = remote.Command(
                    f"{hostname}-join",
                    connection=through_gateway.connection(pool.addresses[index]),
                    create=pulumi.Output.all(token, leader_address, pool.addresses[index]).apply(
                        lambda v: join_command(v[0], v[1], v[2])
                    ),
                    delete=LEAVE_COMMAND,
                    opts=pulumi.ResourceOptions(
                        parent=self,
                        # Managers join one at a time, so Raft never sees two joins at once.
                        depends_on=[pool.instances[index], previous_manager if is_manager else init],
                    ),
                )
                if is_manager:
                    previous_manager = join
                node_ids.append((hostname, join.stdout, is_manager))

        for index, (hostname, node_id, is_manager) in enumerate(node_ids):
            remote.Command(
                f"{hostname}-membership",
                connection=leader,
                create=node_id.apply(lambda nid, h=hostname: label_command(nid.strip(), self.node_labels[h])),
                # Scale-in: runs on manager 0 before this node's instance is destroyed.
                delete=None
                if index == 0
                else node_id.apply(lambda nid, m=is_manager: remove_node_command(nid.strip(), manager=m)),
                opts=child,
            )

        self.placement = Placement(
            public=PUBLIC_CONSTRAINT,
            data_home=node_constraint((self.workers.hostnames or self.managers.hostnames)[0]),
            admin_home=node_constraint(self.managers.hostnames[0]),
        )
        self.docker_provider = docker.Provider(
            f"{name}-docker",
            host=pulumi.Output.concat("ssh://", args.ssh.user, "@", self.gateway_address),
            ssh_opts=["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[init]),
        )
        self.register_outputs(
            {
                "gateway_address": self.gateway_address,
                "manager_addresses": self.manager_addresses,
                "worker_addresses": self.worker_addresses,
                "node_labels": self.node_labels,
            }
        )
