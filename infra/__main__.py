"""The DeepCube platform program: `pulumi up -s ovh` / `-s creodias`, or offline via `infra.plan`.

It only composes components from the validated stack config and exports what operators need.
"""

import pulumi

from components.network import PlatformNetwork, PlatformNetworkArgs
from infra import config as stack_config

cfg = stack_config.load()
prefix = f"{cfg.project}-{cfg.stack}"

network = PlatformNetwork(
    f"{prefix}-net",
    PlatformNetworkArgs(
        external_network=cfg.cloud.external_network,
        roles=dict(cfg.network.roles),
        dns_servers=list(cfg.network.dns_servers),
    ),
)

pulumi.export("router_id", network.router.id)
pulumi.export("network_ids", {role: net.id for role, net in network.networks.items()})
