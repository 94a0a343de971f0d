"""The offline plan as data: every resource the program declares, in a stable, reviewable form.

Values arrive in Pulumi's wire form (protobuf Struct with signature keys for secrets, resource
references, assets and unknowns). They are turned into plain JSON here, once, so that the text
view, the JSON manifest, the diff and the policies all read the same records. Secrets are
replaced by a marker before anything else sees them: `<secret:FINGERPRINT>`, where the
fingerprint is a short salted hash of the offline stand-in value. The offline plan never decrypts
anything (stack secrets become placeholders derived from their ciphertext, generated secrets
come from the mocks), so the fingerprint reveals nothing, yet a secret whose ciphertext or source
changed shows up as changed in a diff.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from pulumi.runtime import rpc

from infra.mock_engine import Registration

SECRET = "<secret>"
UNKNOWN = "<unknown>"
SIG_KEY = rpc._special_sig_key
SECRET_SIG = rpc._special_secret_sig
RESOURCE_SIG = rpc._special_resource_sig
ASSET_SIG = rpc._special_asset_sig
ARCHIVE_SIG = rpc._special_archive_sig
OUTPUT_SIG = rpc._special_output_value_sig


FINGERPRINT_SALT = b"deepcube-offline-plan-secret\x00"


def secret_marker(value: Any) -> str:
    """`<secret:FINGERPRINT>`: equal for equal stand-in values, never the value itself."""
    payload = json.dumps(value, sort_keys=True, default=str).encode()
    return f"<secret:{hashlib.sha256(FINGERPRINT_SALT + payload).hexdigest()[:12]}>"


def is_secret(value: Any) -> bool:
    """Whether a manifest value is a redacted secret (with or without a fingerprint)."""
    if not isinstance(value, str):
        return False
    return value == SECRET or (value.startswith("<secret:") and value.endswith(">"))


def plain_value(value: Any) -> Any:
    """Wire value -> JSON value: secrets redacted, references as URNs, whole floats as ints."""
    if isinstance(value, dict):
        signature = value.get(SIG_KEY)
        if signature == SECRET_SIG:
            return secret_marker(value.get("value"))
        if signature == OUTPUT_SIG:
            if value.get("secret"):
                return secret_marker(value.get("value"))
            return plain_value(value.get("value", UNKNOWN))
        if signature == RESOURCE_SIG:
            return {"resource": value.get("urn")}
        if signature in (ASSET_SIG, ARCHIVE_SIG):
            kind = "asset" if signature == ASSET_SIG else "archive"
            body = {k: plain_value(v) for k, v in sorted(value.items()) if k != SIG_KEY}
            return {kind: body}
        return {key: plain_value(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [plain_value(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == rpc.UNKNOWN:
        return UNKNOWN
    return value


def contains_secret(value: Any) -> bool:
    """Whether a wire value holds a secret anywhere inside it."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return True
        if value.get(SIG_KEY) == OUTPUT_SIG and value.get("secret"):
            return True
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_secret(v) for v in value)
    return False


@dataclass(frozen=True)
class ResourceRecord:
    """One declared resource, as the engine would see it, with secret values redacted."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    provider: str | None
    inputs: dict[str, Any]
    secret_inputs: list[str]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    options: dict[str, Any]

    @classmethod
    def from_registration(cls, reg: Registration) -> ResourceRecord:
        return cls(
            urn=reg.urn,
            type=reg.type,
            name=reg.name,
            parent=reg.parent,
            custom=reg.custom,
            provider=reg.provider,
            inputs=plain_value(reg.inputs),
            secret_inputs=sorted(key for key, value in reg.inputs.items() if contains_secret(value)),
            dependencies=reg.dependencies,
            property_dependencies=reg.property_dependencies,
            options=reg.options,
        )

    @property
    def is_component(self) -> bool:
        return not self.custom and not self.type.startswith("pulumi:providers:")


@dataclass
class Manifest:
    """Everything one stack declares, sorted by URN so two runs give identical bytes."""

    project: str
    stack: str
    resources: list[ResourceRecord]
    outputs: dict[str, Any] = field(default_factory=dict)

    def by_urn(self) -> dict[str, ResourceRecord]:
        return {record.urn: record for record in self.resources}

    def of_type(self, type_: str) -> list[ResourceRecord]:
        return [record for record in self.resources if record.type == type_]

    def children_of(self, urn: str | None) -> list[ResourceRecord]:
        return [record for record in self.resources if record.parent == urn]

    def type_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self.resources:
            counts[record.type] = counts.get(record.type, 0) + 1
        return dict(sorted(counts.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "stack": self.stack,
            "resource_count": len(self.resources),
            "resources": [asdict(record) for record in self.resources],
            "outputs": self.outputs,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            project=data["project"],
            stack=data["stack"],
            resources=[ResourceRecord(**record) for record in data["resources"]],
            outputs=data.get("outputs", {}),
        )
