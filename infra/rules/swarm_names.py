"""`swarm-object-names`: every name the program gives a Swarm object is one Docker accepts.

Docker checks names only when the object is created, so a name it refuses fails `pulumi up` half
way, after the resources before it exist. Secrets and configs: at most 64 characters of
[a-zA-Z0-9-_.], first and last alphanumeric. Services: their name is also their DNS name on the
overlay networks, so a DNS label: at most 63 characters of [a-zA-Z0-9-], first and last alphanumeric.
"""

from __future__ import annotations

import re

from components.service_spec import SWARM_OBJECT_NAME_MAX
from infra.invariants.topology import DOCKER_CONFIG, DOCKER_SECRET, DOCKER_SERVICE
from infra.manifest import ResourceRecord, is_secret
from infra.policy_model import PolicyContext, Violation

_OBJECT_NAME = (
    re.compile(rf"[a-zA-Z0-9](?:[a-zA-Z0-9_.-]{{0,{SWARM_OBJECT_NAME_MAX - 2}}}[a-zA-Z0-9])?"),
    f"at most {SWARM_OBJECT_NAME_MAX} characters of [a-zA-Z0-9-_.], starting and ending alphanumeric",
)
RULES: dict[str, tuple[re.Pattern[str], str]] = {
    DOCKER_SECRET: _OBJECT_NAME,
    DOCKER_CONFIG: _OBJECT_NAME,
    DOCKER_SERVICE: (
        re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"),
        "a DNS label: at most 63 characters of [a-zA-Z0-9-], starting and ending alphanumeric",
    ),
}


def swarm_object_names(record: ResourceRecord, ctx: PolicyContext) -> list[Violation]:
    """The record's `name` input, if it is a Swarm object the rules above cover."""
    rule = RULES.get(record.type)
    name = record.inputs.get("name")
    if rule is None or not isinstance(name, str) or is_secret(name):
        return []
    pattern, expected = rule
    if pattern.fullmatch(name):
        return []
    message = f"name {name!r} ({len(name)} characters): {expected}"
    return [Violation("swarm-object-names", record.urn, message)]
