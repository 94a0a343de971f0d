"""Public names: the DNS names the stack publishes are exactly the sites the gateway serves.

Caddy obtains a certificate per site address by ACME, which only succeeds when the name resolves to
the gateway; a published name with no site serves nothing, and a site with no name gets no
certificate. The published names are the Designate records the plan creates, or, where the cloud has
no DNS service, the exported `dns_names` the operator publishes (both, when both exist).
"""

from __future__ import annotations

from collections.abc import Sequence

from infra.invariants.topology import caddy_sites
from infra.manifest import ResourceRecord
from infra.policy_model import PolicyContext, Violation

RECORD_SET = "openstack:dns/recordSet:RecordSet"


def _compare(what: str, published: set[str], sites: set[str]) -> list[Violation]:
    violations = []
    if sites - published:
        violations.append(Violation(
            "dns-names-match-sites", None,
            f"{what} lack the gateway's sites {', '.join(sorted(sites - published))} (no certificate)",
        ))
    if published - sites:
        violations.append(Violation(
            "dns-names-match-sites", None,
            f"{what} name {', '.join(sorted(published - sites))}, which the gateway does not serve",
        ))
    return violations


def dns_names_match_sites(records: Sequence[ResourceRecord], ctx: PolicyContext) -> list[Violation]:
    """Exported names and created records each equal the set of Caddy site addresses."""
    sites = caddy_sites(records)
    if not sites:
        return []
    violations = []
    if "dns_names" in ctx.outputs:  # the CrossGuard pack sees resources, not the stack's exports
        violations += _compare("exported dns_names", set(ctx.outputs["dns_names"] or {}), sites)
    created = {
        str(record.inputs.get("name", "")).rstrip(".")
        for record in records
        if record.type == RECORD_SET and record.inputs.get("type") in ("A", "AAAA", "CNAME")
    }
    if created:
        violations += _compare("DNS records", created, sites)
    return violations
