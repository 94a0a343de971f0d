"""Cloud-init documents for the platform's nodes, rendered by pure functions (no Pulumi).

Each function returns the full `#cloud-config` text; tests run every variant through
`cloud-init schema --config-file`. The documents are the same for every node of a pool (the
hostname comes from the instance name via the metadata service), so a pool's user data changes
only when its configuration does.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

HEADER = "#cloud-config\n"


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


def render(document: dict[str, Any]) -> str:
    """A cloud-config dict -> text with the mandatory `#cloud-config` header."""
    return HEADER + yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=1000)


def _sh(script: str) -> list[str]:
    return ["sh", "-c", script]


def volume_commands(volume: DataVolume) -> list[list[str]]:
    """Wait for the volume (it is attached after boot), format it if blank, mount it by label."""
    dev, mnt, label = (shlex.quote(v) for v in (volume.device, volume.mount_point, volume.label))
    fstab = f"LABEL={volume.label} {volume.mount_point} ext4 defaults,nofail 0 2"
    return [
        _sh(
            f"for i in $(seq 120); do [ -b {dev} ] && break; sleep 5; done; "
            f"blkid {dev} >/dev/null || mkfs.ext4 -q -L {label} {dev}; "
            f"mkdir -p {mnt}; grep -q '^LABEL={volume.label} ' /etc/fstab || "
            f"echo {shlex.quote(fstab)} >> /etc/fstab; mount -a"
        )
    ]


def eodata_commands(eodata: EodataMount) -> list[list[str]]:
    """Mount the EO data bucket read-only (s3fs, anonymous) and keep it in fstab."""
    options = ",".join(
        [
            "_netdev",
            "allow_other",
            "ro",
            "nofail",
            "use_path_request_style",
            "public_bucket=1",
            f"url={eodata.endpoint}",
        ]
    )
    fstab = f"{eodata.bucket} {eodata.mount_point} fuse.s3fs {options} 0 0"
    mnt = shlex.quote(eodata.mount_point)
    return [
        ["mkdir", "-p", eodata.mount_point],
        _sh(f"grep -q ' {eodata.mount_point} ' /etc/fstab || echo {shlex.quote(fstab)} >> /etc/fstab"),
        _sh(f"mountpoint -q {mnt} || mount {mnt}"),
    ]


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
) -> str:
    """A Docker Swarm node: Docker from Ubuntu's archive, data-root on the volume if any."""
    document = _base(authorized_keys, ["docker.io", "ca-certificates", "curl"], eodata)
    runcmd: list[Any] = []
    if volume is not None:
        daemon = {"data-root": f"{volume.mount_point}/docker", "log-driver": "local"}
        document["write_files"] = [
            {
                "path": "/etc/docker/daemon.json",
                "permissions": "0644",
                "content": json.dumps(daemon, indent=2) + "\n",
            }
        ]
        runcmd += volume_commands(volume)
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
    runcmd: list[Any] = []
    if volume is not None:
        runcmd += volume_commands(volume)
    if eodata is not None:
        runcmd += eodata_commands(eodata)
    if runcmd:
        document["runcmd"] = runcmd
    return render(document)
