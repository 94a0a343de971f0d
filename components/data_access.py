"""How the data services reach data: the S3 endpoint and credential file, EODATA, the cubes' locations.

Jupyter, the Dask cluster and the semantic loader all read and write cubes through the same two
channels, so they receive the same wiring, built once here as plain values:
- S3 (the stack's Swift containers through the cloud's S3 API): the EC2 credential pair travels as
  ONE Docker secret holding an AWS shared-credentials file, mounted at `S3_CREDENTIALS_FILE`, and the
  standard variables `AWS_SHARED_CREDENTIALS_FILE`, `AWS_ENDPOINT_URL` (and `AWS_DEFAULT_REGION`)
  point botocore/s3fs at it. The keys are never environment values, so `docker service inspect`
  shows none, and every S3 client (s3fs, boto3, the AWS CLI) finds them without code of its own.
- EODATA: the provider's archive, mounted on the hosts, bound read-only into the containers at the
  same path, so a path that works in a notebook works in a Dask task too.
Cube locations arrive resolved (by `infra`, from the stack config): components never guess names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from components.service_spec import Mount, SecretFile, SpecError

S3_CREDENTIALS_KEY = "s3_credentials"
"""Platform secret key (and file name under /run/secrets) of the shared-credentials file."""
S3_CREDENTIALS_FILE = f"/run/secrets/{S3_CREDENTIALS_KEY}"
S3_CREDENTIALS = SecretFile(S3_CREDENTIALS_KEY, S3_CREDENTIALS_KEY)


def shared_credentials_file(access_key: str, secret_key: str) -> str:
    """An AWS shared-credentials INI file with one `[default]` profile: what botocore reads from
    `AWS_SHARED_CREDENTIALS_FILE` when no key is passed explicitly."""
    for name, value in (("access key", access_key), ("secret key", secret_key)):
        if not value or any(c in value for c in "\r\n[]"):
            raise ValueError(f"the S3 {name} is empty or would break the credentials file")
    return f"[default]\naws_access_key_id = {access_key}\naws_secret_access_key = {secret_key}\n"


@dataclass(frozen=True)
class DataAccess:
    """What the data services need to reach the stack's data (built by `infra`, see the module doc)."""

    s3_endpoint: str
    """S3 API endpoint of the stack's containers (`AWS_ENDPOINT_URL`; `cloud.object_storage.endpoint`)."""
    credentials_file: pulumi.Input[str]
    """Pulumi secret: the shared-credentials file (`shared_credentials_file`) of the stack's EC2 pair."""
    s3_region: str | None = None
    """Signing region (`AWS_DEFAULT_REGION`; `cloud.object_storage.signing_region`): Swift's S3 API
    refuses requests signed for another region."""
    eodata_mount: str | None = None
    """Host path of the EODATA archive, set only when every node the data services may run on mounts it."""
    cube_uris: Mapping[str, str] = field(default_factory=dict)
    """Cube id -> `s3://<container>/<path>` or a path under `eodata_mount`."""
    containers: Mapping[str, str] = field(default_factory=dict)
    """Container suffix (as in the stack config) -> its real bucket name, shown to notebook users."""

    def env(self) -> dict[str, str]:
        """Variables every S3 client honours; no credential among them."""
        env = {"AWS_SHARED_CREDENTIALS_FILE": S3_CREDENTIALS_FILE, "AWS_ENDPOINT_URL": self.s3_endpoint}
        if self.s3_region:
            env["AWS_DEFAULT_REGION"] = self.s3_region
        return env

    def secrets(self) -> tuple[SecretFile, ...]:
        return (S3_CREDENTIALS,)

    def mounts(self) -> tuple[Mount, ...]:
        """The EODATA bind mount (read-only, same path inside), if the data nodes have it."""
        if self.eodata_mount is None:
            return ()
        return (Mount(self.eodata_mount, self.eodata_mount, "bind", read_only=True),)

    def cube_uri(self, cube_id: str) -> str:
        if cube_id not in self.cube_uris:
            raise SpecError(f"semantic-loader: no resolved location for cube {cube_id!r}")
        return self.cube_uris[cube_id]

    def container_uris(self) -> str:
        """`s3://<bucket>/` of every stack container, space-separated, for users to write cubes to."""
        return " ".join(f"s3://{name}/" for _, name in sorted(self.containers.items()))
