"""The plan's docker records as the box sees them, read without translating.

Which record is which (the pulumi-docker resource types), the stand-in id the offline plan gave each
record, and what a service record declares: its image, endpoint mode, placement constraints and
catalogue name. The run, its report and its provisioning ask these questions of many records and
must not need the translations to Engine API specs (`object_specs`, `service_spec`) to do so.
"""

from __future__ import annotations

from infra.invariants.topology import DOCKER_CONFIG, DOCKER_NETWORK, DOCKER_SECRET, DOCKER_SERVICE
from infra.manifest import ResourceRecord
from infra.mock_engine import stable_token

NETWORK_TYPE = DOCKER_NETWORK
SECRET_TYPE = DOCKER_SECRET
CONFIG_TYPE = DOCKER_CONFIG
SERVICE_TYPE = DOCKER_SERVICE
IMAGE_TYPE = "docker:index/image:Image"
SWARM_TYPES = (NETWORK_TYPE, SECRET_TYPE, CONFIG_TYPE, SERVICE_TYPE)


def mock_id(record: ResourceRecord) -> str:
    """The id the offline plan gave this record (`infra.mock_engine.PlanMocks.new_resource`)."""
    return f"{record.name}-{stable_token(record.type, record.name)}"


def labels(items: list[dict[str, str]] | None) -> dict[str, str]:
    """pulumi-docker's `[{label, value}]` -> the Engine API's label map."""
    return {item["label"]: item["value"] for item in items or []}


def declared_endpoint_mode(record: ResourceRecord) -> str:
    """The endpoint mode the record declares (Swarm's default is `vip`)."""
    return str((record.inputs.get("endpointSpec") or {}).get("mode") or "vip")


def declared_image(record: ResourceRecord) -> str:
    return str(record.inputs["taskSpec"]["containerSpec"]["image"])


def short_name(record: ResourceRecord) -> str:
    """The catalogue name of a service record (its `deepcube.service` label, else its Swarm name)."""
    return labels(record.inputs.get("labels")).get("deepcube.service") or str(record.inputs["name"])


def declared_constraints(record: ResourceRecord) -> list[str]:
    """The placement constraints a Service record declares."""
    return list(((record.inputs.get("taskSpec") or {}).get("placement") or {}).get("constraints") or [])
