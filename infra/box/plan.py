"""The plan the box applies: the real program evaluated offline, with fresh secrets for the run.

The offline plan stands in fixed values for what the cloud computes; generated passwords and the S3
credentials among them. The box must not run with values anyone can read in the repository, so it
evaluates the program with its own stand-ins for the generated secrets: derived from a key drawn
for the run, so a second evaluation in the same run (the scale step) gives the very same values and
names, and another run gives others. Secret values are read from the raw registrations in memory
and handed to Docker's secret store only; the manifest the box prints from stays redacted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.box.records import SECRET_TYPE
from infra.manifest import OUTPUT_SIG, SECRET_SIG, SIG_KEY, Manifest
from infra.mock_engine import ComputedOutputs, PlanMocks, Registration
from infra.mock_outputs import COMPUTED_OUTPUTS, INVOKES
from infra.offline import evaluate

ALPHANUMERIC = string.ascii_letters + string.digits


@dataclass(frozen=True)
class RunKey:
    """A key drawn once per run; every generated secret of the run is derived from it."""

    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def stream(self, *parts: str) -> bytes:
        """64 pseudo-random bytes for one named value (HMAC-SHA512 of the parts)."""
        return hmac.new(self.key, "\x1f".join(parts).encode(), hashlib.sha512).digest()

    def text(self, length: int, alphabet: str, *parts: str) -> str:
        """`length` characters of `alphabet`, derived from the parts (longer values chain blocks)."""
        out: list[str] = []
        block = 0
        while len(out) < length:
            for byte in self.stream(*parts, str(block)):
                if len(out) == length:
                    break
                out.append(alphabet[byte % len(alphabet)])
            block += 1
        return "".join(out)


def fresh_outputs(run: RunKey) -> dict[str, ComputedOutputs]:
    """The offline stand-in outputs, with the generated secrets drawn from the run's key."""

    def password(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        length = int(inputs.get("length", 24))
        alphabet = ALPHANUMERIC + ("!#$%&*()-_=+[]{}<>:?" if inputs.get("special", True) else "")
        return {"result": run.text(length, alphabet, "password", name)}

    def ec2_credential(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        return {
            "access": "AK" + run.text(18, string.ascii_uppercase + string.digits, "access", name),
            "secret": run.text(40, ALPHANUMERIC, "secret", name),
        }

    outputs = dict(COMPUTED_OUTPUTS)
    outputs["random:index/randomPassword:RandomPassword"] = password
    outputs["openstack:identity/ec2CredentialV3:Ec2CredentialV3"] = ec2_credential
    return outputs


def unwrap(value: Any) -> Any:
    """A wire value without its secret or output wrapper (the plain value inside)."""
    if isinstance(value, dict) and value.get(SIG_KEY) in (SECRET_SIG, OUTPUT_SIG):
        return unwrap(value.get("value"))
    return value


@dataclass(frozen=True)
class BoxPlan:
    """The manifest of one evaluation and, in memory only, the plaintext of its Swarm secrets."""

    manifest: Manifest
    overrides: tuple[str, ...]
    secret_values: Mapping[str, bytes] = field(repr=False)
    """Secret record URN -> the bytes Docker must store (decoded from the record's base64 `data`)."""


def secret_values(registrations: Mapping[str, Registration]) -> dict[str, bytes]:
    """URN -> plaintext of every `docker.Secret` (its `data` input is base64, as the provider wants)."""
    values = {}
    for urn, reg in registrations.items():
        if reg.type != SECRET_TYPE:
            continue
        data = unwrap(reg.inputs.get("data"))
        if not isinstance(data, str):
            raise ValueError(f"secret {reg.name}: no data in the plan")
        values[urn] = base64.b64decode(data)
    return values


def evaluate_plan(stack: str, overrides: Iterable[str], run: RunKey) -> BoxPlan:
    """Evaluate `stack` with the overrides, generated secrets drawn from `run`."""
    recorded: dict[str, Registration] = {}
    mocks = PlanMocks(fresh_outputs(run), INVOKES)
    manifest = evaluate(stack, tuple(overrides), mocks=mocks, recorded=recorded)
    return BoxPlan(manifest=manifest, overrides=tuple(overrides), secret_values=secret_values(recorded))
