"""The `services` value of each real stack, and a throwaway project that deploys only the services."""

from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path
from typing import Any

import yaml

from infra.stack_files import REPO_ROOT

STACKS = ("ovh", "creodias")
SWARM_HOST = "ssh://deploy@10.20.0.10"


def services_value(stack: str) -> dict[str, Any]:
    """The stack's `services` config as written in `Pulumi.<stack>.yaml`."""
    data = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text()) or {}
    return copy.deepcopy(data["config"]["deepcube-platform:services"])


PROGRAM = """
import json
import pulumi
import pulumi_docker as docker
from components.platform_services import PlatformServices, PlatformServicesArgs
from infra.services_config import parse

config = pulumi.Config()
services = parse(json.loads(config.require("services")))
provider = docker.Provider("swarm", host="{host}")
external = {{key: config.require_secret(key) for key in services.social_media.secret_keys}}
platform = PlatformServices(
    "platform",
    PlatformServicesArgs(provider=provider, config=services, prefix="deepcube-test",
                         registry_password=config.get_secret("registry_password"), external_secrets=external),
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
