"""SSH access for the program itself: a generated key, its Nova key pair, and remote connections.

`pulumi up` drives the nodes over SSH (swarm init/join, the Hopsworks installer) with a key it
generates and keeps as a secret in the stack state, so no manual key handling is needed. Every
node is reached through the gateway (bastion) floating IP; the gateway itself directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack
import pulumi_tls as tls
from pulumi_command import remote

TYPE_TOKEN = "deepcube:access:ClusterAccess"


@dataclass(frozen=True)
class SshAccess:
    """How remote commands log in: user and key, optionally through a bastion."""

    user: str
    """Login user on every node (the image's default user)."""
    private_key: pulumi.Input[str]
    """OpenSSH private key (secret)."""
    bastion: pulumi.Input[str] | None = None
    """Public address of the jump host; None to connect directly."""

    def via(self, bastion: pulumi.Input[str]) -> SshAccess:
        """The same credentials, jumping through `bastion`."""
        return SshAccess(self.user, self.private_key, bastion)

    def connection(self, host: pulumi.Input[str]) -> remote.ConnectionArgs:
        """Connection to `host` (a private address when a bastion is set)."""
        proxy = None
        if self.bastion is not None:
            proxy = remote.ProxyConnectionArgs(
                host=self.bastion, user=self.user, private_key=self.private_key, dial_error_limit=60
            )
        return remote.ConnectionArgs(
            host=host,
            user=self.user,
            private_key=self.private_key,
            proxy=proxy,
            # Nodes take a few minutes to boot: keep dialling (about 10 minutes).
            dial_error_limit=60,
            per_dial_timeout=10,
        )


@dataclass(frozen=True)
class ClusterAccessArgs:
    """Inputs of the cluster access key."""

    ssh_user: str
    """Login user on every node."""


class ClusterAccess(pulumi.ComponentResource):
    """An ED25519 key (secret) and the Nova key pair holding its public half."""

    key: tls.PrivateKey
    keypair: openstack.compute.Keypair
    ssh: SshAccess

    def __init__(self, name: str, args: ClusterAccessArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.key = tls.PrivateKey(f"{name}-key", algorithm="ED25519", opts=child)
        self.keypair = openstack.compute.Keypair(
            f"{name}-keypair", name=f"{name}-keypair", public_key=self.key.public_key_openssh, opts=child
        )
        self.ssh = SshAccess(
            user=args.ssh_user, private_key=pulumi.Output.secret(self.key.private_key_openssh)
        )
        self.register_outputs({"keypair": self.keypair.name})
