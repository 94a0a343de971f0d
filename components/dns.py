"""Public DNS: the names the gateway serves, pointing at its floating IP.

Caddy can only obtain a certificate for a name that resolves to it, so the records are exactly the
gateway's site addresses, never a hand-kept list. Where the cloud offers DNS as a service
(OpenStack Designate, e.g. at CreoDIAS), the zone and its A records are created here; the operator
only delegates the zone to the cloud's name servers once. Elsewhere (OVH Public Cloud has no
Designate) nothing is created and `records` is what the operator must publish.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_openstack as openstack

TYPE_TOKEN = "deepcube:dns:PublicDns"


def fqdn(name: str) -> str:
    """Designate wants absolute names, with the trailing dot."""
    return name if name.endswith(".") else f"{name}."


@dataclass(frozen=True)
class PublicDnsArgs:
    """Inputs of the public DNS records."""

    zone: str
    """The zone every name lies in, e.g. ovh.deepcube.example.eu."""
    names: Sequence[str]
    """Names that must resolve to `address` (the gateway's site addresses)."""
    address: pulumi.Input[str]
    """The gateway's floating IP."""
    provider: Literal["manual", "designate"] = "manual"
    """designate: create the zone and records in the cloud's DNS service; manual: export only."""
    zone_email: str | None = None
    """SOA contact of a zone created in Designate."""
    ttl: int = 300


class PublicDns(pulumi.ComponentResource):
    """A Designate zone with one A record per name, or nothing but the `records` to publish."""

    records: dict[str, pulumi.Output[str]]
    zone: openstack.dns.Zone | None

    def __init__(self, name: str, args: PublicDnsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        outside = [n for n in args.names if n != args.zone and not n.endswith(f".{args.zone}")]
        if outside:
            raise ValueError(f"{name}: {outside} are not within the zone {args.zone}")
        address = pulumi.Output.from_input(args.address)
        self.records = {n: address for n in sorted(args.names)}
        self.zone = None
        if args.provider == "designate":
            if not args.zone_email:
                raise ValueError(f"{name}: a Designate zone needs a contact address")
            self.zone = openstack.dns.Zone(
                f"{name}-zone",
                name=fqdn(args.zone),
                email=args.zone_email,
                ttl=args.ttl,
                description=f"{name}: the platform's public names",
                opts=child,
            )
            for record in sorted(args.names):
                openstack.dns.RecordSet(
                    f"{name}-{record}",
                    zone_id=self.zone.id,
                    name=fqdn(record),
                    type="A",
                    ttl=args.ttl,
                    records=[address],
                    opts=child,
                )
        self.register_outputs({"records": self.records})
