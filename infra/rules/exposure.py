"""What faces the internet: admin ports in security-group rules, and instances' networks.

`no-public-admin-ports` judges each ingress rule alone, `no-public-admin-ports-union` the rules of
one group together; `instances-on-private-networks` keeps every instance and port off the
external network (public reach goes through floating IPs).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra.manifest import UNKNOWN, ResourceRecord, is_secret
from infra.policy_model import PolicyContext, Violation
from infra.rules.records import INSTANCE, PORT, ROUTER, SEC_GROUP_RULE

# Ports that must never face the whole internet: remote access, the Swarm control and data
# planes (anyone reaching 2377 can join or steer the swarm), the database and admin UIs/APIs.
PROTECTED_PORTS: dict[int, str] = {
    22: "SSH",
    2377: "Swarm management",
    7946: "Swarm gossip",
    4789: "Swarm overlay (VXLAN)",
    5432: "PostgreSQL",
    9000: "Portainer",
    9443: "Portainer",
    3000: "Grafana",
    9090: "Prometheus",
    9200: "OpenSearch",
    5601: "OpenSearch Dashboards",
}


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def no_public_admin_ports(record: ResourceRecord, ctx: PolicyContext) -> list[Violation]:
    """Ingress rules must not open SSH, Swarm, database or admin ports to 0.0.0.0/0 or ::/0.

    A rule without any remote (no prefix, no group) is open to everyone in OpenStack, and a rule
    without a port range covers every port, so both count as open.
    """
    if record.type != SEC_GROUP_RULE:
        return []
    inputs = record.inputs
    if str(inputs.get("direction", "ingress")).lower() != "ingress":
        return []
    protocol = str(inputs.get("protocol") or "any").lower()
    if protocol in ("icmp", "ipv6-icmp", "1", "58"):
        return []
    prefix = inputs.get("remoteIpPrefix")
    if prefix in (None, ""):
        if inputs.get("remoteGroupId") or inputs.get("remoteAddressGroupId"):
            return []
        prefix = "0.0.0.0/0 (no remote set)"
    else:
        try:
            if ipaddress.ip_network(str(prefix), strict=False).prefixlen != 0:
                return []
        except ValueError:
            return []  # an unknown (computed) prefix cannot be judged offline
    low = _as_int(inputs.get("portRangeMin")) or 0
    high = _as_int(inputs.get("portRangeMax")) or 0
    if low == 0 and high == 0:
        low, high = 1, 65535
    high = max(high, low)
    hits = [f"{port} ({label})" for port, label in sorted(PROTECTED_PORTS.items()) if low <= port <= high]
    if not hits:
        return []
    message = f"{protocol} from {prefix} opens {', '.join(hits)}"
    return [Violation("no-public-admin-ports", record.urn, message)]


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, eq=False)
class _IngressRule:
    """What `no-public-admin-ports-union` needs of one security-group rule (compared by identity)."""

    record: ResourceRecord
    group: str
    protocol: str
    prefix: _Network
    low: int
    high: int


def _ingress_rule(record: ResourceRecord) -> _IngressRule | None:
    """A narrower-than-everyone ingress rule with a known prefix; None for anything else.

    Rules open to everyone on their own (prefix /0 or no remote) are `no-public-admin-ports`'
    findings; rules from a remote group and computed prefixes cannot widen a union here.
    """
    inputs = record.inputs
    if record.type != SEC_GROUP_RULE or str(inputs.get("direction", "ingress")).lower() != "ingress":
        return None
    protocol = str(inputs.get("protocol") or "any").lower()
    if protocol in ("icmp", "ipv6-icmp", "1", "58"):
        return None
    try:
        prefix = ipaddress.ip_network(str(inputs.get("remoteIpPrefix") or ""), strict=False)
    except ValueError:
        return None
    if prefix.prefixlen == 0:
        return None
    group = inputs.get("securityGroupId")
    if not isinstance(group, str) or group == UNKNOWN or is_secret(group):
        group = next(iter(record.property_dependencies.get("securityGroupId") or []), record.urn)
    low = _as_int(inputs.get("portRangeMin")) or 0
    high = _as_int(inputs.get("portRangeMax")) or 0
    if low == 0 and high == 0:
        low, high = 1, 65535
    return _IngressRule(record, group, protocol, prefix, low, max(high, low))


def _covers_family(rules: Sequence[_IngressRule]) -> bool:
    """Whether the collapsed prefixes of same-family rules are the whole address family."""
    return any(net.prefixlen == 0 for net in ipaddress.collapse_addresses(rule.prefix for rule in rules))


def no_public_admin_ports_union(records: Sequence[ResourceRecord], ctx: PolicyContext) -> list[Violation]:
    """A security group's ingress rules together must not open a protected port to everyone.

    `no-public-admin-ports` judges each rule alone, so 0.0.0.0/1 + 128.0.0.0/1 would pass it while
    opening the port to all of IPv4. Here the prefixes of one group's rules are collapsed per
    address family, protocol (a rule without protocol counts for every protocol) and protected
    port; a union equal to the whole family is reported once per set of rules, on the first rule.
    """
    by_group: dict[tuple[str, int], list[_IngressRule]] = {}
    for record in records:
        rule = _ingress_rule(record)
        if rule is not None:
            by_group.setdefault((rule.group, rule.prefix.version), []).append(rule)
    ports_by_rules: dict[tuple[str, tuple[_IngressRule, ...]], list[int]] = {}
    for rules in by_group.values():
        for protocol in sorted({rule.protocol for rule in rules}):
            for port in sorted(PROTECTED_PORTS):
                wildcard = [r for r in rules if r.protocol == "any" and r.low <= port <= r.high]
                opening = [r for r in rules if r.protocol in (protocol, "any") and r.low <= port <= r.high]
                if not _covers_family(opening) or (protocol != "any" and _covers_family(wildcard)):
                    continue  # a wildcard-only union is reported once, under "any"
                key = (protocol, tuple(sorted(opening, key=lambda r: (r.record.urn, r.prefix))))
                ports_by_rules.setdefault(key, []).append(port)
    violations = []
    for (protocol, opening), ports in ports_by_rules.items():
        family = "IPv4" if opening[0].prefix.version == 4 else "IPv6"
        prefixes = " + ".join(dict.fromkeys(str(rule.prefix) for rule in opening))
        hits = ", ".join(f"{port} ({PROTECTED_PORTS[port]})" for port in ports)
        message = f"{protocol} from {prefixes} together open {hits} to all of {family}"
        violations.append(Violation("no-public-admin-ports-union", opening[0].record.urn, message))
    return violations


def _external_networks(records: Iterable[ResourceRecord], ctx: PolicyContext) -> set[str]:
    """Names and ids that mean the public network: config, settings and every router's gateway."""
    external = set(ctx.settings.external_networks)
    cloud = ctx.stack_config.get("cloud")
    if isinstance(cloud, Mapping) and isinstance(cloud.get("external_network"), str):
        external.add(cloud["external_network"])
    for record in records:
        if record.type == ROUTER and isinstance(record.inputs.get("externalNetworkId"), str):
            external.add(record.inputs["externalNetworkId"])
    return external


def instances_on_private_networks(records: Sequence[ResourceRecord], ctx: PolicyContext) -> list[Violation]:
    """Instances attach to private networks only; public reach goes through floating IPs.

    An instance declared without networks counts as public: OpenStack then attaches the
    project's default network, which at OVH is the public Ext-Net.
    """
    external = _external_networks(records, ctx)
    violations = []
    for record in records:
        if record.type == PORT and record.inputs.get("networkId") in external:
            violations.append(
                Violation(
                    "instances-on-private-networks",
                    record.urn,
                    f"port is on the external network {record.inputs['networkId']!r}",
                )
            )
        if record.type != INSTANCE:
            continue
        networks = record.inputs.get("networks") or []
        if not networks:
            violations.append(
                Violation(
                    "instances-on-private-networks",
                    record.urn,
                    "declares no network (the cloud would attach its default, public at OVH)",
                )
            )
        for index, network in enumerate(networks):
            if not isinstance(network, Mapping):
                continue
            for key in ("name", "uuid"):
                if network.get(key) in external:
                    violations.append(
                        Violation(
                            "instances-on-private-networks",
                            record.urn,
                            f"networks[{index}].{key} is the external network {network[key]!r}",
                        )
                    )
    return violations
