"""EODATA keys: an optional stack secret, written root-only by cloud-init, never in plain plan output.

Without `cloud.eodata.credentials` the archive is mounted anonymously (`public_bucket=1`), as on
CreoDIAS' eodata network. With it, cloud-init writes `ACCESS:SECRET` to a 0600 passwd file that s3fs
reads (`passwd_file=`), the node's whole cloud-init becomes a Pulumi secret, and the plan, which
redacts secrets, shows none of it. The same keys as a plain stack value are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components import cloud_init
from infra.box.plan import unwrap
from infra.manifest import Manifest, is_secret
from infra.mock_engine import Registration
from infra.offline import PlanError, evaluate
from infra.policies import check_manifest, short_config
from infra.stack_files import REPO_ROOT, read_stack
from tests.infra.test_platform_plan import INSTANCE, manifest

CIPHERTEXT = "v1:AAAAAAAAAAAAAAAA:eodata-keys-ciphertext"
EODATA = cloud_init.EodataMount("eodata", "https://eodata.cloudferro.com", "/eodata")
KEYED = cloud_init.EodataMount("eodata", "https://eodata.cloudferro.com", "/eodata", credentials="AK1:SK1")
PORT = "openstack:networking/port:Port"


def files(document: str) -> dict[str, dict[str, Any]]:
    return {entry["path"]: entry for entry in yaml.safe_load(document).get("write_files") or []}


def eodata_options(document: str) -> list[str]:
    (entry,) = [m for m in yaml.safe_load(document).get("mounts") or [] if m[2] == "fuse.s3fs"]
    return entry[3].split(",")


# -- the cloud-init documents --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "render",
    [
        lambda eodata: cloud_init.docker_node(ssh_user="ubuntu", eodata=eodata),
        lambda eodata: cloud_init.hopsworks_node(eodata=eodata),
    ],
    ids=["swarm", "hopsworks"],
)
def test_the_passwd_file_is_written_root_only_exactly_when_there_are_keys(render):
    keyed = render(KEYED)
    entry = files(keyed)[cloud_init.EODATA_PASSWD_FILE]
    assert entry == {
        "path": "/etc/passwd-s3fs-eodata",
        "owner": "root:root",
        "permissions": "0600",
        "content": "AK1:SK1\n",
    }
    options = eodata_options(keyed)
    assert "passwd_file=/etc/passwd-s3fs-eodata" in options and "public_bucket=1" not in options
    assert keyed.count("AK1:SK1") == 1  # in the file only, never in fstab options

    anonymous = render(EODATA)
    assert cloud_init.EODATA_PASSWD_FILE not in files(anonymous)
    assert "public_bucket=1" in eodata_options(anonymous)
    assert not any(option.startswith("passwd_file=") for option in eodata_options(anonymous))


@pytest.mark.parametrize("bad", ["AKONLY", "AK:S K", ":SK", "AK:SK\nmounts: []"])
def test_keys_that_s3fs_cannot_read_are_refused_without_being_echoed(bad):
    mount = cloud_init.EodataMount("eodata", "https://e", credentials=bad)
    with pytest.raises(ValueError, match="ACCESS_KEY:SECRET_KEY") as error:
        cloud_init.docker_node(ssh_user="ubuntu", eodata=mount)
    assert bad not in str(error.value)
    assert "credentials" not in repr(mount) and bad not in repr(mount)


# -- the plan --------------------------------------------------------------------------------------------


def stack_file(tmp_path: Path, stack: str, edit) -> Path:
    """A copy of `Pulumi.<stack>.yaml`, edited, with the keys as `pulumi config set --secret` stores them."""
    data = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())
    edit(data["config"]["deepcube-platform:cloud"], data["config"])
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def keyed_plan(stack: str, path: Path) -> tuple[Manifest, dict[str, Registration], str]:
    recorded: dict[str, Registration] = {}
    m = evaluate(stack, config_file=path, recorded=recorded)
    _, config = read_stack(stack, config_file=path)
    return m, recorded, config.values["deepcube-platform:cloud"]["eodata"]["credentials"]


def violations(m: Manifest, path: Path) -> list[str]:
    project, config = read_stack(m.stack, config_file=path)
    return [v.line() for v in check_manifest(m, short_config(config.values, project.name))]


def user_data(recorded: dict[str, Registration], name: str) -> str:
    (reg,) = [r for r in recorded.values() if r.type == INSTANCE and r.name == name]
    return unwrap(reg.inputs["userData"])


def test_creodias_keys_never_appear_in_the_plan_and_reach_only_the_eodata_nodes(tmp_path):
    def keys(cloud: dict, _: dict) -> None:
        cloud["eodata"]["credentials"] = {"secure": CIPHERTEXT}

    path = stack_file(tmp_path, "creodias", keys)
    m, recorded, stand_in = keyed_plan("creodias", path)
    text = m.to_json()
    assert stand_in.startswith("secret-placeholder:") and stand_in not in text and CIPHERTEXT not in text
    assert "passwd-s3fs" not in text  # the documents that hold the file are redacted whole

    instances = {r.name: r for r in m.of_type(INSTANCE)}
    anonymous = manifest("creodias")
    for name, record in instances.items():
        mounts_eodata = "fuse.s3fs" in user_data(recorded, name)
        assert is_secret(record.inputs["userData"]) == mounts_eodata, name
        assert ("userData" in record.secret_inputs) == mounts_eodata, name
        if not mounts_eodata:  # nothing else changes for the other nodes
            (before,) = [r for r in anonymous.of_type(INSTANCE) if r.name == name]
            assert record.inputs["userData"] == before.inputs["userData"], name
    worker = user_data(recorded, "deepcube-platform-creodias-swarm-worker-0")
    entry = files(worker)[cloud_init.EODATA_PASSWD_FILE]
    assert (entry["permissions"], entry["owner"], entry["content"]) == ("0600", "root:root", f"{stand_in}\n")
    assert "passwd_file=/etc/passwd-s3fs-eodata" in eodata_options(worker)
    hopsworks = user_data(recorded, "deepcube-platform-creodias-hopsworks-worker-0")
    assert files(hopsworks)[cloud_init.EODATA_PASSWD_FILE]["content"] == f"{stand_in}\n"
    # The invariants do not judge what a secret document hides, and the rest still holds.
    assert violations(m, path) == []


def test_without_keys_the_mount_stays_anonymous_and_the_documents_readable():
    m = manifest("creodias")
    eodata_nodes = [r for r in m.of_type(INSTANCE) if "fuse.s3fs" in str(r.inputs["userData"])]
    assert eodata_nodes
    for record in eodata_nodes:
        assert not is_secret(record.inputs["userData"])
        assert cloud_init.EODATA_PASSWD_FILE not in files(record.inputs["userData"])
        assert "public_bucket=1" in eodata_options(record.inputs["userData"])


def test_keys_as_a_plain_stack_value_are_refused_naming_the_key():
    with pytest.raises(PlanError, match=r"stored as a secret .* for cloud\.eodata\.credentials$"):
        evaluate("creodias", ["cloud.eodata.credentials=AK1:SK1"])


def test_a_stack_outside_creodias_mounts_eodata_over_its_routed_network_with_keys(tmp_path):
    """OVH has no eodata network: the archive is reached over the internet, where it needs keys."""

    def outside(cloud: dict, config: dict) -> None:
        cloud["eodata"] = {
            "bucket": "eodata",
            "endpoint": "https://eodata.dataspace.copernicus.eu",
            "credentials": {"secure": CIPHERTEXT},
        }
        config["deepcube-platform:swarm"]["workers"]["eodata"] = True

    path = stack_file(tmp_path, "ovh", outside)
    m, recorded, stand_in = keyed_plan("ovh", path)
    assert not [p for p in m.of_type(PORT) if p.name.endswith("-eodata")]  # no provider network
    assert len(m.of_type(PORT)) == len(manifest("ovh").of_type(PORT))
    worker = user_data(recorded, "deepcube-platform-ovh-swarm-worker-0")
    assert "url=https://eodata.dataspace.copernicus.eu" in eodata_options(worker)
    assert files(worker)[cloud_init.EODATA_PASSWD_FILE]["content"] == f"{stand_in}\n"
    assert stand_in not in m.to_json()
    assert violations(m, path) == []


def test_the_config_copy_is_what_the_stack_file_says(tmp_path):
    path = stack_file(tmp_path, "creodias", lambda cloud, _: None)
    _, original = read_stack("creodias")
    _, copied = read_stack("creodias", config_file=path)
    assert copied.values == original.values
