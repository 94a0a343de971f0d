"""Networks, configs and secrets: their plan records -> what the Engine API creates them from.

One to one and nothing else (pure functions), read through `Fields` so that an input the box does
not translate is an error, not a silently different object. A config's or secret's data is handed
to Docker separately; here its name is taken, and a config is checked to carry no secret data.
"""

from __future__ import annotations

from typing import Any

from infra.box.records import CONFIG_TYPE, labels
from infra.box.spec_inputs import Fields, SpecError, put
from infra.manifest import ResourceRecord, is_secret


def network_spec(record: ResourceRecord) -> dict[str, Any]:
    """Keyword arguments of `APIClient.create_network` for a Network record."""
    f = Fields(record.inputs, record.name)
    spec: dict[str, Any] = {"name": f.require("name"), "driver": f.get("driver", "bridge")}
    spec["attachable"] = bool(f.get("attachable", False))
    spec["internal"] = bool(f.get("internal", False))
    spec["labels"] = labels(f.get("labels"))
    put(spec, "options", f.get("options"))
    spec["check_duplicate"] = True
    f.done()
    return spec


def object_name(record: ResourceRecord) -> str:
    """The Swarm name of a config or secret record; its data is created separately."""
    f = Fields(record.inputs, record.name)
    name = f.require("name")
    data = f.require("data")
    f.get("labels")
    f.done()
    if record.type == CONFIG_TYPE and is_secret(data):
        raise SpecError(f"{record.name}: a config with secret data should be a secret")
    return name
