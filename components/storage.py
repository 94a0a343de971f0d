"""Object storage for cubes: Swift containers and EC2-style credentials for the S3 API.

One container is world-readable (published cubes, listed and read anonymously), the others are
private working space. Services reach them through the cloud's S3 endpoint with one
`Ec2CredentialV3` pair, handed to them as a shared-credentials file (`credentials_file`, a secret;
see `components.data_access`) and exported as secrets for operators.

This is the `swift-s3api` object storage of the stack config (`cloud.object_storage`): Swift
containers in the object store's region, which need not be the compute region (OVH: containers in
`GRA`, instances in `GRA9`), reached through the S3 API in front of that Swift (OVH:
`https://s3.<swift-region>.cloud.ovh.net`, CloudFerro: `https://s3.<region>.cloudferro.com`) with
the Keystone EC2 credential, never a separate S3 product with its own users.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from components.data_access import shared_credentials_file

TYPE_TOKEN = "deepcube:storage:ObjectStorage"
PUBLIC_READ = ".r:*,.rlistings"
"""Swift ACL: anyone may read objects and list the container."""


def container_name(storage_name: str, suffix: str) -> str:
    """The real (bucket) name of the container `suffix` of the storage component `storage_name`.

    Pure, so that `infra` can turn a cube's `container:` reference into its `s3://` URI with the
    very rule the component names the container by.
    """
    return f"{storage_name}-{suffix}"


@dataclass(frozen=True)
class ObjectStorageArgs:
    """Inputs of the object storage."""

    region: str
    """Region of the object store (Swift) holding the containers, e.g. GRA at OVH."""
    s3_endpoint: str
    """S3 API endpoint in front of that Swift (OVH: https://s3.<swift-region>.cloud.ovh.net)."""
    signing_region: str
    """Region S3 requests to that endpoint are signed for (OVH: gra)."""
    public_container: str
    """Suffix of the public-read container for published cubes."""
    private_containers: Sequence[str]
    """Suffixes of the private containers (work, scratch...)."""
    metadata: dict[str, str]
    """Metadata set on every container (project, stack)."""
    credential_region: str | None = None
    """Region of the identity API issuing the EC2 credential (default: `region`)."""


class ObjectStorage(pulumi.ComponentResource):
    """Containers + one S3 credential pair."""

    containers: dict[str, openstack.objectstorage.Container]
    public_container: openstack.objectstorage.Container
    credential: openstack.identity.Ec2CredentialV3
    s3_access_key: pulumi.Output[str]
    s3_secret_key: pulumi.Output[str]
    credentials_file: pulumi.Output[str]
    """Secret: an AWS shared-credentials file with the pair, for services (`AWS_SHARED_CREDENTIALS_FILE`)."""
    s3_endpoint: str
    s3_signing_region: str

    def __init__(self, name: str, args: ObjectStorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.containers = {}
        for suffix in [args.public_container, *args.private_containers]:
            public = suffix == args.public_container
            self.containers[suffix] = openstack.objectstorage.Container(
                container_name(name, suffix),
                name=container_name(name, suffix),
                region=args.region,
                container_read=PUBLIC_READ if public else None,
                metadata={**args.metadata, "access": "public-read" if public else "private"},
                opts=child,
            )
        self.public_container = self.containers[args.public_container]
        self.credential = openstack.identity.Ec2CredentialV3(
            f"{name}-s3",
            region=args.credential_region or args.region,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["access", "secret"]),
        )
        self.s3_access_key = pulumi.Output.secret(self.credential.access)
        self.s3_secret_key = pulumi.Output.secret(self.credential.secret)
        self.credentials_file = pulumi.Output.secret(
            pulumi.Output.all(self.credential.access, self.credential.secret).apply(
                lambda pair: shared_credentials_file(pair[0], pair[1])
            )
        )
        self.s3_endpoint = args.s3_endpoint
        self.s3_signing_region = args.signing_region
        self.register_outputs(
            {
                "containers": {suffix: c.name for suffix, c in self.containers.items()},
                "s3_endpoint": self.s3_endpoint,
                "s3_signing_region": self.s3_signing_region,
                "s3_access_key": self.s3_access_key,
                "s3_secret_key": self.s3_secret_key,
            }
        )
