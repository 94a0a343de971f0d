"""The roles a platform account can hold, and which modules each role opens.

A role lives in the Kratos identity's `metadata_public.role`: only Kratos' admin API can write it
(users edit their traits, never their metadata), so a user cannot promote themselves. The gateway
asks the gatekeeper for every protected route, naming the roles that may open it; the gatekeeper
reads the role from the session and answers 2xx, 401 (no session) or 403 (role not allowed).
"""

from __future__ import annotations

import re

ADMIN = "admin"
"""Operates the platform: Portainer, Grafana, Prometheus, the logs, and every scientist module."""
SCIENTIST = "scientist"
"""Works with data: JupyterLab (runs code), Dask, Sextant, the social-media API."""

ROLES = (ADMIN, SCIENTIST)
"""Every role the platform knows; a route naming another role is a spec error."""

ADMIN_ONLY = (ADMIN,)
"""Roles of an admin module (anything that can read every log or steer the swarm)."""
USER_MODULE = (ADMIN, SCIENTIST)
"""Roles of a module for scientists (administrators open it too)."""

ROLE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
"""What a role name looks like: it travels in a URL path segment between the gateway and gatekeeper."""


def unknown_roles(roles: tuple[str, ...]) -> list[str]:
    """The names in `roles` that are not platform roles (empty when all are known)."""
    return [role for role in roles if role not in ROLES]
