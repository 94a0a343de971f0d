"""Where the services that cannot run just anywhere go, as Swarm placement constraints.

A service with a node-local named volume must always land on the node that holds its data (a
reschedule elsewhere would silently start on an empty volume), and a service publishing host-mode
ports must land where the internet can reach it (the node holding the floating IP). The swarm
component labels its nodes for this; the catalogue only ever uses the constraints built here.
"""

from __future__ import annotations

from dataclasses import dataclass

NODE_LABEL = "deepcube.node"
"""Set on every node to its hostname: pins a service to exactly one node."""
PUBLIC_LABEL = "deepcube.public"
"""Set to `true` on the node whose port holds the floating IP."""
PUBLIC_CONSTRAINT = f"node.labels.{PUBLIC_LABEL}==true"


def node_constraint(hostname: str) -> str:
    """Placement on exactly one node, e.g. for a service whose named volume lives on that node."""
    return f"node.labels.{NODE_LABEL}=={hostname}"


@dataclass(frozen=True)
class Placement:
    """The three fixed homes of the platform's services."""

    public: str
    """The node the internet reaches (floating IP): the gateway's host-mode ports."""
    data_home: str
    """The one node keeping the data and identity services' volumes (PostGIS, OpenSearch, ...)."""
    admin_home: str
    """The one manager keeping the admin modules' volumes (Prometheus, Grafana, Portainer)."""
