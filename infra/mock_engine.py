"""A resource monitor for offline plans: Pulumi's own mocks, with the engine's rules put back.

Pulumi's `MockMonitor` is the documented way to run a program without the engine, but for a plan
that must match what the engine would do it has three gaps, mended here:
- it builds URNs from the parent's last type only, while the engine chains every ancestor type
  (`a:b:C$d:e:F$g:h:I`) and leaves the root stack's type out;
- it silently overwrites a second resource with the same URN, which the engine rejects;
- it ignores `additional_secret_outputs` and answers unknown invokes with `{}`.
Each registration is recorded (inputs as sent on the wire, so secrets stay marked) for the
manifest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"

ComputedOutputs = Callable[[str, dict[str, Any]], dict[str, Any]]
InvokeAnswer = Callable[[dict[str, Any]], dict[str, Any]]


class DuplicateResourceError(RuntimeError):
    """Two resources were registered with the same URN."""


class UnmockedInvokeError(RuntimeError):
    """The program called a provider function that the offline plan cannot answer."""


def engine_urn(stack: str, project: str, parent_urn: str, type_: str, name: str) -> str:
    """The URN the Pulumi engine assigns: the parent's full qualified type chain, minus the stack."""
    qualified = type_
    if parent_urn:
        parent_type = parent_urn.split("::")[2]
        if parent_type != ROOT_STACK_TYPE:
            qualified = f"{parent_type}${type_}"
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


def stable_token(*parts: str, length: int = 8) -> str:
    """A short hex token that depends only on its inputs: mock ids and addresses must not vary."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:length]


def stable_host(prefix: str, *parts: str) -> str:
    """A deterministic IPv4 address inside `prefix` (three octets, e.g. '10.20.0'), never .0/.255."""
    return f"{prefix}.{int(stable_token(*parts, length=4), 16) % 250 + 2}"


@dataclass(frozen=True)
class ResourceDeclaration:
    """What the engine learns of a resource besides its inputs: identity, place and options.

    The raw `Registration` and the manifest's redacted `ResourceRecord` both extend it, so the
    two cannot drift apart; they differ only in the form their inputs take.
    """

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    provider: str | None
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    options: dict[str, Any]


@dataclass(frozen=True)
class Registration(ResourceDeclaration):
    """One RegisterResource request as the engine would have received it."""

    inputs: dict[str, Any]
    """As sent on the wire (protobuf Struct as JSON): secrets still wrapped, and unredacted."""


@dataclass
class PlanMocks(pulumi_mocks.Mocks):
    """Deterministic ids and plausible computed outputs; invokes must be listed or they fail."""

    computed_outputs: dict[str, ComputedOutputs] = field(default_factory=dict)
    invokes: dict[str, InvokeAnswer] = field(default_factory=dict)

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict]:
        state = dict(args.inputs)
        extra = self.computed_outputs.get(args.typ)
        if extra is not None:
            state.update(extra(args.name, args.inputs))
        return f"{args.name}-{stable_token(args.typ, args.name)}", state

    def call(self, args: pulumi_mocks.MockCallArgs) -> dict:
        answer = self.invokes.get(args.token)
        if answer is None:
            raise UnmockedInvokeError(
                f"invoke {args.token} has no offline answer: add one to infra/mock_outputs.py"
            )
        return answer(args.args)


def _options(request: Any) -> dict[str, Any]:
    """The resource options that change what the engine does, as sorted plain values."""
    options: dict[str, Any] = {}
    if request.protect:
        options["protect"] = True
    if request.deleteBeforeReplace:
        options["delete_before_replace"] = True
    if request.retainOnDelete:
        options["retain_on_delete"] = True
    for name, values in (
        ("ignore_changes", request.ignoreChanges),
        ("replace_on_changes", request.replaceOnChanges),
        ("additional_secret_outputs", request.additionalSecretOutputs),
    ):
        if values:
            options[name] = sorted(values)
    if request.deletedWith:
        options["deleted_with"] = request.deletedWith
    return options


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """MockMonitor with engine URNs, duplicate detection, secret outputs and a registration log."""

    def __init__(self, mocks: PlanMocks, project: str, stack: str) -> None:
        super().__init__(mocks)
        self.project = project
        self.stack = stack
        self.registrations: dict[str, Registration] = {}
        self.stack_outputs: dict[str, Any] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        return engine_urn(self.stack, self.project, parent, type_, name)

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == ROOT_STACK_TYPE:
            self.stack_urn = urn
            return super().RegisterResource(request)
        if urn in self.registrations:
            raise DuplicateResourceError(f"duplicate resource URN {urn}")
        self.registrations[urn] = Registration(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            custom=bool(request.custom),
            provider=request.provider or None,
            inputs=json_format.MessageToDict(request.object),
            dependencies=sorted(set(request.dependencies)),
            property_dependencies={
                key: sorted(set(deps.urns))
                for key, deps in sorted(request.propertyDependencies.items())
                if deps.urns
            },
            options=_options(request),
        )
        response = super().RegisterResource(request)
        if request.additionalSecretOutputs:
            response = self._mark_secret_outputs(response, set(request.additionalSecretOutputs))
        return response

    def _mark_secret_outputs(self, response: Any, names: set[str]) -> Any:
        """Wrap the listed outputs as secrets, as the engine does for `additional_secret_outputs`.

        The wrapping is done on the response's protobuf Struct in place (an output already secret
        stays as it is), and on the state the mock monitor keeps for `get_resource`; no event loop
        is needed, so this is safe on the executor thread the SDK calls the monitor from.
        """
        registration = self.resources[response.urn]
        state = dict(registration.state)
        for key in names & set(state):
            state[key] = rpc.wrap_rpc_secret(state[key])
        self.resources[response.urn] = registration._replace(state=state)
        fields = response.object.fields
        for key in sorted(names & set(fields)):
            plain = json_format.MessageToDict(fields[key])
            response.object.update({key: rpc.wrap_rpc_secret(plain)})
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if request.urn == getattr(self, "stack_urn", None):
            self.stack_outputs = json_format.MessageToDict(request.outputs)
        return super().RegisterResourceOutputs(request)
