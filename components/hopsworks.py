"""The Hopsworks cluster: a head node, on-prem workers and an on-demand GPU worker pool.

Hopsworks 3.x installs on plain VMs with its installer (karamel + chef-solo), run on the head as
the login user, which then reaches the workers over SSH. The component declares the nodes, the
installer's RSA key (secret; its public half authorised on every node through cloud-init, its
private half written to the head), one command installing the head alone, and one command per
worker that enrols it on create and decommissions it on delete. What those commands run on the
head, and why, is `components.hopsworks_commands`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_tls as tls
from pulumi_command import remote

from components import cloud_init
from components.access import SshAccess
from components.hopsworks_commands import (
    INSTALL_KEY_COMMAND,
    WorkerKind,
    decommission_command,
    enrol_command,
    install_command,
    worker_id,
)
from components.nodes import NodePool, NodePoolArgs

TYPE_TOKEN = "deepcube:hopsworks:HopsworksCluster"


@dataclass(frozen=True)
class HopsworksPool:
    """One Hopsworks node pool; its cloud-init is rendered by the component (it adds the key)."""

    pool: NodePoolArgs
    """Pool shape; its `user_data` is replaced by the rendered document."""
    data_volume: bool = False
    """Mount the pool's data volume at /srv (where the installer puts /srv/hops)."""
    eodata: cloud_init.EodataMount | None = None
    """EO data mount on these nodes, if any."""
    eodata_credentials: pulumi.Input[str] | None = None
    """Pulumi secret `ACCESS:SECRET` of that mount when it needs keys; the pool's cloud-init then
    holds them, so it is a secret too."""
    nvidia_driver: bool = False
    """Install the NVIDIA driver at first boot (images without it)."""


@dataclass(frozen=True)
class HopsworksClusterArgs:
    """Inputs of the Hopsworks cluster."""

    head: HopsworksPool
    """The head node (count 1; 30 GB / 8 vCPU class)."""
    workers: HopsworksPool
    """On-prem workers, each enrolled by its own command once the head is installed."""
    gpu_workers: HopsworksPool
    """GPU workers, enrolled the same way (count may be 0)."""
    installer_url: pulumi.Input[str]
    """URL of hopsworks-installer.sh; it may carry a token, so the command using it is always secret."""
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
    install: remote.Command
    enrolments: list[remote.Command]

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
            def document(key: str, credentials: str | None) -> str:
                return cloud_init.hopsworks_node(
                    authorized_keys=[*args.authorized_keys, key],
                    volume=cloud_init.DataVolume("/srv") if spec.data_volume else None,
                    eodata=cloud_init.with_keys(spec.eodata, credentials),
                    nvidia_driver=spec.nvidia_driver,
                )

            if spec.eodata is not None and spec.eodata_credentials is not None:
                keys = pulumi.Output.secret(spec.eodata_credentials)
                # secret, as the keys are
                user_data = pulumi.Output.all(public_key, keys).apply(lambda v: document(v[0], v[1]))
            else:
                user_data = public_key.apply(lambda key: document(key, None))
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
        # The head install knows nothing of the workers: scaling a pool never re-runs it.
        self.install = remote.Command(
            f"{name}-install",
            connection=on_head,
            create=pulumi.Output.secret(args.installer_url).apply(install_command),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[key]),
        )
        self.enrolments = [
            *self._enrol(self.workers, "cpu", on_head),
            *self._enrol(self.gpu_workers, "gpu", on_head),
        ]
        self.register_outputs(
            {
                "head_address": self.head_address,
                "worker_addresses": self.worker_addresses,
                "gpu_worker_addresses": self.gpu_worker_addresses,
            }
        )

    def _enrol(
        self, nodes: NodePool, kind: WorkerKind, on_head: remote.ConnectionArgs
    ) -> list[remote.Command]:
        """One command per node: enrol on create, decommission on delete (it runs before the
        instance it depends on is destroyed)."""
        commands = []
        for index, hostname in enumerate(nodes.hostnames):
            wid = worker_id(kind, index)
            address = nodes.addresses[index]
            commands.append(
                remote.Command(
                    f"{hostname}-enrol",
                    connection=on_head,
                    create=address.apply(lambda ip, wid=wid: enrol_command(ip, kind, wid)),
                    delete=address.apply(lambda ip, wid=wid: decommission_command(ip, kind, wid)),
                    opts=pulumi.ResourceOptions(
                        parent=self, depends_on=[self.install, nodes.instances[index]]
                    ),
                )
            )
        return commands
