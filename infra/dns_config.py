"""The `dns` section: the zone holding the names the gateway serves."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from components.secret_stand_ins import StrictModel


class DnsConfig(StrictModel):
    """The zone holding the names the gateway serves; which names is not configured here: they are
    exactly the gateway's site addresses (so every certificate Caddy asks for can be issued)."""

    domain: str = Field(pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$", description="The DNS zone, e.g. example.eu.")
    provider: Literal["manual", "designate"] = Field(
        default="manual",
        description="designate: the cloud's DNS service (OpenStack Designate) holds the zone and the "
        "program creates its records; manual: the operator creates the exported `dns_names` records.",
    )
    zone_email: str | None = Field(
        default=None, pattern=r"^[^@\s]+@[^@\s]+$", description="Zone contact (SOA), for designate."
    )
    ttl: int = Field(default=300, ge=60, description="TTL of the records the program creates.")
