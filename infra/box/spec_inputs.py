"""Reading pulumi-docker's inputs strictly: what every translation to an Engine API spec shares.

The records carry pulumi-docker's inputs in their wire names (`taskSpec.containerSpec.mounts[]`,
`endpointSpec.ports[].publishMode`, Go duration strings...). A field a translation does not take
raises `SpecError` instead of being dropped (`Fields.done`): a service the box starts must be the
service the program declares, so a new input must be translated before the box can apply it.

References between records (a service's network, config and secret ids) are offline stand-in ids:
`Refs` resolves them to the records they name (checked against the service's recorded dependencies)
and from there to the ids Docker gave the objects the box created for those records.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.box.records import SWARM_TYPES, mock_id
from infra.manifest import ResourceRecord

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}


class SpecError(ValueError):
    """A record cannot be translated faithfully; the message names the record and the field."""


def go_duration_ns(text: str, *, where: str = "duration") -> int:
    """A Go duration string (`30s`, `1m30s`, `0s`) in nanoseconds, as the Engine API wants it."""
    if text in ("0", ""):
        return 0
    pos = 0
    total = 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_NS[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        raise SpecError(f"{where}: {text!r} is not a duration like 30s or 1m30s")
    return round(total)


@dataclass(frozen=True)
class Created:
    """A swarm object the box created for a plan record."""

    urn: str
    id: str
    name: str


class Refs:
    """Resolves the plan's stand-in ids to the objects created for them, checking dependencies."""

    def __init__(self, records: list[ResourceRecord], created: Mapping[str, Created]) -> None:
        self._by_mock_id = {mock_id(r): r for r in records if r.type in SWARM_TYPES}
        self._created = created

    def resolve(self, service: ResourceRecord, ref: str, type_: str, where: str) -> Created:
        """The created object behind the stand-in id `ref` that `service` names at `where`."""
        record = self._by_mock_id.get(ref)
        if record is None or record.type != type_:
            raise SpecError(f"{service.name}: {where} names {ref!r}, which is no {type_} of the plan")
        if record.urn not in service.dependencies:
            raise SpecError(f"{service.name}: {where} names {record.name} without depending on it")
        created = self._created.get(record.urn)
        if created is None:
            raise SpecError(f"{service.name}: {where} names {record.name}, which the box has not created")
        return created


class Fields:
    """One input object being translated: every key must be taken, leftovers are errors."""

    def __init__(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise SpecError(f"{where}: expected an object, found {value!r}")
        self.value = value
        self.where = where
        self.taken: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.taken.add(key)
        return self.value.get(key, default)

    def require(self, key: str) -> Any:
        self.taken.add(key)
        if key not in self.value:
            raise SpecError(f"{self.where}.{key} is required")
        return self.value[key]

    def done(self) -> None:
        left = sorted(set(self.value) - self.taken)
        if left:
            raise SpecError(f"{self.where}: {', '.join(left)} not translated by the box")


def put(target: dict[str, Any], key: str, value: Any) -> None:
    """Sets `key` only to a value that says something: an absent or empty input stays unset."""
    if value is not None and value != [] and value != {}:
        target[key] = value


def put_durations(f: Fields, target: dict[str, Any], keys: tuple[tuple[str, str], ...]) -> None:
    """Each Go duration `f` sets among `keys` (input name, Engine API name), in nanoseconds."""
    for key, api in keys:
        if (text := f.get(key)) is not None:
            target[api] = go_duration_ns(text, where=f"{f.where}.{key}")
