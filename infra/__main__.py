"""The DeepCube platform program: `pulumi up -s ovh` / `-s creodias`, or offline via `infra.plan`.

It only composes components from the validated stack config and exports what operators need.
Every cloud difference is a config value; nothing here asks which cloud it is on.
"""


import pulumi

from components import cloud_init
from components.access import ClusterAccess, ClusterAccessArgs
from components.catalogue.common import HOPSWORKS_PORT, HopsworksLink
from components.dns import PublicDns, PublicDnsArgs
from components.hopsworks import HopsworksCluster, HopsworksClusterArgs, HopsworksPool
from components.network import PlatformNetwork, PlatformNetworkArgs, RoleSubnet, overlay_mtu
from components.nodes import NodePoolArgs, PortAttachment
from components.platform_services import PlatformServices, PlatformServicesArgs
from components.security import (
    GATEWAY_GROUPS,
    INSTALLER_GROUPS,
    ROLE_GROUPS,
    PlatformSecurity,
    PlatformSecurityArgs,
)
from components.storage import ObjectStorage, ObjectStorageArgs
from components.swarm import SwarmCluster, SwarmClusterArgs
from infra import config as stack_config
from infra import storage_wiring
from infra.config import PlatformConfig
from infra.network_config import ROLES
from infra.pools_config import NodeSpec


def gateway_client_ports(cfg: PlatformConfig) -> dict[int, list[str]]:
    """Ports the gateway publishes to named client networks only (PostGIS through Traefik)."""
    gateway = cfg.services.gateway
    return {gateway.postgis_port: list(gateway.postgis_clients)} if gateway.postgis_clients else {}


def hopsworks_link(cluster: HopsworksCluster) -> HopsworksLink | None:
    """The head's addresses on the networks the gateway (interlink) and the data services (data) share
    with it; a stack whose head is on neither network gets no link, and no route or card."""
    head = cluster.head.addresses_on
    if "interlink" not in head or "data" not in head:
        return None
    upstream = pulumi.Output.concat("https://", head["interlink"][0], f":{HOPSWORKS_PORT}")
    return HopsworksLink(gateway_upstream=upstream, data_host=head["data"][0], port=HOPSWORKS_PORT)


cfg: PlatformConfig = stack_config.load()
prefix = f"{cfg.project}-{cfg.stack}"
metadata = {"project": cfg.project, "stack": cfg.stack, "cloud": cfg.cloud.name}
eodata = cfg.cloud.eodata
eodata_mount = cloud_init.EodataMount(eodata.bucket, eodata.endpoint, eodata.mount_point) if eodata else None
eodata_keys = pulumi.Output.secret(eodata.credentials) if eodata and eodata.credentials is not None else None
"""The EODATA keys, if the stack has some: only ever handled as a Pulumi secret."""
uses_eodata = any(spec.eodata for spec in cfg.node_specs().values())

network = PlatformNetwork(
    f"{prefix}-net",
    PlatformNetworkArgs(
        external_network=cfg.cloud.external_network,
        roles={role: RoleSubnet(**getattr(cfg.network.roles, role).model_dump()) for role in ROLES},
        dns_servers=list(cfg.network.dns_servers),
        provider_networks=[eodata.network] if eodata and eodata.network and uses_eodata else [],
    ),
)
security = PlatformSecurity(
    f"{prefix}-sg",
    PlatformSecurityArgs(
        cidrs={role: cfg.network.cidr(role) for role in ROLES},
        ssh_allowed_cidrs=list(cfg.access.ssh_allowed_cidrs),
        client_ports=gateway_client_ports(cfg),
    ),
)
access = ClusterAccess(f"{prefix}-access", ClusterAccessArgs(ssh_user=cfg.access.ssh_user))


def attachments(spec: NodeSpec) -> list[PortAttachment]:
    """The spec's role networks (first = primary), plus the EO data network if asked."""
    ports = [
        PortAttachment(role, network.networks[role].id, security.ids(ROLE_GROUPS[role]))
        for role in spec.networks
    ]
    if spec.eodata and eodata and eodata.network:
        ports.append(
            PortAttachment(
                "eodata", network.provider_network_ids[eodata.network], security.ids(ROLE_GROUPS["eodata"])
            )
        )
    return ports


def pool_args(
    role: str, spec: NodeSpec, count: int, user_data: pulumi.Input[str] = "", **extra
) -> NodePoolArgs:
    return NodePoolArgs(
        role=role,
        count=count,
        flavor=spec.flavor,
        image=cfg.image_of(spec),
        key_pair=access.keypair.name,
        user_data=user_data,
        attachments=attachments(spec),
        volume_size_gb=spec.volume_size_gb,
        metadata=metadata,
        **extra,
    )


def docker_user_data(spec: NodeSpec) -> pulumi.Input[str]:
    """The pool's cloud-init; a secret when it carries the EODATA keys."""

    def document(keys: str | None) -> str:
        return cloud_init.docker_node(
            ssh_user=cfg.access.ssh_user,
            authorized_keys=cfg.access.authorized_keys,
            volume=cloud_init.DataVolume(cloud_init.DOCKER_DATA_ROOT) if spec.volume_size_gb else None,
            eodata=cloud_init.with_keys(eodata_mount if spec.eodata else None, keys),
            node_mtu=cfg.network.mtu,
        )

    if spec.eodata and eodata_keys is not None:
        return eodata_keys.apply(document)  # secret, as the keys are
    return document(None)


managers, workers = cfg.swarm.managers, cfg.swarm.workers
swarm = SwarmCluster(
    f"{prefix}-swarm",
    SwarmClusterArgs(
        managers=pool_args(
            "swarm-manager",
            managers,
            managers.count,
            docker_user_data(managers),
            # Only manager 0 holds the floating IP: the gateway's groups guard that one port.
            first_node_extra_groups=security.ids(GATEWAY_GROUPS),
        ),
        workers=pool_args("swarm-worker", workers, workers.count, docker_user_data(workers)),
        ssh=access.ssh,
        external_network=cfg.cloud.external_network,
        manager_labels=dict(managers.labels),
        worker_labels=dict(workers.labels),
        routed_after=network.router_interfaces,
    ),
)


def hopsworks_pool(role: str, spec: NodeSpec, count: int, **extra) -> HopsworksPool:
    return HopsworksPool(
        pool=pool_args(role, spec, count, **extra),
        data_volume=spec.volume_size_gb > 0,
        eodata=eodata_mount if spec.eodata else None,
        eodata_credentials=eodata_keys if spec.eodata else None,
        nvidia_driver=spec.nvidia_driver,
    )


hw = cfg.hopsworks
hopsworks = HopsworksCluster(
    f"{prefix}-hopsworks",
    HopsworksClusterArgs(
        head=hopsworks_pool(
            "hopsworks-head", hw.head, 1, all_nodes_extra_groups=security.ids(INSTALLER_GROUPS)
        ),
        workers=hopsworks_pool("hopsworks-worker", hw.workers, hw.workers.count),
        gpu_workers=hopsworks_pool("hopsworks-gpu", hw.gpu_workers, hw.gpu_workers.count),
        installer_url=hw.installer_url,
        ssh=access.ssh.via(swarm.gateway_address),
        authorized_keys=list(cfg.access.authorized_keys),
    ),
)

storage_name = f"{prefix}-store"
storage = ObjectStorage(
    storage_name,
    ObjectStorageArgs(
        region=cfg.cloud.object_storage.region,
        # The identity API of the project's (compute) region issues the EC2 credential.
        credential_region=cfg.cloud.region,
        s3_endpoint=cfg.cloud.object_storage.endpoint,
        signing_region=cfg.cloud.object_storage.signing_region,
        public_container=cfg.storage.public_container,
        private_containers=list(cfg.storage.private_containers),
        metadata=metadata,
    ),
)

secrets = pulumi.Config()
services = PlatformServices(
    f"{prefix}-services",
    PlatformServicesArgs(
        provider=swarm.docker_provider,
        config=cfg.services,
        prefix=prefix,
        placement=swarm.placement,
        hopsworks=hopsworks_link(hopsworks),
        registry_password=secrets.get_secret("registry_password"),
        external_secrets={key: secrets.require_secret(key) for key in cfg.services.social_media.secret_keys},
        smtp_uri=secrets.get_secret("smtp_uri"),
        data_access=storage_wiring.data_access(cfg, storage_name, storage.credentials_file),
        overlay_mtu=overlay_mtu(cfg.network.mtu),
    ),
    opts=pulumi.ResourceOptions(depends_on=[swarm]),
)

dns = PublicDns(
    f"{prefix}-dns",
    PublicDnsArgs(
        zone=cfg.dns.domain,
        names=services.site_names,
        address=swarm.gateway_address,
        provider=cfg.dns.provider,
        zone_email=cfg.dns.zone_email,
        ttl=cfg.dns.ttl,
    ),
)

pulumi.export("router_id", network.router.id)
pulumi.export("network_ids", {role: net.id for role, net in network.networks.items()})
pulumi.export("gateway_address", swarm.gateway_address)
pulumi.export("dns_names", dns.records)
pulumi.export("dns_provider", cfg.dns.provider)
pulumi.export("swarm_manager_addresses", swarm.manager_addresses)
pulumi.export("swarm_worker_addresses", swarm.worker_addresses)
pulumi.export("swarm_node_labels", swarm.node_labels)
pulumi.export("hopsworks_head_address", hopsworks.head_address)
pulumi.export("hopsworks_worker_addresses", hopsworks.worker_addresses)
pulumi.export("hopsworks_gpu_worker_addresses", hopsworks.gpu_worker_addresses)
pulumi.export("s3_endpoint", storage.s3_endpoint)
pulumi.export("s3_signing_region", storage.s3_signing_region)
pulumi.export("s3_access_key", storage.s3_access_key)
pulumi.export("s3_secret_key", storage.s3_secret_key)
pulumi.export("containers", {suffix: c.name for suffix, c in storage.containers.items()})
pulumi.export("public_container", storage.public_container.name)
pulumi.export("ssh_private_key", access.ssh.private_key)
pulumi.export("homepage_url", services.homepage_url)
pulumi.export("module_urls", services.module_urls)
