"""Security and cost policies as plain functions over the offline plan's resource records.

Every policy reads `ResourceRecord`s (wire input names, secrets already redacted as "<secret>")
and returns `Violation`s, so the same code runs in three places: `python -m infra.plan check`
on every offline plan, the tests (synthetic records with injected violations), and the Pulumi
CrossGuard pack in `policy/`, which only adapts the engine's resources into records.

Settings come from the stack config key `deepcube-platform:policy` (e.g. `{gpu_budget: 4}`),
validated like the rest of the config so a misspelt setting fails instead of being ignored.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from infra.invariants.access import (
    configs_hold_no_credentials,
    protected_routes_have_roles,
    user_workloads_isolated,
)
from infra.invariants.mtu import overlays_fit_node_networks
from infra.invariants.names import dns_names_match_sites
from infra.invariants.node_paths import docker_paths_match_nodes
from infra.invariants.oidc import oidc_clients
from infra.invariants.placement import host_ports_on_public_nodes, volumes_on_one_node
from infra.invariants.storage import storage_wiring
from infra.manifest import UNKNOWN, Manifest, ResourceRecord, is_secret
from infra.policy_model import PolicyContext, PolicySettings, Violation

POLICY_CONFIG_KEY = "policy"

SEC_GROUP_RULE = "openstack:networking/secGroupRule:SecGroupRule"
INSTANCE = "openstack:compute/instance:Instance"
PORT = "openstack:networking/port:Port"
ROUTER = "openstack:networking/router:Router"
DOCKER_SERVICE = "docker:index/service:Service"
DOCKER_CONTAINER = "docker:index/container:Container"
DOCKER_REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"

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

# GPU flavours at the platform's clouds (OVH t1/t2, CreoDIAS vm.a6000/a100); stack config may add more.
KNOWN_GPU_FLAVORS = ("t1-*", "t2-*", "vm.a6000*", "vm.a100*", "*gpu*", "*nvidia*")

# Input keys whose values are credentials, matched on the snake_case form of the key's end.
_SECRET_KEY = re.compile(
    r"(^|_)(password|passwd|pass|secret|secret_key|token|private_key|private_key_pem|"
    r"private_key_openssh|api_key|access_key)$"
)
_NOT_SECRET_KEY = re.compile(r"(^|_)(token_url|secret_name|secret_id|pass_through)$")


class PolicyConfigError(ValueError):
    """The `policy` stack config is invalid; the message names the key."""


ResourcePolicy = Callable[[ResourceRecord, PolicyContext], list[Violation]]
StackPolicy = Callable[[Sequence[ResourceRecord], PolicyContext], list[Violation]]


def load_settings(stack_config: Mapping[str, Any]) -> PolicySettings:
    """Validate the `policy` object of a stack's config; errors name `policy.<key>`."""
    raw = stack_config.get(POLICY_CONFIG_KEY) or {}
    if not isinstance(raw, Mapping):
        raise PolicyConfigError(f"Invalid configuration: expected an object, found {raw!r} for policy")
    try:
        return PolicySettings(**raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in (POLICY_CONFIG_KEY, *first["loc"]))
        raise PolicyConfigError(f"Invalid configuration: {first['msg']} for {key}") from None


def _snake(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower().replace("-", "_")


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """Every (dotted path, last key, value) pair below a value, depth first."""
    if isinstance(value, Mapping):
        for key, sub in value.items():
            sub_path = f"{path}.{key}" if path else str(key)
            yield sub_path, str(key), sub
            yield from _walk(sub, sub_path)
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from _walk(sub, f"{path}[{index}]")


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- resource policies -------------------------------------------------------------------


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


def image_is_pinned(reference: str) -> bool:
    """`repo@sha256:...` or `repo:tag` with a tag other than `latest`."""
    if "@" in reference:
        return reference.split("@", 1)[1].startswith("sha256:")
    last = reference.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    return last.rsplit(":", 1)[1] not in ("", "latest")


def _image_references(record: ResourceRecord) -> list[tuple[str, Any]]:
    if record.type == DOCKER_SERVICE:
        spec = (record.inputs.get("taskSpec") or {}).get("containerSpec") or {}
        return [("taskSpec.containerSpec.image", spec.get("image"))]
    if record.type == DOCKER_CONTAINER:
        return [("image", record.inputs.get("image"))]
    if record.type == DOCKER_REMOTE_IMAGE:
        return [("name", record.inputs.get("name"))]
    return []


def images_pinned(record: ResourceRecord, ctx: PolicyContext) -> list[Violation]:
    """Docker images carry a tag other than `latest` or a digest, so a redeploy is reproducible.

    OpenStack images are chosen by name per cloud and are not checked. Computed references
    (e.g. another resource's digest) are unknown offline and are trusted.
    """
    violations = []
    for key, value in _image_references(record):
        if not isinstance(value, str) or value == UNKNOWN or is_secret(value):
            continue
        if not image_is_pinned(value):
            violations.append(Violation("images-pinned", record.urn, f"{key} {value!r} is not pinned"))
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
            violations.append(Violation(
                "instances-on-private-networks", record.urn,
                f"port is on the external network {record.inputs['networkId']!r}",
            ))
        if record.type != INSTANCE:
            continue
        networks = record.inputs.get("networks") or []
        if not networks:
            violations.append(Violation(
                "instances-on-private-networks", record.urn,
                "declares no network (the cloud would attach its default, public at OVH)",
            ))
        for index, network in enumerate(networks):
            if not isinstance(network, Mapping):
                continue
            for key in ("name", "uuid"):
                if network.get(key) in external:
                    violations.append(Violation(
                        "instances-on-private-networks", record.urn,
                        f"networks[{index}].{key} is the external network {network[key]!r}",
                    ))
    return violations


def _leaks_secret(key: str, value: Any) -> bool:
    if isinstance(value, str) and "-----BEGIN" in value and "PRIVATE KEY" in value:
        return True
    snake = _snake(key)
    if not _SECRET_KEY.search(snake) or _NOT_SECRET_KEY.search(snake):
        return False
    return isinstance(value, str) and value not in ("", UNKNOWN) and not is_secret(value)


def secrets_only_as_secrets(record: ResourceRecord, ctx: PolicyContext) -> list[Violation]:
    """Credential-like inputs (password, token, private key...) must reach Pulumi as secrets.

    A heuristic on key names (including environment variable names such as POSTGRES_PASSWORD)
    and on PEM private keys anywhere: a plain value there would be stored in clear in the state.
    """
    return [
        Violation("secrets-only-as-secrets", record.urn, f"{path} holds a plain value; pass it as a secret")
        for path, key, value in _walk(record.inputs)
        if _leaks_secret(key, value)
    ]


def _stack_gpu_flavors(ctx: PolicyContext) -> set[str]:
    """Flavour names found under any config path mentioning GPU (e.g. hopsworks.gpu_workers.flavor)."""
    found: set[str] = set()
    for path, key, value in _walk(dict(ctx.stack_config)):
        if "gpu" in path.lower() and "flavor" in key.lower() and isinstance(value, str):
            found.add(value)
    return found


def is_gpu_instance(record: ResourceRecord, ctx: PolicyContext) -> bool:
    """GPU if the flavour is the stack's GPU flavour or a known GPU one, or metadata/tags say gpu."""
    if record.type != INSTANCE:
        return False
    flavor = record.inputs.get("flavorName")
    patterns = (*KNOWN_GPU_FLAVORS, *ctx.settings.gpu_flavors, *_stack_gpu_flavors(ctx))
    if isinstance(flavor, str) and any(fnmatch.fnmatchcase(flavor.lower(), p.lower()) for p in patterns):
        return True
    metadata = record.inputs.get("metadata") or {}
    if isinstance(metadata, Mapping) and str(metadata.get("gpu", "")).lower() in ("true", "1", "yes"):
        return True
    tags = record.inputs.get("tags") or []
    return isinstance(tags, list) and "gpu" in [str(tag).lower() for tag in tags]


def gpu_budget(records: Sequence[ResourceRecord], ctx: PolicyContext) -> list[Violation]:
    """The GPU pool stays within `policy.gpu_budget`: GPU hours are the platform's largest cost."""
    gpus = sorted(record.name for record in records if is_gpu_instance(record, ctx))
    budget = ctx.settings.gpu_budget
    if len(gpus) <= budget:
        return []
    shown = ", ".join(gpus[:5]) + (", ..." if len(gpus) > 5 else "")
    message = f"{len(gpus)} GPU instances exceed the budget of {budget} ({shown})"
    return [Violation("gpu-budget", None, message)]


def _mentions_stack(value: Any, stack: str) -> bool:
    pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(stack)}(?![A-Za-z0-9])")
    if isinstance(value, str):
        return bool(pattern.search(value))
    if isinstance(value, Mapping):
        return any(_mentions_stack(v, stack) for v in value.values())
    if isinstance(value, list):
        return any(_mentions_stack(v, stack) for v in value)
    return False


def named_with_stack(record: ResourceRecord, ctx: PolicyContext) -> bool:
    """Whether the logical name, or the tags/metadata/labels, carry the stack name."""
    if _mentions_stack(record.name, ctx.stack):
        return True
    return any(_mentions_stack(record.inputs.get(key), ctx.stack) for key in ("tags", "metadata", "labels"))


def tagged_with_stack(record: ResourceRecord, ctx: PolicyContext) -> list[Violation]:
    """Every resource says which stack it belongs to, so two stacks in one project never collide.

    Pulumi's default providers (`default_*`) are created by the engine, not the program, and skipped.
    """
    if record.type.startswith("pulumi:providers:") and record.name.startswith("default"):
        return []
    if named_with_stack(record, ctx):
        return []
    message = f"name {record.name!r} does not carry the stack {ctx.stack!r}"
    return [Violation("tagged-with-stack", record.urn, message)]


RESOURCE_POLICIES: dict[str, ResourcePolicy] = {
    "no-public-admin-ports": no_public_admin_ports,
    "images-pinned": images_pinned,
    "secrets-only-as-secrets": secrets_only_as_secrets,
    "tagged-with-stack": tagged_with_stack,
}
STACK_POLICIES: dict[str, StackPolicy] = {
    "instances-on-private-networks": instances_on_private_networks,
    "gpu-budget": gpu_budget,
    "host-ports-on-public-nodes": host_ports_on_public_nodes,
    "volumes-on-one-node": volumes_on_one_node,
    "node-paths": docker_paths_match_nodes,
    "dns-names-match-sites": dns_names_match_sites,
    "storage-wiring": storage_wiring,
    "overlay-mtu": overlays_fit_node_networks,
    "protected-routes-have-roles": protected_routes_have_roles,
    "user-workloads-isolated": user_workloads_isolated,
    "configs-hold-no-credentials": configs_hold_no_credentials,
    "oidc-clients": oidc_clients,
    "no-public-admin-ports-union": no_public_admin_ports_union,
}


def check_records(records: Sequence[ResourceRecord], ctx: PolicyContext) -> list[Violation]:
    """All policies over all records, sorted so the output is stable."""
    violations: list[Violation] = []
    for record in records:
        for policy in RESOURCE_POLICIES.values():
            violations.extend(policy(record, ctx))
    for stack_policy in STACK_POLICIES.values():
        violations.extend(stack_policy(records, ctx))
    return sorted(violations)


def short_config(values: Mapping[str, Any], project: str) -> dict[str, Any]:
    """`project:key` config values -> `key` for this project (other namespaces dropped)."""
    prefix = f"{project}:"
    return {key.removeprefix(prefix): value for key, value in values.items() if key.startswith(prefix)}


def check_manifest(manifest: Manifest, stack_config: Mapping[str, Any]) -> list[Violation]:
    """Run every policy on a manifest with settings from the (short-keyed) stack config."""
    ctx = PolicyContext(
        stack=manifest.stack,
        settings=load_settings(stack_config),
        stack_config=stack_config,
        outputs=manifest.outputs,
    )
    return check_records(manifest.resources, ctx)
