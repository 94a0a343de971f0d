"""The social-media API: two configurable images (the HTTP API and its harvesting worker)."""

from __future__ import annotations

from components.catalogue.common import LINUX, Context
from components.roles import USER_MODULE
from components.service_spec import HomepageEntry, HttpRoute, Resources, SecretFile, ServiceSpec

UNKNOWN_IMAGE = "third-party image whose contents are not fixed here; add a healthcheck when the image is"


def specs(ctx: Context) -> list[ServiceSpec]:
    cfg = ctx.config.social_media
    if not cfg.enabled:
        return []
    secrets = tuple(SecretFile(key, key) for key in cfg.secret_keys)
    return [
        ServiceSpec(
            name="social-api",
            image=cfg.api_image,
            networks=("social", "edge"),
            constraints=(LINUX,),
            env={"ROOT_PATH": "/social", "PORT": str(cfg.api_port)},
            secrets=secrets,
            resources=Resources(1.0, 1024, 0.1, 256),
            no_healthcheck_reason=UNKNOWN_IMAGE,
            route=HttpRoute("/social", cfg.api_port, protected=True, strip_prefix=True, roles=USER_MODULE),
            homepage=HomepageEntry(
                "Social-media API", "Geo-located social-media posts for the data cubes.", "SM", "social-media"
            ),
        ),
        ServiceSpec(
            name="social-worker",
            image=cfg.worker_image,
            networks=("social",),
            constraints=(LINUX,),
            env={"API_URL": f"http://social-api:{cfg.api_port}"},
            secrets=secrets,
            resources=Resources(1.0, 1024, 0.1, 256),
            no_healthcheck_reason=UNKNOWN_IMAGE,
            after=("social-api",),
        ),
    ]
