"""What the offline plan takes from the installed Pulumi SDK, checked so that an upgrade fails here.

The runner uses public SDK names only, but two things are assumptions about the SDK all the same:
the wire signatures `infra/manifest.py` spells out (the Python SDK keeps them as private names in
`pulumi.runtime.rpc`, so this is the one place that reads those), and the runtime and mock entry
points the runner is built on. Each failure says what changed and where the project depends on it.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
from typing import Any

import pulumi
import pytest
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

from infra import manifest
from infra.manifest import is_secret, plain_value

SDK_VERSION = importlib.metadata.version("pulumi")
SIG_SOURCE = "sdk/go/common/resource/sig/sig.go"

# Our constant -> the private name the installed Python SDK keeps the same value under.
SIGNATURES = {
    "SIG_KEY": "_special_sig_key",
    "SECRET_SIG": "_special_secret_sig",
    "RESOURCE_SIG": "_special_resource_sig",
    "ASSET_SIG": "_special_asset_sig",
    "ARCHIVE_SIG": "_special_archive_sig",
    "OUTPUT_SIG": "_special_output_value_sig",
}


@pytest.mark.parametrize(("ours", "sdk_name"), sorted(SIGNATURES.items()))
def test_wire_signatures_are_the_ones_the_installed_sdk_uses(ours: str, sdk_name: str) -> None:
    sdk_value = getattr(rpc, sdk_name, None)
    assert sdk_value is not None, (
        f"pulumi {SDK_VERSION} no longer defines pulumi.runtime.rpc.{sdk_name}: check "
        f"infra/manifest.py {ours} against Pulumi's {SIG_SOURCE} and update this table"
    )
    assert getattr(manifest, ours) == sdk_value, (
        f"pulumi {SDK_VERSION} uses {sdk_value!r} for {sdk_name}, infra/manifest.py {ours} says "
        f"{getattr(manifest, ours)!r}: the wire protocol changed, see Pulumi's {SIG_SOURCE}"
    )


def serialized(value: Any) -> Any:
    """`value` as the SDK's public serialiser puts it on the wire, read back as JSON."""
    struct = asyncio.run(rpc.serialize_properties({"value": value}, {}))
    return json_format.MessageToDict(struct)["value"]


def test_the_public_serialiser_writes_what_the_manifest_reads(tmp_path) -> None:
    asset = serialized(pulumi.StringAsset("hello"))
    assert asset[manifest.SIG_KEY] == manifest.ASSET_SIG
    assert plain_value(asset) == {"asset": {"text": "hello"}}

    archive = serialized(pulumi.FileArchive(str(tmp_path)))
    assert archive[manifest.SIG_KEY] == manifest.ARCHIVE_SIG
    assert plain_value(archive) == {"archive": {"path": str(tmp_path)}}

    secret = rpc.wrap_rpc_secret("s3cret")
    assert secret == {manifest.SIG_KEY: manifest.SECRET_SIG, "value": "s3cret"}
    assert is_secret(plain_value(secret)) and "s3cret" not in plain_value(secret)
    assert plain_value(rpc.UNKNOWN) == manifest.UNKNOWN


RUNTIME_ENTRY_POINTS = ("reset_options", "configure", "set_all_config", "run_in_stack")
MOCK_CLASSES = {
    "MockMonitor": ("make_urn", "RegisterResource", "RegisterResourceOutputs", "GetDeploymentInfo"),
    "MockSettings": (),
    "MockEngine": (),
    "Mocks": ("new_resource", "call"),
}


@pytest.mark.parametrize("name", RUNTIME_ENTRY_POINTS)
def test_the_runner_uses_public_runtime_entry_points(name: str) -> None:
    assert name in pulumi.runtime.__all__ and callable(getattr(pulumi.runtime, name, None)), (
        f"pulumi {SDK_VERSION}: pulumi.runtime.{name} is no longer public; infra/offline.py runs "
        "the program through it"
    )


@pytest.mark.parametrize(("name", "methods"), sorted(MOCK_CLASSES.items()))
def test_the_recording_monitor_builds_on_the_sdk_mocks(name: str, methods: tuple[str, ...]) -> None:
    cls = getattr(pulumi_mocks, name, None)
    assert isinstance(cls, type), (
        f"pulumi {SDK_VERSION}: pulumi.runtime.mocks.{name} is gone; infra/mock_engine.py and "
        "infra/offline.py build the offline monitor on it"
    )
    missing = [method for method in methods if not callable(getattr(cls, method, None))]
    assert not missing, f"pulumi {SDK_VERSION}: pulumi.runtime.mocks.{name} lacks {missing}"
