"""The Hopsworks cluster: a head node, on-prem workers and an on-demand GPU worker pool.

Hopsworks 3.x installs on plain VMs with its installer (karamel + chef-solo), run on the head as
the login user, which then reaches the workers over SSH. This component:
- generates the installer's RSA key (secret), authorises its public half on every Hopsworks node
  through cloud-init and writes the private half to the head with a remote command (stdin);
- runs `hopsworks-installer.sh -i cluster -ni -c on-premises -w <worker IPs>` on the head;
- enrols each GPU worker with its own remote command (the installer on the head, `-w <its IP>`),
  so changing `hopsworks.gpu_workers.count` adds or removes GPU nodes without touching the rest;
  on delete that command stops the node's Hopsworks services before the instance is destroyed.
Installer runs are serialised on the head with `flock`.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_tls as tls
from pulumi_command import remote

from components import cloud_init
from components.access import SshAccess
from components.nodes import NodePool, NodePoolArgs

TYPE_TOKEN = "deepcube:hopsworks:HopsworksCluster"
INSTALLER = "~/hopsworks-installer.sh"
LOCK = "~/.hopsworks-installer.lock"
SHUTDOWN = "sudo /srv/hops/kagent/kagent/bin/shutdown-all-local-services.sh -f"
SSH_OPTS = "-o StrictHostKeyChecking=no -o BatchMode=yes"

# -- pure command builders -------------------------------------------------------------------------


def installer_args(workers: Sequence[str]) -> list[str]:
    """Arguments of a non-interactive cluster install on premises with the given worker IPs."""
    return ["-i", "cluster", "-ni", "-c", "on-premises", "-w", ",".join(workers) or "none"]


def install_command(installer_url: str, workers: Sequence[str]) -> str:
    """Fetch the installer once, wait until every worker accepts SSH, then run it (serialised)."""
    ready = "'cloud-init status --wait' >/dev/null 2>&1"
    wait = " ".join(f"until ssh {SSH_OPTS} {shlex.quote(ip)} {ready}; do sleep 10; done;" for ip in workers)
    fetch = f"curl -fsSL -o {INSTALLER} {shlex.quote(installer_url)} && chmod +x {INSTALLER}"
    args = " ".join(shlex.quote(arg) for arg in installer_args(workers))
    return (
        "set -e; cloud-init status --wait >/dev/null 2>&1 || true; "
        f"[ -x {INSTALLER} ] || {{ {fetch}; }}; "
        f"{wait} cd ~ && flock {LOCK} {INSTALLER} {args}"
    )


def decommission_command(worker: str) -> str:
    """Before a worker is destroyed: stop its Hopsworks services from the head (best effort)."""
    return f"ssh {SSH_OPTS} {shlex.quote(worker)} {shlex.quote(SHUTDOWN)} || true"


INSTALL_KEY_COMMAND = (
    "install -d -m 700 ~/.ssh && (umask 077 && cat > ~/.ssh/id_rsa) && "
    "ssh-keygen -y -f ~/.ssh/id_rsa > ~/.ssh/id_rsa.pub"
)

# -- component --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HopsworksPool:
    """One Hopsworks node pool; its cloud-init is rendered by the component (it adds the key)."""

    pool: NodePoolArgs
    """Pool shape; its `user_data` is replaced by the rendered document."""
    data_volume: bool = False
    """Mount the pool's data volume at /srv (where the installer puts /srv/hops)."""
    eodata: cloud_init.EodataMount | None = None
    """EO data mount on these nodes, if any."""
    nvidia_driver: bool = False
    """Install the NVIDIA driver at first boot (images without it)."""


@dataclass(frozen=True)
class HopsworksClusterArgs:
    """Inputs of the Hopsworks cluster."""

    head: HopsworksPool
    """The head node (count 1; 30 GB / 8 vCPU class)."""
    workers: HopsworksPool
    """On-prem workers installed with the head."""
    gpu_workers: HopsworksPool
    """GPU workers, enrolled one by one (count may be 0)."""
    installer_url: str
    """URL of hopsworks-installer.sh."""
    ssh: SshAccess
    """Credentials for remote commands, through the gateway."""
    authorized_keys: Sequence[str] = ()
    """Operators' public keys added on every node."""


class HopsworksCluster(pulumi.ComponentResource):
    """Head + workers + GPU pool, installed by the Hopsworks installer."""

    head: NodePool
    workers: NodePool
    gpu_workers: NodePool
    head_address: pulumi.Output[str]
    worker_addresses: list[pulumi.Output[str]]
    gpu_worker_addresses: list[pulumi.Output[str]]
    installer_key: tls.PrivateKey

    def __init__(self, name: str, args: HopsworksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.head.pool.count != 1:
            raise ValueError(f"{name}: Hopsworks has exactly one head node")
        self.installer_key = tls.PrivateKey(
            f"{name}-installer-key", algorithm="RSA", rsa_bits=4096, opts=child
        )
        public_key = self.installer_key.public_key_openssh.apply(str.strip)

        def pool(role: str, spec: HopsworksPool) -> NodePool:
            user_data = public_key.apply(
                lambda key: cloud_init.hopsworks_node(
                    authorized_keys=[*args.authorized_keys, key],
                    volume=cloud_init.DataVolume("/srv") if spec.data_volume else None,
                    eodata=spec.eodata,
                    nvidia_driver=spec.nvidia_driver,
                )
            )
            return NodePool(f"{name}-{role}", dataclasses.replace(spec.pool, user_data=user_data), child)

        self.head = pool("head", args.head)
        self.workers = pool("worker", args.workers)
        self.gpu_workers = pool("gpu", args.gpu_workers)
        self.head_address = self.head.addresses[0]
        self.worker_addresses = self.workers.addresses
        self.gpu_worker_addresses = self.gpu_workers.addresses
        on_head = args.ssh.connection(self.head_address)

        key = remote.Command(
            f"{name}-installer-key",
            connection=on_head,
            create=INSTALL_KEY_COMMAND,
            stdin=pulumi.Output.secret(self.installer_key.private_key_openssh),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.head.instances[0]]),
        )
        install = remote.Command(
            f"{name}-install",
            connection=on_head,
            create=pulumi.Output.all(*self.worker_addresses).apply(
                lambda ips: install_command(args.installer_url, list(ips))
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[key, *self.workers.instances]),
        )
        for index, hostname in enumerate(self.gpu_workers.hostnames):
            address = self.gpu_worker_addresses[index]
            remote.Command(
                f"{hostname}-enrol",
                connection=on_head,
                create=address.apply(lambda ip: install_command(args.installer_url, [ip])),
                delete=address.apply(decommission_command),
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[install, self.gpu_workers.instances[index]]
                ),
            )
        self.register_outputs(
            {
                "head_address": self.head_address,
                "worker_addresses": self.worker_addresses,
                "gpu_worker_addresses": self.gpu_worker_addresses,
            }
        )
