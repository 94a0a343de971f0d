"""Identity: ORY Kratos (accounts, sessions), the gatekeeper (the gateway's role check) and Hydra
(OAuth2/OIDC).

Kratos and Hydra share one PostgreSQL. Schema migrations are one-shot jobs ordered after the database
by Pulumi and, because Swarm ignores ordering, each job also waits for the database port before
migrating. Every identity service lives on the `identity` network only: Kratos' admin API (4434),
Hydra's (4445) and the database answer there, and no user workload joins it; the gateway joins it
to reach the public APIs, the login UI and the gatekeeper.

The SMTP connection URI (it may carry a password) is a Pulumi secret handed to Kratos as a Docker
secret and exported into its environment at start, never written into a Swarm config or env value.

Single sign-on: Hydra is the platform's OpenID Connect provider, Kratos its login provider (Kratos'
native `oauth2_provider` integration) and `hydra-consent` its consent provider, which writes the
person's role into the tokens. `hydra-clients` registers every module's OAuth2 client (declared on
the module's spec) and the machine clients below, from the same values the modules are given.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from components.catalogue import gatekeeper
from components.catalogue.common import LINUX, Context, http_check, python_http_check, secret_env_script
from components.oidc import OidcClient, render_client_manifest
from components.render.hydra import CONFIG_PATH as HYDRA_CONFIG
from components.render.hydra import render_hydra, render_registration_script
from components.render.identity import SCHEMA_PATH, SMTP_URI_ENV, render_identity_schema, render_kratos
from components.roles import SCIENTIST
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
)

DB_SECRET = SecretFile("identity_db_password", "identity_db_password")
SMTP_SECRET = SecretFile("kratos_smtp_uri", "kratos_smtp_uri")
"""The SMTP connection URI, from the stack's `smtp_uri` Pulumi secret (see PlatformServicesArgs)."""
WAIT_FOR_DB = "until nc -z identity-db 5432; do echo waiting for identity-db; sleep 2; done; "

MACHINE_CLIENTS = (
    OidcClient(
        "ci",
        "CI and scripts",
        grant_types=("client_credentials",),
        scopes=("api",),
        role=SCIENTIST,
    ),
)
"""Machines that call the platform's APIs with the client-credentials flow (docs/services.md,
"Machine clients"); the gatekeeper counts their tokens with the role given here."""

CONSENT_SOURCE = Path(__file__).resolve().parents[2] / "docker" / "sso" / "consent.py"
CONSENT_TARGET = "/opt/sso/consent.py"
CONSENT_PORT = 4190
CONSENT_PATH = "/consent"
CLIENTS_DIR = "/etc/hydra-clients"


def consent_url(ctx: Context) -> str:
    """Where Hydra sends the browser for consent; the trailing slash matches the gateway's route
    block directly (a redirect to add it would drop the `consent_challenge` query)."""
    return f"{ctx.base_url}{CONSENT_PATH}/"


def _dsn(database: str) -> str:
    return (
        f"postgres://ory:$(cat /run/secrets/identity_db_password)@identity-db:5432/{database}?sslmode=disable"
    )


def specs(ctx: Context) -> list[ServiceSpec]:
    cfg = ctx.config.identity
    if not cfg.enabled:
        return []
    stateful = ctx.placement.data_home
    kratos_config = (
        ConfigFile(
            "kratos-yml",
            "/etc/config/kratos/kratos.yml",
            render_kratos(ctx.base_url, cfg.mail_from or f"no-reply@{ctx.config.domain}"),
        ),
        ConfigFile("identity-schema", SCHEMA_PATH, render_identity_schema()),
    )
    return [
        ServiceSpec(
            name="identity-db",
            image=cfg.postgres_image,
            networks=("identity",),
            constraints=(stateful,),
            env={
                "POSTGRES_USER": "ory",
                "POSTGRES_DB": "kratos",
                "POSTGRES_PASSWORD_FILE": "/run/secrets/identity_db_password",
            },
            secrets=(DB_SECRET,),
            configs=(
                ConfigFile(
                    "init-hydra", "/docker-entrypoint-initdb.d/10-hydra.sql", "CREATE DATABASE hydra;\n"
                ),
            ),
            mounts=(Mount(ctx.volume("identity-db"), "/var/lib/postgresql/data"),),
            resources=Resources(1.0, 1024, 0.1, 256),
            healthcheck=Healthcheck(("CMD-SHELL", "pg_isready -U ory -d kratos")),
            update=STOP_FIRST,
            exposes="admin-api",  # every account's credentials
        ),
        ServiceSpec(
            name="kratos-migrate",
            image=cfg.kratos_image,
            mode="job",
            networks=("identity",),
            constraints=(LINUX,),
            command=secret_env_script(
                {"DSN": _dsn("kratos")}, "kratos migrate sql -e --yes", before=WAIT_FOR_DB
            ),
            secrets=(DB_SECRET,),
            resources=Resources(0.5, 256),
            no_healthcheck_reason="one-shot job: Swarm restarts it on failure and it exits when migrated",
            after=("identity-db",),
        ),
        ServiceSpec(
            name="kratos",
            image=cfg.kratos_image,
            networks=("identity",),
            constraints=(LINUX,),
            command=secret_env_script(
                {
                    "DSN": _dsn("kratos"),
                    "SECRETS_COOKIE": "$(cat /run/secrets/kratos_cookie_secret)",
                    "SECRETS_CIPHER": "$(cat /run/secrets/kratos_cipher_secret)",
                    SMTP_URI_ENV: f"$(cat /run/secrets/{SMTP_SECRET.target})",
                },
                "kratos serve -c /etc/config/kratos/kratos.yml --watch-courier",
            ),
            configs=kratos_config,
            secrets=(
                DB_SECRET,
                SecretFile("kratos_cookie_secret", "kratos_cookie_secret"),
                SecretFile("kratos_cipher_secret", "kratos_cipher_secret"),
                SMTP_SECRET,
            ),
            resources=Resources(0.5, 256),
            healthcheck=http_check("http://127.0.0.1:4434/health/ready"),
            route=HttpRoute("/kratos", 4433, protected=False, strip_prefix=True),
            exposes="admin-api",  # 4434: create identities, set roles
            after=("kratos-migrate",),
        ),
        ServiceSpec(
            name="kratos-ui",
            image=cfg.kratos_ui_image,
            networks=("identity",),
            constraints=(LINUX,),
            env={
                "PORT": "3000",
                "KRATOS_PUBLIC_URL": "http://kratos:4433/",
                "KRATOS_ADMIN_URL": "http://kratos:4434/",
                "KRATOS_BROWSER_URL": f"{ctx.base_url}/kratos",
                "HYDRA_ADMIN_URL": "http://hydra:4445/",
                "CSRF_COOKIE_NAME": "deepcube_csrf",
            },
            command=secret_env_script(
                {
                    "COOKIE_SECRET": "$(cat /run/secrets/kratos_ui_cookie_secret)",
                    "CSRF_COOKIE_SECRET": "$(cat /run/secrets/kratos_ui_csrf_secret)",
                },
                "npm run serve",
            ),
            secrets=(
                SecretFile("kratos_ui_cookie_secret", "kratos_ui_cookie_secret"),
                SecretFile("kratos_ui_csrf_secret", "kratos_ui_csrf_secret"),
            ),
            resources=Resources(0.5, 256),
            healthcheck=Healthcheck(
                (
                    "CMD",
                    "node",
                    "-e",
                    "require('net').connect(3000,'127.0.0.1').on('connect',()=>process.exit(0))"
                    ".on('error',()=>process.exit(1))",
                )
            ),
            route=HttpRoute("/auth", 3000, protected=False, strip_prefix=True),
            homepage=HomepageEntry(
                "Account",
                "Sign in and manage your DeepCube account; accounts are given by an administrator.",
                "ID",
                "identity",
                link_suffix="login",
            ),
        ),
        ServiceSpec(
            name="hydra-migrate",
            image=cfg.hydra_image,
            mode="job",
            networks=("identity",),
            constraints=(LINUX,),
            command=secret_env_script(
                {"DSN": _dsn("hydra")}, "hydra migrate sql -e --yes", before=WAIT_FOR_DB
            ),
            secrets=(DB_SECRET,),
            resources=Resources(0.5, 256),
            no_healthcheck_reason="one-shot job: Swarm restarts it on failure and it exits when migrated",
            after=("identity-db",),
        ),
        ServiceSpec(
            name="hydra",
            image=cfg.hydra_image,
            networks=("identity",),
            constraints=(LINUX,),
            configs=(ConfigFile("hydra-yml", HYDRA_CONFIG, render_hydra(ctx.base_url, consent_url(ctx))),),
            command=secret_env_script(
                {"DSN": _dsn("hydra"), "SECRETS_SYSTEM": "$(cat /run/secrets/hydra_system_secret)"},
                f"hydra serve all -c {HYDRA_CONFIG}",
            ),
            secrets=(DB_SECRET, SecretFile("hydra_system_secret", "hydra_system_secret")),
            resources=Resources(0.5, 256),
            healthcheck=http_check("http://127.0.0.1:4445/health/ready"),
            route=HttpRoute("/oauth2", 4444, protected=False, strip_prefix=True),
            homepage=HomepageEntry(
                "OAuth2 / OpenID Connect",
                "Single sign-on for the platform's components (ORY Hydra).",
                "OA",
                "identity",
                status_path="/oauth2/health/alive",
                link_suffix=".well-known/openid-configuration",
            ),
            exposes="admin-api",  # 4445: OAuth2 clients, consent decisions
            after=("hydra-migrate",),
        ),
        ServiceSpec(
            name="hydra-consent",
            image=cfg.gatekeeper_image,
            networks=("identity",),
            constraints=(LINUX,),
            user=gatekeeper.NOBODY,
            command=("python", "-I", CONSENT_TARGET),
            env={
                "HYDRA_ADMIN_URL": "http://hydra:4445",
                "KRATOS_ADMIN_URL": "http://kratos:4434",
                "CONSENT_LISTEN": f"0.0.0.0:{CONSENT_PORT}",
            },
            configs=(ConfigFile("program", CONSENT_TARGET, CONSENT_SOURCE.read_text()),),
            resources=Resources(0.25, 64, 0.02, 24),
            healthcheck=python_http_check(f"http://127.0.0.1:{CONSENT_PORT}/health"),
            route=HttpRoute(CONSENT_PATH, CONSENT_PORT, protected=False),
            after=("hydra",),
        ),
        gatekeeper.spec(ctx, MACHINE_CLIENTS),
    ]


def module_clients(specs: Sequence[ServiceSpec]) -> list[OidcClient]:
    """The sign-in clients the modules declare, in catalogue order."""
    return [s.oidc_client for s in specs if s.oidc_client is not None]


def clients_job(ctx: Context, modules: Sequence[ServiceSpec]) -> list[ServiceSpec]:
    """`hydra-clients`: registers every module's client and the machine clients in Hydra.

    Built after the other groups (from their specs); re-run by Swarm whenever its configs change,
    i.e. whenever a client, a redirect URI or a secret's name changes.
    """
    cfg = ctx.config.identity
    if not cfg.enabled:
        return []
    clients = [*module_clients(modules), *MACHINE_CLIENTS]
    return [
        ServiceSpec(
            name="hydra-clients",
            image=cfg.hydra_image,
            mode="job",
            networks=("identity",),
            constraints=(LINUX,),
            command=("/bin/sh", f"{CLIENTS_DIR}/register.sh"),
            configs=(
                ConfigFile(
                    "clients-json",
                    f"{CLIENTS_DIR}/clients.json",
                    render_client_manifest(clients, ctx.base_url),
                ),
                ConfigFile(
                    "register-sh",
                    f"{CLIENTS_DIR}/register.sh",
                    render_registration_script(clients, ctx.base_url),
                ),
            ),
            secrets=tuple(SecretFile(c.secret_key, c.secret_key) for c in clients),
            resources=Resources(0.25, 128),
            no_healthcheck_reason="one-shot job: waits for Hydra itself, exits once every client is in",
            after=("hydra",),
        )
    ]
