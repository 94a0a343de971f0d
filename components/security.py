"""Security groups per role, least privilege, from one pure rule table.

Groups are attached per port (a node's NIC on one role network gets that role's groups), so a
rule never opens more than one network. The table is plain data (`security_rules`), tested and
reviewed without Pulumi:
- `bastion`: SSH from the allow-listed CIDRs only; attached to the gateway nodes;
- `web`: HTTP/HTTPS from anywhere, HTTPS over TCP and over UDP (HTTP/3, which Caddy serves);
  attached to the public gateway node only;
- `clients`: TCP services the gateway publishes to named client networks only (e.g. PostGIS
  through Traefik), one rule per port and client CIDR; attached to the public gateway node only;
- `ssh-internal`: SSH from the `bastion` group (the gateway jump host) to every node;
- `swarm`: 2377/tcp, 7946/tcp+udp, 4789/udp from the swarm subnet only;
- `hopsworks`: Hopsworks services from the hopsworks subnet (SSH only from the head's
  `hopsworks-installer` group, for the installer; never 80/443);
- `data`, `interlink`: storage traffic and the Hopsworks endpoints used by swarm services,
  each from its own subnet; `egress`: outbound IPv4 (security groups are stateful).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_openstack as openstack

TYPE_TOKEN = "deepcube:security:PlatformSecurity"

SSH = 22
HTTP_PORTS = (80, 443)
WEB_RULES = (("tcp", 80), ("tcp", 443), ("udp", 443))
SWARM_PORTS = (("tcp", 2377), ("tcp", 7946), ("udp", 7946), ("udp", 4789))
HOPSWORKS_LINK_PORTS = (
    3306,  # online feature store (MySQL/RonDB)
    5005,  # Arrow Flight query service
    8020,  # HopsFS namenode
    8181,  # Hopsworks REST API / UI (served to the gateway's reverse proxy)
    9083,  # Hive metastore
    9085,  # Hive server
    9092,  # Kafka
    50010,  # HopsFS datanode
)

ROLE_GROUPS: dict[str, tuple[str, ...]] = {
    "swarm": ("egress", "ssh-internal", "swarm"),
    "hopsworks": ("egress", "ssh-internal", "hopsworks"),
    "data": ("egress", "data"),
    "interlink": ("egress", "interlink"),
    "eodata": ("egress",),
}
"""Groups on a node's port in each network role (the provider's EO data network included)."""

GATEWAY_GROUPS = ("bastion", "web", "clients")
"""Extra groups on the public gateway node's primary port (the one holding the floating IP)."""

INSTALLER_GROUPS = ("hopsworks-installer",)
"""Extra group on the Hopsworks head's primary port: its SSH reaches the Hopsworks workers."""


@dataclass(frozen=True)
class Rule:
    """One ingress/egress rule; exactly one of `remote_cidr` / `remote_group` is set."""

    protocol: str | None
    """tcp, udp, icmp, or None for any protocol."""
    port_min: int | None
    """First port (None: all ports)."""
    port_max: int | None
    """Last port (None: all ports)."""
    remote_cidr: str | None = None
    """Source (ingress) or destination (egress) CIDR."""
    remote_group: str | None = None
    """Source group name (a key of the same table)."""
    direction: str = "ingress"
    """ingress or egress."""
    description: str = ""
    """Why the rule exists; shown in the cloud console."""

    @property
    def key(self) -> str:
        """A stable, readable name for the rule (so list order never renames resources)."""
        ports = (
            "all"
            if self.port_min is None
            else (
                str(self.port_min) if self.port_min == self.port_max else f"{self.port_min}-{self.port_max}"
            )
        )
        remote = self.remote_group or (self.remote_cidr or "any").replace("/", "_")
        return f"{self.direction[:2]}-{self.protocol or 'any'}-{ports}-{remote}"

    def covers(self, port: int) -> bool:
        """Whether this rule lets `port` through (any protocol carrying ports)."""
        if self.protocol not in (None, "tcp", "udp"):
            return False
        if self.port_min is None:
            return True
        return self.port_min <= port <= (self.port_max or self.port_min)


def port_ranges_excluding(excluded: tuple[int, ...]) -> list[tuple[int, int]]:
    """1..65535 minus the given ports, as (min, max) ranges."""
    ranges = []
    start = 1
    for port in sorted(set(excluded)):
        if port > start:
            ranges.append((start, port - 1))
        start = port + 1
    if start <= 65535:
        ranges.append((start, 65535))
    return ranges


def _one(protocol: str, port: int, *, cidr: str | None = None, group: str | None = None, why: str) -> Rule:
    return Rule(protocol, port, port, remote_cidr=cidr, remote_group=group, description=why)


def _subnet_all_but(cidr: str, excluded: tuple[int, ...], why: str) -> list[Rule]:
    rules = [
        Rule(protocol, low, high, remote_cidr=cidr, description=why)
        for protocol in ("tcp", "udp")
        for low, high in port_ranges_excluding(excluded)
    ]
    rules.append(Rule("icmp", None, None, remote_cidr=cidr, description="ping within the subnet"))
    return rules


def security_rules(
    *,
    cidrs: dict[str, str],
    ssh_allowed_cidrs: list[str],
    client_ports: Mapping[int, Sequence[str]] | None = None,
) -> dict[str, list[Rule]]:
    """Group name -> rules. `cidrs` maps each role network to its subnet CIDR; `client_ports` maps a
    TCP port the gateway publishes to the client CIDRs allowed to reach it."""
    swarm, hopsworks, data, interlink = (cidrs[r] for r in ("swarm", "hopsworks", "data", "interlink"))
    # Never opened subnet-wide: SSH (bastion/installer only), HTTP(S) (gateway only), swarm ports.
    closed = (SSH, *HTTP_PORTS, *(port for _, port in SWARM_PORTS))
    return {
        "egress": [
            Rule(None, None, None, remote_cidr="0.0.0.0/0", direction="egress", description="outbound IPv4"),
        ],
        "bastion": [
            _one("tcp", SSH, cidr=cidr, why="SSH from an allow-listed CIDR") for cidr in ssh_allowed_cidrs
        ],
        "web": [
            _one(proto, port, cidr="0.0.0.0/0", why="public HTTP(S) on the gateway")
            for proto, port in WEB_RULES
        ],
        "clients": [
            _one("tcp", port, cidr=cidr, why="a published service for an authorised client network")
            for port, client_cidrs in sorted((client_ports or {}).items())
            for cidr in client_cidrs
        ],
        "ssh-internal": [_one("tcp", SSH, group="bastion", why="SSH from the bastion/gateway")],
        "swarm": [
            *(
                _one(proto, port, cidr=swarm, why="Docker Swarm control/gossip/overlay")
                for proto, port in SWARM_PORTS
            ),
            Rule("icmp", None, None, remote_cidr=swarm, description="ping within the swarm subnet"),
        ],
        "hopsworks-installer": [],
        "hopsworks": [
            *_subnet_all_but(hopsworks, closed, "Hopsworks services within the cluster"),
            _one("tcp", SSH, group="hopsworks-installer", why="SSH from the Hopsworks head (installer)"),
        ],
        "data": _subnet_all_but(data, closed, "storage traffic on the data network"),
        "interlink": [
            _one("tcp", port, cidr=interlink, why="Hopsworks endpoints for swarm services")
            for port in HOPSWORKS_LINK_PORTS
        ],
    }


@dataclass(frozen=True)
class PlatformSecurityArgs:
    """Inputs of the platform's security groups."""

    cidrs: dict[str, str]
    """Role network -> subnet CIDR (swarm, hopsworks, data, interlink)."""
    ssh_allowed_cidrs: list[str]
    """CIDRs allowed to SSH to the gateway nodes."""
    client_ports: Mapping[int, Sequence[str]] = field(default_factory=dict)
    """TCP port published on the gateway -> client CIDRs allowed to reach it (e.g. 5432 for PostGIS)."""


class PlatformSecurity(pulumi.ComponentResource):
    """One security group per table entry, default rules deleted, then the table's rules."""

    groups: dict[str, openstack.networking.SecGroup]

    def __init__(self, name: str, args: PlatformSecurityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        table = security_rules(
            cidrs=args.cidrs, ssh_allowed_cidrs=args.ssh_allowed_cidrs, client_ports=args.client_ports
        )
        self.groups = {
            group: openstack.networking.SecGroup(
                f"{name}-{group}",
                name=f"{name}-{group}",
                description=f"deepcube {group}",
                delete_default_rules=True,
                opts=child,
            )
            for group in table
        }
        for group, rules in table.items():
            for rule in rules:
                openstack.networking.SecGroupRule(
                    f"{name}-{group}-{rule.key}",
                    security_group_id=self.groups[group].id,
                    direction=rule.direction,
                    ethertype="IPv4",
                    protocol=rule.protocol,
                    port_range_min=rule.port_min,
                    port_range_max=rule.port_max,
                    remote_ip_prefix=rule.remote_cidr,
                    remote_group_id=self.groups[rule.remote_group].id if rule.remote_group else None,
                    description=rule.description,
                    opts=child,
                )
        self.register_outputs({"group_ids": {group: sg.id for group, sg in self.groups.items()}})

    def ids(self, names: tuple[str, ...] | list[str]) -> list[pulumi.Output[str]]:
        """Group ids for a port, in the given order."""
        return [self.groups[name].id for name in names]
