"""What the stack config's errors have of their own: the exception and the keys that moved.

The wording is the platform's one form (`deepcube.config_errors`); here is only what belongs to
the stack config: its `ConfigError`, raised before any resource is declared, and `MOVED_KEYS`, so
a stack file still using an old key is told where the value goes now instead of only that the
key is unknown.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A stack config value is missing or invalid; the message names the YAML key."""


MOVED_KEYS = {
    "cloud.s3_endpoint": "cloud.object_storage.endpoint",
    "cloud.storage_region": "cloud.object_storage.region",
    "cloud.s3_region": "cloud.object_storage.signing_region",
}
"""Keys that moved (old dotted key -> where it lives now)."""
