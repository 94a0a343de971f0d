"""Data services: JupyterLab with `cube_engine`, a Dask cluster, PostGIS, the semantic loader job,
one Ontop SPARQL endpoint per configured cube, and Sextant.

Order that Swarm cannot express: the loader needs PostGIS, and Ontop needs the mapping files the loader
writes. Pulumi creates them in that order (`after`), and at run time the loader waits for PostGIS
(`pg_isready`) while each Ontop task waits for its mapping file before starting the endpoint.
PostGIS, Jupyter, the loader and Ontop keep node-local volumes (the loader and Ontop share one), so all
of them are pinned to the data home node.
"""

from __future__ import annotations

import pulumi

from components.catalogue import hub
from components.catalogue.common import DATA, Context, python_http_check
from components.data_access import DataAccess
from components.render.ontop import render_ontop_properties
from components.roles import USER_MODULE
from components.service_spec import (
    STOP_FIRST,
    ConfigFile,
    Healthcheck,
    HomepageEntry,
    HttpRoute,
    Mount,
    Resources,
    SecretFile,
    ServiceSpec,
    SpecError,
)
from semantic.server_settings import BULK_LOAD_SETTINGS, server_flags

POSTGIS_SECRET = SecretFile("postgis_password", "postgis_password")
PROJECT_IMAGE_UID = "1000"
"""The user the repository's own images run as (docker/*/Dockerfile): it must read their secrets."""
DB_USER, DB_NAME = "deepcube", "cubes"
MAPPING_DIR = "/mapping"


def ontop_name(cube_id: str) -> str:
    return "ontop-" + cube_id.replace("_", "-")


def hopsworks_env(ctx: Context) -> dict[str, str | pulumi.Output[str]]:
    """Where notebooks and Dask tasks find the Hopsworks head (the `hopsworks` client's host/port)."""
    if ctx.hopsworks is None:
        return {}
    return {"HOPSWORKS_HOST": ctx.hopsworks.data_host, "HOPSWORKS_PORT": str(ctx.hopsworks.port)}


def storage(ctx: Context) -> DataAccess:
    """The S3 and EODATA wiring Jupyter, Dask and the loader share (see components.data_access):
    without it they would start fine and reach no data, so its absence is an error."""
    if ctx.data_access is None:
        raise SpecError("data services need Context.data_access (S3 endpoint, credentials, cube locations)")
    return ctx.data_access


def specs(ctx: Context) -> list[ServiceSpec]:
    cfg = ctx.config.data
    if not cfg.enabled:
        return []
    engine = ctx.image("cube-engine", cfg.cube_engine_image)
    stateful = (ctx.placement.data_home,)
    scheduler = "tcp://dask-scheduler:8786"
    access = storage(ctx)
    out = [
        ServiceSpec(
            name="dask-scheduler",
            image=engine,
            networks=("data", "edge"),
            constraints=(DATA,),
            command=(
                "dask",
                "scheduler",
                "--port",
                "8786",
                "--dashboard-address",
                ":8787",
                "--dashboard-prefix",
                "/dask",
            ),
            env=access.env(),
            secrets=access.secrets(),
            secret_uid=PROJECT_IMAGE_UID,
            resources=Resources(1.0, 2048, 0.1, 512),
            healthcheck=python_http_check("http://127.0.0.1:8787/dask/health"),
            route=HttpRoute("/dask", 8787, protected=True, roles=USER_MODULE),
            workload="user",
            homepage=HomepageEntry(
                "Dask dashboard",
                f"The cluster behind cube-engine gen --scheduler {scheduler}.",
                "DK",
                "data",
                status_path="/dask/health",
                link_suffix="status",
            ),
        ),
        *hub.specs(
            ctx,
            engine,
            {
                "DASK_SCHEDULER_ADDRESS": scheduler,
                "DEEPCUBE_S3_CONTAINERS": access.container_uris(),
                **access.env(),
                **hopsworks_env(ctx),
            },
            access,
        ),
        ServiceSpec(
            name="postgis",
            image=cfg.postgis_image,
            networks=("data",),
            constraints=stateful,
            env={
                "POSTGRES_USER": DB_USER,
                "POSTGRES_DB": DB_NAME,
                "POSTGRES_PASSWORD_FILE": f"/run/secrets/{POSTGIS_SECRET.target}",
            },
            secrets=(POSTGIS_SECRET,),
            args=("postgres", *server_flags(BULK_LOAD_SETTINGS)),
            mounts=(Mount(ctx.volume("postgis-data"), "/var/lib/postgresql/data"),),
            resources=Resources(2.0, 4096, 0.25, 1024),
            healthcheck=Healthcheck(("CMD-SHELL", f"pg_isready -U {DB_USER} -d {DB_NAME}")),
            update=STOP_FIRST,
        ),
    ]
    if cfg.dask_workers:
        out.insert(
            1,
            ServiceSpec(
                name="dask-worker",
                image=engine,
                replicas=cfg.dask_workers,
                networks=("data",),
                constraints=(DATA,),
                command=(
                    "dask",
                    "worker",
                    scheduler,
                    "--nthreads",
                    str(cfg.dask_worker_threads),
                    "--memory-limit",
                    f"{cfg.dask_worker_memory_mb}MiB",
                    "--dashboard-address",
                    ":8788",
                ),
                env={**access.env(), **hopsworks_env(ctx)},
                secrets=access.secrets(),
                secret_uid=PROJECT_IMAGE_UID,
                mounts=access.mounts(),
                resources=Resources(float(cfg.dask_worker_threads), cfg.dask_worker_memory_mb, 0.25, 512),
                healthcheck=python_http_check("http://127.0.0.1:8788/health"),
                workload="user",
                after=("dask-scheduler",),
            ),
        )
    if not cfg.cubes:
        return out
    semantic = ctx.image("semantic", cfg.semantic_image)
    mapping_volume = ctx.volume("semantic-mapping")
    out.append(
        ServiceSpec(
            name="semantic-loader",
            image=semantic,
            mode="job",
            networks=("data",),
            constraints=stateful,
            command=("load-cubes",),
            env={
                "PGHOST": "postgis",
                "PGPORT": "5432",
                "PGUSER": DB_USER,
                "PGDATABASE": DB_NAME,
                "PGPASSWORD_FILE": f"/run/secrets/{POSTGIS_SECRET.target}",
                "MAPPING_DIR": MAPPING_DIR,
                "CUBES": " ".join(f"{cube.id}={access.cube_uri(cube.id)}" for cube in cfg.cubes),
                **access.env(),
            },
            secrets=(POSTGIS_SECRET, *access.secrets()),
            secret_uid=PROJECT_IMAGE_UID,
            mounts=(Mount(mapping_volume, MAPPING_DIR), *access.mounts()),
            resources=Resources(2.0, 4096, 0.25, 1024),
            no_healthcheck_reason="one-shot job: waits for PostGIS itself, exits when the cubes are loaded",
            after=("postgis",),
        )
    )
    for cube in cfg.cubes:
        name = ontop_name(cube.id)
        files = f"{MAPPING_DIR}/{cube.id}"
        out.append(
            ServiceSpec(
                name=name,
                image=cfg.ontop_image,
                networks=("data", "edge"),
                constraints=stateful,
                env={
                    "ONTOP_MAPPING_FILE": f"{files}/mapping.r2rml.ttl",
                    "ONTOP_ONTOLOGY_FILE": f"{files}/ontology.ttl",
                    "ONTOP_PROPERTIES_FILE": "/etc/ontop/ontop.properties",
                    "ONTOP_DB_PASSWORD_FILE": f"/run/secrets/{POSTGIS_SECRET.target}",
                    "ONTOP_CORS_ALLOWED_ORIGINS": "*",
                    "ONTOP_JAVA_ARGS": "-Xmx1g",
                },
                command=(
                    "/bin/bash",
                    "-c",
                    'until [ -s "$ONTOP_MAPPING_FILE" ]; do echo "waiting for the loader"; sleep 5; done; '
                    "exec /opt/ontop/entrypoint.sh",
                ),
                configs=(
                    ConfigFile(
                        "properties",
                        "/etc/ontop/ontop.properties",
                        render_ontop_properties("postgis", 5432, DB_NAME, DB_USER),
                    ),
                ),
                secrets=(POSTGIS_SECRET,),
                mounts=(Mount(mapping_volume, MAPPING_DIR, read_only=True),),
                resources=Resources(1.0, 1536, 0.1, 512),
                healthcheck=Healthcheck(
                    ("CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080"), start_period="120s"
                ),
                route=HttpRoute(
                    f"/ontop/{cube.id.replace('_', '-')}", 8080, protected=False, strip_prefix=True
                ),
                homepage=HomepageEntry(
                    f"SPARQL: {cube.id}",
                    f"GeoSPARQL endpoint over the cube {cube.id} (Ontop).",
                    "SQ",
                    "data",
                    link_suffix="sparql",
                ),
                after=("semantic-loader",),
            )
        )
    if cfg.sextant_image:
        first = ontop_name(cfg.cubes[0].id)
        out.append(
            ServiceSpec(
                name="sextant",
                image=cfg.sextant_image,
                networks=("data", "edge"),
                constraints=(DATA,),
                env={
                    "SPARQL_ENDPOINT": f"http://{first}:8080/sparql",
                    "PUBLIC_SPARQL_ENDPOINT": f"{ctx.base_url}/ontop/{first.removeprefix('ontop-')}/sparql",
                },
                resources=Resources(1.0, 1024, 0.1, 256),
                no_healthcheck_reason="third-party image whose contents are not fixed here; add one with it",
                route=HttpRoute("/sextant", 8080, protected=True, strip_prefix=True, roles=USER_MODULE),
                homepage=HomepageEntry(
                    "Sextant", "Maps and timelines over the GeoSPARQL endpoint.", "SX", "data"
                ),
                after=(first,),
            )
        )
    return out
