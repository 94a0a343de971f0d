"""Object storage for cubes: Swift containers and EC2-style credentials for the S3 API.

One container is world-readable (published cubes, listed and read anonymously), the others are
private working space. The cube engine reaches them through the cloud's S3 endpoint with an
`Ec2CredentialV3` pair, exported as secrets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

TYPE_TOKEN = "deepcube:storage:ObjectStorage"
PUBLIC_READ = ".r:*,.rlistings"
"""Swift ACL: anyone may read objects and list the container."""


@dataclass(frozen=True)
class ObjectStorageArgs:
    """Inputs of the object storage."""

    region: str
    """Region of the object store."""
    s3_endpoint: str
    """S3 API endpoint of the cloud (OVH: https://s3.<region>.io.cloud.ovh.net)."""
    public_container: str
    """Suffix of the public-read container for published cubes."""
    private_containers: Sequence[str]
    """Suffixes of the private containers (work, scratch...)."""
    metadata: dict[str, str]
    """Metadata set on every container (project, stack)."""


class ObjectStorage(pulumi.ComponentResource):
    """Containers + one S3 credential pair."""

    containers: dict[str, openstack.objectstorage.Container]
    public_container: openstack.objectstorage.Container
    credential: openstack.identity.Ec2CredentialV3
    s3_access_key: pulumi.Output[str]
    s3_secret_key: pulumi.Output[str]
    s3_endpoint: str

    def __init__(self, name: str, args: ObjectStorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.containers = {}
        for suffix in [args.public_container, *args.private_containers]:
            public = suffix == args.public_container
            self.containers[suffix] = openstack.objectstorage.Container(
                f"{name}-{suffix}",
                name=f"{name}-{suffix}",
                region=args.region,
                container_read=PUBLIC_READ if public else None,
                metadata={**args.metadata, "access": "public-read" if public else "private"},
                opts=child,
            )
        self.public_container = self.containers[args.public_container]
        self.credential = openstack.identity.Ec2CredentialV3(
            f"{name}-s3",
            region=args.region,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["access", "secret"]),
        )
        self.s3_access_key = pulumi.Output.secret(self.credential.access)
        self.s3_secret_key = pulumi.Output.secret(self.credential.secret)
        self.s3_endpoint = args.s3_endpoint
        self.register_outputs(
            {
                "containers": {suffix: c.name for suffix, c in self.containers.items()},
                "s3_endpoint": self.s3_endpoint,
                "s3_access_key": self.s3_access_key,
                "s3_secret_key": self.s3_secret_key,
            }
        )
