"""The `services` value of each real stack, and a throwaway project that deploys only the services."""

from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path
from typing import Any

import yaml

from components.data_access import DataAccess
from components.placement import PUBLIC_CONSTRAINT, Placement, node_constraint
from components.services_config import ServicesConfig
from infra.stack_files import REPO_ROOT

STACKS = ("ovh", "creodias")
SWARM_HOST = "ssh://deploy@10.20.0.10"
TEST_PLACEMENT = Placement(PUBLIC_CONSTRAINT, node_constraint("data-0"), node_constraint("manager-0"))
"""The homes the throwaway project's program gives PlatformServices (the same values as PROGRAM)."""


TEST_STORE = "deepcube-test-store"
"""Bucket prefix of the throwaway project's containers (a real stack's is `<project>-<stack>-store`)."""


def data_access_for(services: ServicesConfig, credentials_file: Any = "<credentials file>") -> DataAccess:
    """The data services' storage wiring for the services alone: cubes in `TEST_STORE-<container>`,
    EODATA at /eodata (what `infra.storage_wiring` derives from a whole stack config)."""
    cubes = services.data.cubes
    uris = {c.id: f"s3://{TEST_STORE}-{c.container}/{c.path}" for c in cubes if c.container}
    uris |= {c.id: f"/eodata/{c.eodata}" for c in cubes if c.eodata}
    containers = {c.container: f"{TEST_STORE}-{c.container}" for c in cubes if c.container}
    return DataAccess(
        s3_endpoint="https://s3.test.example.org",
        credentials_file=credentials_file,
        eodata_mount="/eodata",
        cube_uris=uris,
        containers=containers,
    )


def services_value(stack: str) -> dict[str, Any]:
    """The stack's `services` config as written in `Pulumi.<stack>.yaml`."""
    data = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text()) or {}
    return copy.deepcopy(data["config"]["deepcube-platform:services"])


PROGRAM = """
import json
import pulumi
import pulumi_docker as docker
from components.placement import PUBLIC_CONSTRAINT, Placement, node_constraint
from components.data_access import shared_credentials_file
from components.platform_services import PlatformServices, PlatformServicesArgs
from infra.services_config import parse
from tests.platform_services.stacks import data_access_for

config = pulumi.Config()
services = parse(json.loads(config.require("services")))
provider = docker.Provider("swarm", host="{host}")
external = {{key: config.require_secret(key) for key in services.social_media.secret_keys}}
platform = PlatformServices(
    "platform",
    PlatformServicesArgs(provider=provider, config=services, prefix="deepcube-test",
                         placement=Placement(PUBLIC_CONSTRAINT, node_constraint("data-0"),
                                             node_constraint("manager-0")),
                         registry_password=config.get_secret("registry_password"), external_secrets=external,
                         data_access=data_access_for(services, pulumi.Output.secret(
                             shared_credentials_file("AKTEST", "s3-test-secret")))),
)
pulumi.export("homepage_url", platform.homepage_url)
pulumi.export("module_urls", platform.module_urls)
"""


def make_services_project(root: Path, services: dict[str, Any]) -> Path:
    """A throwaway project whose program deploys PlatformServices with a Swarm provider, offline."""
    (root / "prog").mkdir(parents=True, exist_ok=True)
    (root / "prog" / "__main__.py").write_text(textwrap.dedent(PROGRAM.format(host=SWARM_HOST)))
    (root / "Pulumi.yaml").write_text("name: proj\nruntime: python\nmain: prog/\n")
    config: dict[str, Any] = {"proj:services": services, "proj:registry_password": {"secure": "v1:AAAA"}}
    for key in services.get("social_media", {}).get("secret_keys", []):
        config[f"proj:{key}"] = {"secure": "v1:BBBB"}
    (root / "Pulumi.test.yaml").write_text(json.dumps({"config": config}))
    return root
