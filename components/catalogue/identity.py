"""Identity: ORY Kratos (accounts, sessions), the gatekeeper (the gateway's role check) and Hydra
(OAuth2/OIDC).

Kratos and Hydra share one PostgreSQL. Schema migrations are one-shot jobs ordered after the database
by Pulumi and, because Swarm ignores ordering, each job also waits for the database port before
migrating. Every identity service lives on the `identity` network only: Kratos' admin API (4434),
Hydra's (4445) and the database answer there, and no user workload joins it; the gateway joins it
to reach the public APIs, the login UI and the gatekeeper.

The SMTP connection URI (it may carry a password) is a Pulumi secret handed to Kratos as a Docker
secret and exported into its environment at start, never written into a Swarm config or env value.
"""

from __future__ import annotations

from components.catalogue import gatekeeper
from components.catalogue.common import LINUX, Context, http_check, secret_env_script
from components.render.identity import SCHEMA_PATH, SMTP_URI_ENV, render_identity_schema, render_kratos
from components.service import (
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
            env={
                "URLS_SELF_ISSUER": f"{ctx.base_url}/oauth2/",
                "URLS_LOGIN": f"{ctx.base_url}/auth/login",
                "URLS_CONSENT": f"{ctx.base_url}/auth/consent",
                "URLS_LOGOUT": f"{ctx.base_url}/auth/logout",
                "SERVE_COOKIES_SAME_SITE_MODE": "Lax",
                "LOG_FORMAT": "json",
            },
            command=secret_env_script(
                {"DSN": _dsn("hydra"), "SECRETS_SYSTEM": "$(cat /run/secrets/hydra_system_secret)"},
                "hydra serve all",
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
        gatekeeper.spec(ctx),
    ]
