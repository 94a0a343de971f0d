"""What the policies read of the plan's records: the resource types they judge, nested inputs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from infra.invariants.topology import DOCKER_SERVICE, INSTANCE, PORT, SEC_GROUP_RULE

__all__ = [
    "DOCKER_CONTAINER",
    "DOCKER_REMOTE_IMAGE",
    "DOCKER_SERVICE",
    "INSTANCE",
    "PORT",
    "ROUTER",
    "SEC_GROUP_RULE",
    "walk",
]

ROUTER = "openstack:networking/router:Router"
DOCKER_CONTAINER = "docker:index/container:Container"
DOCKER_REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"


def walk(value: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """Every (dotted path, last key, value) pair below a value, depth first."""
    if isinstance(value, Mapping):
        for key, sub in value.items():
            sub_path = f"{path}.{key}" if path else str(key)
            yield sub_path, str(key), sub
            yield from walk(sub, sub_path)
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from walk(sub, f"{path}[{index}]")
