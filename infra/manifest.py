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
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from pulumi.runtime import rpc

from infra.mock_engine import Registration, ResourceDeclaration

SECRET = "<secret>"
UNKNOWN = "<unknown>"

# Pulumi's wire protocol marks a map that stands for a typed value with a signature: the map holds
# SIG_KEY, whose value says what it is. These values are the protocol's own, fixed in the Go SDK's
# `sdk/go/common/resource/sig/sig.go` (`sig.Key`, `sig.Secret`, `sig.ResourceReference`,
# `sig.AssetSig`, `sig.ArchiveSig`, `sig.OutputValue`) and shared by every language SDK; the Python
# SDK keeps them only as private names, so they are spelled out here.
# tests/infra/test_pulumi_sdk_contract.py checks them against the installed SDK.
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"


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
class ResourceRecord(ResourceDeclaration):
    """One declared resource, as the engine would see it, with secret values redacted."""

    inputs: dict[str, Any]
    """Plain JSON (see `plain_value`): secrets as markers, references as URNs."""
    secret_inputs: list[str]
    """The top-level inputs that hold a secret anywhere inside them."""

    @classmethod
    def from_registration(cls, reg: Registration) -> ResourceRecord:
        """The redacted record of a raw registration: declaration fields as they are, inputs made plain."""
        declared = {item.name: getattr(reg, item.name) for item in fields(ResourceDeclaration)}
        return cls(
            **declared,
            inputs=plain_value(reg.inputs),
            secret_inputs=sorted(key for key, value in reg.inputs.items() if contains_secret(value)),
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
