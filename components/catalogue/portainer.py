"""Portainer: the server on a manager (its database on a node-local volume), the agent on every node."""

from __future__ import annotations

from components.catalogue.common import LINUX, MANAGER, Context
from components.roles import ADMIN_ONLY
from components.service import STOP_FIRST, HomepageEntry, HttpRoute, Mount, Resources, ServiceSpec

NO_SHELL = "the image has no shell or HTTP client to probe with; Swarm restarts the task if it exits"


def specs(ctx: Context) -> list[ServiceSpec]:
    cfg = ctx.config.portainer
    if not cfg.enabled:
        return []
    agent_service = f"{ctx.prefix}-portainer-agent"
    return [
        ServiceSpec(
            name="portainer-agent",
            image=cfg.agent_image,
            mode="global",
            networks=("portainer",),
            constraints=(LINUX,),
            env={"AGENT_CLUSTER_ADDR": f"tasks.{agent_service}"},
            mounts=(
                Mount("/var/run/docker.sock", "/var/run/docker.sock", "bind"),
                Mount("/var/lib/docker/volumes", "/var/lib/docker/volumes", "bind"),
            ),
            resources=Resources(0.2, 128, 0.02, 32),
            no_healthcheck_reason=NO_SHELL,
            exposes="admin-api",  # the Docker engine of every node, on port 9001
        ),
        ServiceSpec(
            name="portainer",
            image=cfg.server_image,
            networks=("portainer", "admin"),
            constraints=(MANAGER, ctx.placement.admin_home),
            args=("-H", f"tcp://tasks.{agent_service}:9001", "--tlsskipverify"),
            mounts=(Mount(ctx.volume("portainer-data"), "/data"),),
            resources=Resources(0.5, 512, 0.05, 64),
            no_healthcheck_reason=NO_SHELL,
            route=HttpRoute("/portainer", 9000, protected=True, strip_prefix=True, roles=ADMIN_ONLY),
            exposes="admin-ui",
            homepage=HomepageEntry(
                "Portainer", "Manage the Swarm: services, tasks, volumes, logs.", "PT", "portainer"
            ),
            update=STOP_FIRST,
            after=("portainer-agent",),
        ),
    ]
