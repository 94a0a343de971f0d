"""The `cloud` section: where the stack runs, its object storage and its EO data archive.

Also the known providers' S3 domains, from which an endpoint tells the region it serves; the
consistency of the object storage keys with `cloud.region` is checked once the whole config is read
(`infra.config`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from components.secret_stand_ins import StrictModel


class EodataConfig(StrictModel):
    """A provider's EO data repository, mounted read-only on the nodes that ask for it."""

    network: str | None = Field(
        default=None,
        min_length=1,
        description="Name of the provider network carrying EO data, attached to those nodes; unset: the "
        "archive is reached over the routed network (e.g. from another cloud, which needs credentials).",
    )
    bucket: str = Field(min_length=1, description="S3 bucket exposed as the EO data archive.")
    endpoint: str = Field(
        min_length=1, description="S3 endpoint URL of the archive, reachable from the nodes."
    )
    mount_point: str = Field(default="/eodata", pattern=r"^/[A-Za-z0-9_./-]*$")
    credentials: str | None = Field(
        default=None,
        pattern=r"^[^:\s]+(:[^:\s]+){1,2}$",
        description="Pulumi secret `ACCESS_KEY:SECRET_KEY` (s3fs' passwd format) when the archive needs keys "
        "(`pulumi config set --secret --path cloud.eodata.credentials ...`); unset: anonymous.",
    )


OBJECT_STORAGE_APIS = {
    "swift-s3api": "Swift containers reached through Swift's S3 API (s3api) with a Keystone EC2 credential",
}
"""What the program provisions: Swift containers and one EC2 credential, which only Swift's S3 API
accepts. A provider's separate S3 product (OVH's S3 Object Storage, `*.io.cloud.ovh.net`) keeps its
own buckets and users, which the program neither creates nor holds keys for."""


@dataclass(frozen=True)
class S3Domain:
    """A provider whose S3 endpoints name their object-store region in the host."""

    provider: str
    suffix: str
    """Domain suffix of the provider's endpoints, e.g. `.cloud.ovh.net`."""
    host: re.Pattern[str]
    """The S3 endpoint host of one region; group `region` is the region (and signing region)."""
    template: str
    separate_regions: bool
    """Whether the object store's regions are not the compute regions (OVH: GRA for GRA9)."""


S3_DOMAINS = (
    S3Domain(
        "OVH",
        ".cloud.ovh.net",
        re.compile(r"^s3\.(?P<region>[a-z0-9-]+)\.cloud\.ovh\.net$"),
        "https://s3.<swift-region>.cloud.ovh.net",
        separate_regions=True,
    ),
    S3Domain(
        "CloudFerro",
        ".cloudferro.com",
        re.compile(r"^s3\.(?P<region>[a-z0-9-]+)\.cloudferro\.com$"),
        "https://s3.<region>.cloudferro.com",
        separate_regions=False,
    ),
)
"""Known provider domains. An endpoint elsewhere (a private or stand-in S3 server, such as the box's)
says nothing about regions in its host, so only the `api`, the scheme and the keys' presence count."""
OVH_NATIVE_S3 = ".io.cloud.ovh.net"


def _host(endpoint: str) -> str:
    return (urlsplit(endpoint).hostname or "").lower()


def s3_domain(endpoint: str) -> S3Domain | None:
    """The known provider whose domain the endpoint is in, if any."""
    host = _host(endpoint)
    return next((domain for domain in S3_DOMAINS if host.endswith(domain.suffix)), None)


def endpoint_region(endpoint: str) -> str | None:
    """The region an endpoint of a known provider serves (`gra` for https://s3.gra.cloud.ovh.net)."""
    domain = s3_domain(endpoint)
    match = domain.host.match(_host(endpoint)) if domain else None
    return match.group("region") if match else None


class ObjectStorageConfig(StrictModel):
    """Where the stack's containers live and how they are reached: one explicit choice per stack.

    `api` names the product and with it the credential: `swift-s3api` is Swift containers in the
    object store's `region`, reached over S3 at `endpoint` with a Keystone EC2 credential, requests
    signed for `signing_region`. Consistency across these keys (and with `cloud.region`) is checked
    once the whole config is read (`_check_object_storage` in `infra.config`).
    """

    api: str = Field(description=f"The product: one of {', '.join(OBJECT_STORAGE_APIS)}.")
    region: str = Field(
        min_length=1, description="Region of the object store holding the containers (OVH: GRA, not GRA9)."
    )
    endpoint: str = Field(
        pattern=r"^https://[^/\s]+/?$",
        description="S3 API in front of those containers (OVH: https://s3.<swift-region>.cloud.ovh.net).",
    )
    signing_region: str = Field(
        min_length=1, description="Region S3 requests are signed for (AWS_DEFAULT_REGION), e.g. gra."
    )

    @field_validator("api")
    @classmethod
    def _provisioned(cls, api: str) -> str:
        if api not in OBJECT_STORAGE_APIS:
            raise ValueError(
                f"{api!r} is not an object storage the program provisions: it creates Swift containers "
                "and a Keystone EC2 credential, which only Swift's S3 API serves (api: swift-s3api); "
                "a separate S3 product has its own buckets and users"
            )
        return api

    @field_validator("endpoint")
    @classmethod
    def _swift_s3_api(cls, endpoint: str) -> str:
        """The stack's containers are Swift containers reached with EC2 credentials; OVH's separate
        S3 Object Storage (`*.io.cloud.ovh.net`) serves neither: nothing would be found there."""
        host = _host(endpoint)
        if host.endswith(OVH_NATIVE_S3):
            raise ValueError(
                f"{endpoint} is OVH's S3 Object Storage (its own buckets and users), not the S3 API of "
                "the stack's Swift containers: use https://s3.<swift-region>.cloud.ovh.net"
            )
        domain = s3_domain(endpoint)
        if domain is not None and not domain.host.match(host):
            raise ValueError(f"{endpoint} is not {domain.provider}'s S3 endpoint ({domain.template})")
        return endpoint


class CloudConfig(StrictModel):
    """Where the stack runs; every cloud difference is a value here, never a branch in code."""

    name: str = Field(description="Short cloud label used in resource names and tags, e.g. 'ovh'.")
    region: str = Field(description="OpenStack region, e.g. GRA9 or WAW3-1.")
    external_network: str = Field(description="Name of the provider's external (public) network.")
    image: str = Field(min_length=1, description="Default image name for nodes, e.g. 'Ubuntu 22.04'.")
    object_storage: ObjectStorageConfig = Field(description="The stack's object storage (containers).")
    eodata: EodataConfig | None = Field(default=None, description="EO data archive and its mount, if any.")
