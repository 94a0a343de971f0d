"""From the stack config to `DataAccess`: where each cube is, and whether the data nodes have EODATA.

The stack file names cubes by the stack's own storage (`container: cubes-published, path: x.zarr`,
or `eodata: path/under/eodata`), never by a free-text URI that could point at a bucket nobody
creates. Here those references become the real locations, with the very naming rule the storage
component uses, so the loader's URIs and the containers cannot drift apart.
"""

from __future__ import annotations

import pulumi

from components.catalogue.common import DATA
from components.data_access import DataAccess
from components.services_config import CubeRef
from components.storage import container_name
from deepcube.config_errors import invalid
from infra.config import PlatformConfig
from infra.config_errors import ConfigError
from infra.pools_config import PoolConfig


def data_pools(cfg: PlatformConfig) -> dict[str, PoolConfig]:
    """The swarm pools the data services may run on, by config key.

    Jupyter, PostGIS and the loader live on the data home (the first worker, or manager 0 in a
    swarm without workers); the Dask cluster on every node labelled like `DATA`.
    """
    label, _, value = DATA.removeprefix("node.labels.").partition("==")
    home = "swarm.workers" if cfg.swarm.workers.count else "swarm.managers"
    pools: dict[str, PoolConfig] = {"swarm.managers": cfg.swarm.managers, "swarm.workers": cfg.swarm.workers}
    return {
        key: pool
        for key, pool in pools.items()
        if pool.count and (key == home or pool.labels.get(label) == value)
    }


def eodata_mount(cfg: PlatformConfig) -> str | None:
    """The EODATA mount point if every node the data services may run on mounts it, else None."""
    if cfg.cloud.eodata is None:
        return None
    if not all(pool.eodata for pool in data_pools(cfg).values()):
        return None
    return cfg.cloud.eodata.mount_point


def cube_location(cube: CubeRef, storage_name: str, eodata: str | None) -> str | None:
    """`s3://<real container name>/<path>`, or `<eodata mount>/<path>`; None if EODATA is not there."""
    if cube.container is not None:
        return f"s3://{container_name(storage_name, cube.container)}/{cube.path}"
    if eodata is None:
        return None
    return f"{eodata.rstrip('/')}/{cube.eodata}"


def cube_uris(cfg: PlatformConfig, storage_name: str) -> dict[str, str]:
    """Cube id -> its location, for every configured cube; errors name the config key to fix."""
    eodata = eodata_mount(cfg)
    uris = {}
    for index, cube in enumerate(cfg.services.data.cubes):
        uri = cube_location(cube, storage_name, eodata)
        if uri is None:
            unmounted = [f"{key}.eodata" for key, pool in data_pools(cfg).items() if not pool.eodata]
            problem = (
                "the nodes the data services run on do not all mount EODATA "
                f"(see {', '.join(unmounted) or 'cloud.eodata'})"
            )
            raise ConfigError(invalid(problem, f"services.data.cubes.{index}.eodata"))
        uris[cube.id] = uri
    return uris


def data_access(cfg: PlatformConfig, storage_name: str, credentials_file: pulumi.Input[str]) -> DataAccess:
    """Everything the data services need to reach the stack's storage and EODATA."""
    return DataAccess(
        s3_endpoint=cfg.cloud.object_storage.endpoint,
        credentials_file=credentials_file,
        s3_region=cfg.cloud.object_storage.signing_region,
        eodata_mount=eodata_mount(cfg),
        cube_uris=cube_uris(cfg, storage_name),
        containers={
            suffix: container_name(storage_name, suffix)
            for suffix in [cfg.storage.public_container, *cfg.storage.private_containers]
        },
    )
