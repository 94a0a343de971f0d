"""The `swarm` and `hopsworks` sections: the node pools, built from one node spec each.

`count` is the one line to change to scale a pool; which role networks a node joins (and in which
order) is checked against the `network` section once the whole config is read (`infra.config`).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from components.secret_stand_ins import StrictModel
from infra.network_config import ROLES


class NodeSpec(StrictModel):
    """How one kind of node is built: flavor, image, extra volume, networks, mounts."""

    flavor: str = Field(min_length=1, description="OpenStack flavor name, e.g. b2-7 or eo1.large.")
    image: str | None = Field(default=None, description="Image name; defaults to cloud.image.")
    volume_size_gb: int = Field(default=0, ge=0, description="Extra data volume (0: none).")
    networks: list[str] = Field(
        min_length=1, description="Role networks, first one primary (routed); others unrouted links."
    )
    eodata: bool = Field(default=False, description="Attach the EO data network and mount it.")
    nvidia_driver: bool = Field(default=False, description="Install the NVIDIA driver at first boot.")

    @field_validator("networks")
    @classmethod
    def _known_roles(cls, networks: list[str]) -> list[str]:
        for role in networks:
            if role not in ROLES:
                raise ValueError(f"unknown network role {role!r} (expected one of {', '.join(ROLES)})")
        if len(set(networks)) != len(networks):
            raise ValueError("a network role is listed twice")
        return networks


class PoolConfig(NodeSpec):
    """A pool of identical nodes; `count` is the one line to change to scale."""

    count: int = Field(ge=0)
    labels: dict[str, str] = Field(default_factory=dict, description="Swarm node labels for placement.")


class ManagerPoolConfig(PoolConfig):
    """Swarm managers: Raft needs an odd number (1, 3, 5...) to keep a majority."""

    count: int = Field(ge=1)

    @field_validator("count")
    @classmethod
    def _odd(cls, count: int) -> int:
        if count % 2 == 0:
            raise ValueError(f"swarm managers must be an odd number (Raft quorum), got {count}")
        return count


class SwarmConfig(StrictModel):
    """Docker Swarm: managers (also the gateway nodes) and workers."""

    managers: ManagerPoolConfig
    workers: PoolConfig


class HopsworksConfig(StrictModel):
    """Hopsworks: a head node, on-prem workers and an on-demand GPU pool (count may be 0)."""

    installer_url: str = Field(pattern=r"^https://", description="URL of hopsworks-installer.sh.")
    head: NodeSpec
    workers: PoolConfig
    gpu_workers: PoolConfig
