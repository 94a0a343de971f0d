"""Cloud-init documents for the platform's nodes, rendered by pure functions (no Pulumi).

Each function returns the full `#cloud-config` text; tests run every variant through
`cloud-init schema --config-file`. The documents are the same for every node of a pool (the
hostname comes from the instance name via the metadata service), so a pool's user data changes
only when its configuration does.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from components.network import DEFAULT_MTU, MTU_OPTION, overlay_mtu

HEADER = "#cloud-config\n"
SYSCTL_FILE = "/etc/sysctl.d/60-deepcube.conf"
DOCKER_DATA_ROOT = "/var/lib/docker"
DOCKER_DAEMON = {"log-driver": "json-file", "log-opts": {"max-size": "50m", "max-file": "5"}}
"""Docker's settings on every swarm node, the same everywhere so that global services that read
Docker's own files (Filebeat reads `<data-root>/containers/*/*-json.log`, cAdvisor and the Portainer
agent read `<data-root>`) find them at one path: the default data-root (a node's data volume is
mounted there rather than moving the data-root) and the `json-file` log driver, rotated. The MTU
settings are added per node network by `docker_daemon`."""
EODATA_PASSWD_FILE = "/etc/passwd-s3fs-eodata"
"""s3fs credentials of the EODATA mount (`ACCESS:SECRET`), root's only (s3fs refuses a file others read)."""
_S3FS_CREDENTIALS = re.compile(r"^\S+:\S+$")
"""One line s3fs reads: `ACCESS:SECRET` (or `BUCKET:ACCESS:SECRET`), no whitespace."""
DOCKER_NODE_SYSCTLS = {"vm.max_map_count": 262144}
"""Kernel parameters every swarm node sets: OpenSearch refuses to start below 262144 map areas, and
`vm.*` sysctls are not namespaced, so no container can set it for itself."""


@dataclass(frozen=True)
class DataVolume:
    """An attached block volume, formatted once (ext4, by label) and mounted at boot."""

    mount_point: str
    """Where the volume is mounted, e.g. /srv/data."""
    device: str = "/dev/vdb"
    """Block device of the first attached volume on KVM/virtio clouds."""
    label: str = "data"
    """Filesystem label; fstab mounts by label so device renaming does not matter."""


@dataclass(frozen=True)
class EodataMount:
    """A provider's EO data archive (S3 bucket) mounted read-only with s3fs."""

    bucket: str
    """Bucket holding the archive, e.g. eodata."""
    endpoint: str
    """S3 endpoint reachable from the node, e.g. https://eodata.cloudferro.com."""
    mount_point: str = "/eodata"
    """Mount point on the node."""
    credentials: str | None = field(default=None, repr=False)
    """`ACCESS_KEY:SECRET_KEY` when the archive needs keys (written to `EODATA_PASSWD_FILE`);
    None mounts it anonymously. A secret: callers render documents holding it as Pulumi secrets."""


def docker_daemon(node_mtu: int = DEFAULT_MTU) -> dict[str, Any]:
    """`DOCKER_DAEMON` fitted to a node network of `node_mtu`: the default bridge (`mtu`) and new
    bridge networks get the node's MTU, new overlay networks (`default-network-opts`, Docker >= 24,
    for any overlay created without its own MTU option) the node's MTU less the VXLAN header."""
    return {
        **DOCKER_DAEMON,
        "mtu": node_mtu,
        "default-network-opts": {
            "overlay": {MTU_OPTION: str(overlay_mtu(node_mtu))},
            "bridge": {MTU_OPTION: str(node_mtu)},
        },
    }


def render(document: dict[str, Any]) -> str:
    """A cloud-config dict -> text with the mandatory `#cloud-config` header."""
    return HEADER + yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=1000)


def _sh(script: str) -> list[str]:
    return ["sh", "-c", script]


def volume_mount(volume: DataVolume) -> list[str]:
    """The volume's fstab entry for cloud-init's `mounts` module (by label, `nofail`).

    Declared as data rather than echoed into fstab by a script, so that the plan can read which
    paths a node mounts (the wiring invariants do).
    """
    return [f"LABEL={volume.label}", volume.mount_point, "ext4", "defaults,nofail", "0", "2"]


def volume_commands(volume: DataVolume, *, stop_first: Sequence[str] = ()) -> list[list[str]]:
    """Wait for the volume (it is attached after boot), format it if blank, mount it by label.

    `stop_first` names services to stop while the mount point changes underneath them (Docker,
    when the volume becomes its data-root) and start again afterwards.
    """
    dev, mnt, label = (shlex.quote(v) for v in (volume.device, volume.mount_point, volume.label))
    services = " ".join(shlex.quote(name) for name in stop_first)
    stop = f"systemctl stop {services} || true; " if stop_first else ""
    start = f"; systemctl start {services}" if stop_first else ""
    return [
        _sh(
            f"for i in $(seq 120); do [ -b {dev} ] && break; sleep 5; done; "
            f"blkid {dev} >/dev/null || mkfs.ext4 -q -L {label} {dev}; "
            f"mountpoint -q {mnt} || {{ {stop}mkdir -p {mnt}; mount {mnt}{start}; }}"
        )
    ]


def eodata_mount(eodata: EodataMount) -> list[str]:
    """The EO data bucket's fstab entry for cloud-init's `mounts` module: read-only s3fs, with the
    stack's keys (`passwd_file`) when it has some, anonymous (`public_bucket=1`) otherwise."""
    access = f"passwd_file={EODATA_PASSWD_FILE}" if eodata.credentials is not None else "public_bucket=1"
    options = ",".join(
        ["_netdev", "allow_other", "ro", "nofail", "use_path_request_style", access, f"url={eodata.endpoint}"]
    )
    return [eodata.bucket, eodata.mount_point, "fuse.s3fs", options, "0", "0"]


def with_keys(eodata: EodataMount | None, keys: str | None) -> EodataMount | None:
    """The mount with the EODATA keys, when there are both (else the mount as it is)."""
    if eodata is None or keys is None:
        return eodata
    return dataclasses.replace(eodata, credentials=keys)


def eodata_passwd_file(eodata: EodataMount) -> list[dict[str, str]]:
    """The `write_files` entry of the EODATA keys, mode 0600 (none for an anonymous mount)."""
    if eodata.credentials is None:
        return []
    if not _S3FS_CREDENTIALS.match(eodata.credentials):
        raise ValueError("the EODATA credentials must be ACCESS_KEY:SECRET_KEY on one line, no spaces")
    return [
        {
            "path": EODATA_PASSWD_FILE,
            "owner": "root:root",
            "permissions": "0600",
            "content": f"{eodata.credentials}\n",
        }
    ]


def eodata_commands(eodata: EodataMount) -> list[list[str]]:
    """Mount the bucket once s3fs is installed (the `mounts` module runs before packages are)."""
    mnt = shlex.quote(eodata.mount_point)
    return [["mkdir", "-p", eodata.mount_point], _sh(f"mountpoint -q {mnt} || mount {mnt}")]


def sysctl_file(values: Mapping[str, int]) -> dict[str, str]:
    """A `write_files` entry setting kernel parameters at every boot (`sysctl --system` applies it now)."""
    content = "".join(f"{key} = {value}\n" for key, value in sorted(values.items()))
    return {"path": SYSCTL_FILE, "permissions": "0644", "content": content}


def _base(authorized_keys: Sequence[str], packages: list[str], eodata: EodataMount | None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "package_update": True,
        "package_upgrade": False,
        "packages": sorted({*packages, *(["s3fs"] if eodata else [])}),
        "manage_etc_hosts": True,
        "ssh_pwauth": False,
        "disable_root": True,
    }
    if authorized_keys:
        # Added to the image's default user (`ssh_user`, e.g. ubuntu) next to the Nova key pair.
        document["ssh_authorized_keys"] = list(authorized_keys)
    return document


def docker_node(
    *,
    ssh_user: str,
    authorized_keys: Sequence[str] = (),
    volume: DataVolume | None = None,
    eodata: EodataMount | None = None,
    sysctls: Mapping[str, int] = DOCKER_NODE_SYSCTLS,
    node_mtu: int = DEFAULT_MTU,
) -> str:
    """A Docker Swarm node: Docker from Ubuntu's archive with `docker_daemon(node_mtu)` settings; a
    data volume, if any, becomes Docker's data-root by being mounted at the default path
    (`DOCKER_DATA_ROOT`)."""
    if volume is not None and volume.mount_point != DOCKER_DATA_ROOT:
        raise ValueError(f"a swarm node's data volume is Docker's data-root: mount it at {DOCKER_DATA_ROOT}")
    document = _base(authorized_keys, ["docker.io", "ca-certificates", "curl"], eodata)
    document["write_files"] = [
        {
            "path": "/etc/docker/daemon.json",
            "permissions": "0644",
            "content": json.dumps(docker_daemon(node_mtu), indent=2) + "\n",
        },
        *([sysctl_file(sysctls)] if sysctls else []),
        *(eodata_passwd_file(eodata) if eodata is not None else []),
    ]
    mounts = [volume_mount(volume)] if volume is not None else []
    mounts += [eodata_mount(eodata)] if eodata is not None else []
    if mounts:
        document["mounts"] = mounts
    runcmd: list[Any] = [["sysctl", "--system"]] if sysctls else []
    if volume is not None:
        runcmd += volume_commands(volume, stop_first=("docker.socket", "docker"))
    if eodata is not None:
        runcmd += eodata_commands(eodata)
    runcmd += [
        ["usermod", "-aG", "docker", ssh_user],
        ["systemctl", "enable", "docker"],
        ["systemctl", "restart", "docker"],
    ]
    document["runcmd"] = runcmd
    return render(document)


def hopsworks_node(
    *,
    authorized_keys: Sequence[str] = (),
    volume: DataVolume | None = None,
    eodata: EodataMount | None = None,
    nvidia_driver: bool = False,
) -> str:
    """A Hopsworks node prepared for the installer (karamel/chef runs over SSH from the head)."""
    document = _base(authorized_keys, ["curl", "dnsutils", "perl", "pciutils", "wget"], eodata)
    if nvidia_driver:
        document["drivers"] = {"nvidia": {"license-accepted": True}}
    if eodata is not None and (keys_file := eodata_passwd_file(eodata)):
        document["write_files"] = keys_file
    mounts = [volume_mount(volume)] if volume is not None else []
    mounts += [eodata_mount(eodata)] if eodata is not None else []
    if mounts:
        document["mounts"] = mounts
    runcmd: list[Any] = []
    if volume is not None:
        runcmd += volume_commands(volume)
    if eodata is not None:
        runcmd += eodata_commands(eodata)
    if runcmd:
        document["runcmd"] = runcmd
    return render(document)
