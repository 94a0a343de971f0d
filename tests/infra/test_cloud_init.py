"""Every generated cloud-init document passes the real validator (`cloud-init schema`, Debian's
`cloud-init` package): the pure helpers' variants and every user_data the program declares."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components import cloud_init
from tests.infra.test_platform_plan import INSTANCE, STACKS, manifest

EODATA = cloud_init.EodataMount("eodata", "https://eodata.cloudferro.com", "/eodata")
KEYED_EODATA = cloud_init.EodataMount(
    "eodata", "https://eodata.cloudferro.com", "/eodata", credentials="AK:SK"
)
KEYS = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperatorKey operator@example.eu"]


def validate(document: str, path: Path) -> None:
    """Run `cloud-init schema --config-file`; fail with its own output unless it says valid."""
    binary = shutil.which("cloud-init")
    assert binary, "cloud-init is not installed: apt-get install -y cloud-init"
    path.write_text(document)
    result = subprocess.run(
        [binary, "schema", "--config-file", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"{path.name}: {result.stdout}{result.stderr}"
    assert "Valid cloud-config" in result.stdout, result.stdout


def test_the_validator_rejects_a_broken_document(tmp_path):
    with pytest.raises(AssertionError, match="not of type"):
        validate("#cloud-config\npackages: 3\n", tmp_path / "broken.yaml")


HELPER_VARIANTS = {
    "docker-bare": cloud_init.docker_node(ssh_user="ubuntu"),
    "docker-full": cloud_init.docker_node(
        ssh_user="ubuntu",
        authorized_keys=KEYS,
        volume=cloud_init.DataVolume(cloud_init.DOCKER_DATA_ROOT),
        eodata=EODATA,
    ),
    "docker-eodata-keys": cloud_init.docker_node(ssh_user="ubuntu", eodata=KEYED_EODATA, node_mtu=1500),
    "hopsworks-bare": cloud_init.hopsworks_node(),
    "hopsworks-eodata-keys": cloud_init.hopsworks_node(eodata=KEYED_EODATA),
    "hopsworks-gpu": cloud_init.hopsworks_node(
        authorized_keys=KEYS, volume=cloud_init.DataVolume("/srv"), eodata=EODATA, nvidia_driver=True
    ),
}


@pytest.mark.parametrize("variant", sorted(HELPER_VARIANTS))
def test_helper_documents_are_valid(variant, tmp_path):
    validate(HELPER_VARIANTS[variant], tmp_path / f"{variant}.yaml")


def test_helper_documents_say_what_they_do():
    docker = yaml.safe_load(HELPER_VARIANTS["docker-full"])
    assert HELPER_VARIANTS["docker-full"].startswith("#cloud-config\n")
    assert "docker.io" in docker["packages"] and "s3fs" in docker["packages"]
    commands = [" ".join(c) for c in docker["runcmd"]]
    mounts = {entry[1]: entry for entry in docker["mounts"]}
    assert mounts["/eodata"][2] == "fuse.s3fs" and "url=https://eodata.cloudferro.com" in mounts["/eodata"][3]
    assert "ro" in mounts["/eodata"][3].split(",")
    assert mounts["/var/lib/docker"][:3] == ["LABEL=data", "/var/lib/docker", "ext4"]
    assert any("mkfs.ext4" in c and "mount /var/lib/docker" in c for c in commands)
    # Docker is stopped while its data-root is mounted, then started again.
    volume_step = next(c for c in commands if "mkfs.ext4" in c)
    assert volume_step.index("systemctl stop") < volume_step.index("mount /var/lib/docker")
    files = {f["path"]: f["content"] for f in docker["write_files"]}
    settings = json.loads(files["/etc/docker/daemon.json"])
    assert settings["log-driver"] == "json-file"
    assert "data-root" not in settings
    # Sized for the node network (1450 by default): bridges at its MTU, overlays 50 bytes less.
    assert settings["mtu"] == 1450
    assert settings["default-network-opts"] == {
        "overlay": {"com.docker.network.driver.mtu": "1400"},
        "bridge": {"com.docker.network.driver.mtu": "1450"},
    }
    jumbo = yaml.safe_load(HELPER_VARIANTS["docker-eodata-keys"])
    (jumbo_daemon,) = [f for f in jumbo["write_files"] if f["path"] == "/etc/docker/daemon.json"]
    assert json.loads(jumbo_daemon["content"])["default-network-opts"]["overlay"] == {
        "com.docker.network.driver.mtu": "1450"
    }
    assert "vm.max_map_count = 262144" in files[cloud_init.SYSCTL_FILE]
    assert ["sysctl", "--system"] in docker["runcmd"]
    assert docker["ssh_authorized_keys"] == KEYS
    gpu = yaml.safe_load(HELPER_VARIANTS["hopsworks-gpu"])
    assert gpu["drivers"] == {"nvidia": {"license-accepted": True}}
    assert "drivers" not in yaml.safe_load(HELPER_VARIANTS["hopsworks-bare"])


def _program_documents() -> dict[str, str]:
    documents: dict[str, str] = {}
    for stack in STACKS:
        for instance in manifest(stack, "hopsworks.gpu_workers.count=1").of_type(INSTANCE):
            pool = instance.name.rsplit("-", 1)[0]
            documents.setdefault(f"{pool}|{instance.inputs['userData']}", instance.inputs["userData"])
    return documents


def test_every_program_document_is_valid(tmp_path):
    documents = _program_documents()
    unique = sorted(set(documents.values()))
    # ovh: docker manager/worker + hopsworks plain/GPU; creodias adds EO data variants.
    assert len(unique) >= 6
    for index, document in enumerate(unique):
        assert document.startswith("#cloud-config\n")
        validate(document, tmp_path / f"program-{index}.yaml")


@pytest.mark.parametrize("stack", STACKS)
def test_eodata_is_mounted_exactly_on_the_nodes_that_ask_for_it(stack):
    m = manifest(stack, "hopsworks.gpu_workers.count=1")
    for instance in m.of_type(INSTANCE):
        has_port = any(
            m.by_urn()[urn].name.endswith("-eodata") for urn in instance.property_dependencies["networks"]
        )
        document = yaml.safe_load(instance.inputs["userData"])
        mounts = any(entry[2] == "fuse.s3fs" for entry in document.get("mounts", []))
        assert has_port == mounts, instance.name
    if stack == "creodias":
        assert any("fuse.s3fs" in i.inputs["userData"] for i in m.of_type(INSTANCE))


def test_a_swarm_data_volume_elsewhere_than_dockers_data_root_is_refused():
    with pytest.raises(ValueError, match="/var/lib/docker"):
        cloud_init.docker_node(ssh_user="ubuntu", volume=cloud_init.DataVolume("/srv/data"))
