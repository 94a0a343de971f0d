"""`images-pinned`: Docker images name a tag other than `latest` or a digest."""

from __future__ import annotations

from typing import Any

from infra.manifest import UNKNOWN, ResourceRecord, is_secret
from infra.policy_model import PolicyContext, Violation
from infra.rules.records import DOCKER_CONTAINER, DOCKER_REMOTE_IMAGE, DOCKER_SERVICE


def image_is_pinned(reference: str) -> bool:
    """`repo@sha256:...` or `repo:tag` with a tag other than `latest`."""
    if "@" in reference:
        return reference.split("@", 1)[1].startswith("sha256:")
    last = reference.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    return last.rsplit(":", 1)[1] not in ("", "latest")


def _image_references(record: ResourceRecord) -> list[tuple[str, Any]]:
    if record.type == DOCKER_SERVICE:
        spec = (record.inputs.get("taskSpec") or {}).get("containerSpec") or {}
        return [("taskSpec.containerSpec.image", spec.get("image"))]
    if record.type == DOCKER_CONTAINER:
        return [("image", record.inputs.get("image"))]
    if record.type == DOCKER_REMOTE_IMAGE:
        return [("name", record.inputs.get("name"))]
    return []


def images_pinned(record: ResourceRecord, ctx: PolicyContext) -> list[Violation]:
    """Docker images carry a tag other than `latest` or a digest, so a redeploy is reproducible.

    OpenStack images are chosen by name per cloud and are not checked. Computed references
    (e.g. another resource's digest) are unknown offline and are trusted.
    """
    violations = []
    for key, value in _image_references(record):
        if not isinstance(value, str) or value == UNKNOWN or is_secret(value):
            continue
        if not image_is_pinned(value):
            violations.append(Violation("images-pinned", record.urn, f"{key} {value!r} is not pinned"))
    return violations
