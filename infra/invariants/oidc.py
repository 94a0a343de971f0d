"""Single sign-on invariant `oidc-clients`, read from the plan as it will run.

A module signs people in with the platform's OpenID Connect provider only if three things meet: the
module is configured with a client id and secret, Hydra has that client registered with a redirect
URI the browser will actually come back to, and both sides hold the same secret. Each side looks
fine alone, so the policy checks where they meet:
- every service labelled `deepcube.oidc.client=<id>` has exactly one client `<id>` in the
  registration job's manifest (`clients.json` of `hydra-clients`), and no client is declared twice;
- the manifest's issuer and every redirect URI (sign-in and post-logout) are `https://` on a site
  the gateway serves;
- every client's secret file is a Docker secret (its value a Pulumi secret) mounted into the
  registration job, and for a module's client into the module too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from components.service_spec import OIDC_CLIENT_LABEL
from infra.invariants.access import config_text
from infra.invariants.topology import (
    DOCKER_CONFIG,
    DOCKER_SECRET,
    SwarmServiceView,
    caddy_sites,
    read_topology,
)
from infra.manifest import ResourceRecord
from infra.policy_model import PolicyContext, Violation

POLICY = "oidc-clients"
JOB = "hydra-clients"
MANIFEST_KEY = "clients-json"


def client_manifests(records: Sequence[ResourceRecord]) -> list[tuple[ResourceRecord, dict[str, Any]]]:
    """The registration job's `clients.json` configs, parsed (unreadable ones are skipped)."""
    found = []
    for record in records:
        if record.type == DOCKER_CONFIG and record.name.endswith(f"-{JOB}-config-{MANIFEST_KEY}"):
            try:
                found.append((record, json.loads(config_text(record) or "")))
            except ValueError:
                continue
    return found


def _mounted_secrets(service: SwarmServiceView, by_name: Mapping[str, ResourceRecord]) -> dict[str, bool]:
    """File name under /run/secrets -> whether the Docker secret behind it holds a Pulumi secret."""
    container = (service.record.inputs.get("taskSpec") or {}).get("containerSpec") or {}
    files = [str(s.get("fileName")) for s in container.get("secrets") or [] if isinstance(s, Mapping)]
    out = {}
    for file in files:
        suffix = "-secret-" + file.rsplit("/", 1)[-1].replace("_", "-")
        records = [by_name[name] for name in service.secrets if name.endswith(suffix) and name in by_name]
        out[file.rsplit("/", 1)[-1]] = any("data" in r.secret_inputs for r in records)
    return out


def _on_site(url: str, sites: set[str]) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and parts.hostname in sites


def oidc_clients(records: Sequence[ResourceRecord], ctx: PolicyContext) -> list[Violation]:
    """Modules and Hydra agree on every client: one registration each, redirects on the site, secret
    secrets mounted on both sides."""
    services = read_topology(records).services
    modules = [s for s in services if OIDC_CLIENT_LABEL in s.labels]
    manifests = client_manifests(records)
    if not manifests:
        return [
            Violation(
                POLICY,
                m.urn,
                f"{m.name} signs in with client {m.labels[OIDC_CLIENT_LABEL]!r}, "
                "but no registration job declares any client",
            )
            for m in modules
        ]
    by_name = {r.name: r for r in records if r.type == DOCKER_SECRET}
    sites = caddy_sites(records)
    jobs = [s for s in services if s.name == JOB]
    violations = []
    for record, manifest in manifests:
        clients = [c for c in manifest.get("clients") or [] if isinstance(c, dict)]
        ids = [str(c.get("client_id")) for c in clients]
        for twice in sorted({i for i in ids if ids.count(i) > 1}):
            violations.append(
                Violation(POLICY, record.urn, f"client {twice!r} is registered {ids.count(twice)} times")
            )
        issuer = str(manifest.get("issuer", ""))
        if not (_on_site(issuer, sites) and urlsplit(issuer).path == "/oauth2/"):
            violations.append(
                Violation(POLICY, record.urn, f"issuer {issuer!r} is not https://<site>/oauth2/")
            )
        job_secrets = _mounted_secrets(jobs[0], by_name) if jobs else {}
        for client in clients:
            cid = client.get("client_id")
            for uri in [
                *(client.get("redirect_uris") or []),
                *(client.get("post_logout_redirect_uris") or []),
            ]:
                if not _on_site(str(uri), sites):
                    message = f"client {cid!r} redirects to {uri!r}, not https:// on {sorted(sites)}"
                    violations.append(Violation(POLICY, record.urn, message))
            key = str(client.get("secret_file", "")).rsplit("/", 1)[-1]
            if job_secrets.get(key) is not True:
                message = f"client {cid!r}: secret {key!r} is not a Docker secret of the {JOB} job"
                violations.append(Violation(POLICY, record.urn, message))
    registered = [
        (str(c.get("client_id")), str(c.get("secret_file", "")).rsplit("/", 1)[-1])
        for _, manifest in manifests
        for c in manifest.get("clients") or []
        if isinstance(c, dict)
    ]
    for module in modules:
        cid = module.labels[OIDC_CLIENT_LABEL]
        matches = [key for client, key in registered if client == cid]
        if len(matches) != 1:
            message = f"{module.name} signs in with client {cid!r}, registered {len(matches)} times (want 1)"
            violations.append(Violation(POLICY, module.urn, message))
            continue
        if _mounted_secrets(module, by_name).get(matches[0]) is not True:
            message = f"{module.name}: client secret {matches[0]!r} is not mounted as a Docker secret"
            violations.append(Violation(POLICY, module.urn, message))
    return violations
