"""The `network` and `access` sections: the private role networks, and who may reach the nodes.

`ROLES` is the one list of network roles; node specs (`infra.pools_config`) name their networks
from it, and whether a node's first network is routed is checked once the whole config is read.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from pydantic import Field, field_validator

from components.network import DEFAULT_MTU
from components.secret_stand_ins import StrictModel, narrow_cidrs

ROLES = ("swarm", "hopsworks", "data", "interlink")
"""The private network roles every stack has (one network + subnet each)."""


class RoleNetwork(StrictModel):
    """One private network: its subnet and whether it is routed to the external network."""

    cidr: str
    routed: bool = Field(
        default=True,
        description="Routed subnets get a gateway on the router; unrouted ones are private links "
        "without a gateway (so a second NIC never adds a second default route).",
    )

    @field_validator("cidr")
    @classmethod
    def _private_cidr(cls, cidr: str) -> str:
        try:
            net = ipaddress.ip_network(cidr)
        except ValueError as exc:
            raise ValueError(f"{cidr!r} is not a CIDR") from exc
        if not net.is_private:
            raise ValueError(f"{cidr} is not a private range")
        return cidr


class Roles(StrictModel):
    """The four role networks; their CIDRs must not overlap."""

    swarm: RoleNetwork
    hopsworks: RoleNetwork
    data: RoleNetwork
    interlink: RoleNetwork


class NetworkConfig(StrictModel):
    """Private networks, one per role, each with its own CIDR."""

    dns_servers: list[str] = Field(min_length=1, description="Resolvers handed out by every subnet.")
    roles: Roles
    mtu: int = Field(
        default=DEFAULT_MTU,
        ge=1280,
        le=9000,
        description="MTU the cloud gives the role networks (`openstack network show -c mtu`; VXLAN "
        "tenant networks: 1450). Docker's overlay networks get this less the VXLAN header.",
    )

    @field_validator("roles")
    @classmethod
    def _disjoint(cls, roles: Roles) -> Roles:
        seen: dict[str, Any] = {}
        for role in ROLES:
            net = ipaddress.ip_network(getattr(roles, role).cidr)
            for other, other_net in seen.items():
                if net.overlaps(other_net):
                    raise ValueError(f"{role}: {net} overlaps {other} ({other_net})")
            seen[role] = net
        return roles

    def cidr(self, role: str) -> str:
        return getattr(self.roles, role).cidr


class AccessConfig(StrictModel):
    """Who may reach the nodes over SSH."""

    ssh_user: str = Field(default="ubuntu", pattern=r"^[a-z_][a-z0-9_-]*$")
    ssh_allowed_cidrs: list[str] = Field(
        min_length=1, description="CIDRs allowed to SSH to the gateway (bastion); never 0.0.0.0/0."
    )
    authorized_keys: list[str] = Field(
        default_factory=list, description="Operators' public keys (also used by the docker provider)."
    )

    @field_validator("ssh_allowed_cidrs")
    @classmethod
    def _narrow(cls, cidrs: list[str]) -> list[str]:
        return narrow_cidrs(cidrs, "SSH")

    @field_validator("authorized_keys")
    @classmethod
    def _keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if not key.startswith(("ssh-", "ecdsa-")):
                raise ValueError(f"{key[:20]!r}... is not an OpenSSH public key")
        return keys
